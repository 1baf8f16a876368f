"""The validators shared by the training config records: one-line ``ConfigError``s naming the key and the fix."""

from __future__ import annotations

import math
from typing import Any

from pdd_core.errors import ConfigError, bad_argument


def config_error(name: str, value: Any, problem: str, fix: str) -> ConfigError:
    return bad_argument(name, value, problem, fix, kind=ConfigError)


def check_integer(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise config_error(name, value, f"must be an integer >= {minimum}", f"set {name} to an integer >= {minimum}")


def check_real(name: str, value: Any, *, positive: bool = False, at_most: float | None = None) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (value > 0 if positive else value >= 0)
    if ok and at_most is not None:
        ok = value <= at_most
    if not ok:
        bound = "> 0" if positive else ">= 0"
        limit = f" and <= {at_most}" if at_most is not None else ""
        raise config_error(name, value, f"must be a finite number {bound}{limit}", f"set {name} {bound}{limit}")
