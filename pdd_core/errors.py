"""The project's errors: every message names the bad argument, its value and the fix.

Each class also derives from the matching built-in (``ValueError``, ``TypeError``) so
callers that already catch those keep working.
"""

from __future__ import annotations

from typing import Any


class PDDError(Exception):
    """Base class of every error pdd raises on purpose."""


class ArgumentError(PDDError, ValueError):
    """An argument has a value outside its domain (negative λ, NaN, α <= 0, ...)."""


class ShapeError(PDDError, ValueError):
    """A tensor has the wrong number of axes or the wrong size along one."""


class DTypeError(PDDError, TypeError):
    """A tensor or array has an unsupported dtype."""


class ConfigError(PDDError, ValueError):
    """A configuration record could not be structured or names an unknown component."""


class DivergenceError(ArgumentError):
    """A rollout left its energy band or turned NaN; ``step`` is the step where it happened (None if unknown)."""

    step: int | None = None


class DataError(PDDError, ValueError):
    """A data file is missing, truncated, foreign or inconsistent."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def bad_argument(name: str, value: Any, problem: str, fix: str, *, kind: type[PDDError] = ArgumentError) -> PDDError:
    """Build an error whose message reads ``name=value: problem. Fix: fix``."""
    return kind(f"{name}={_short(value)}: {problem}. Fix: {fix}")
