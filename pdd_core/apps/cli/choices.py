"""The names the command line offers for parts of the library: the only place these strings become objects."""

from __future__ import annotations

from typing import Any

from pdd_core.apps.inference.runs import NOISE_HEAD, PATH_SCORE, PATH_SCORE_PER_MODE, PATH_SCORE_PER_MODE_WITH_INITIAL
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.sampling import extrapolate_t0, no_boundary
from pdd_core.schedules import power_schedule, uniform_schedule

# --score: None lets the run choose as it was trained (run_score's default).
SCORE_KINDS = {"auto": None, "path": PATH_SCORE, "path-per-mode": PATH_SCORE_PER_MODE, "path-per-mode-r": PATH_SCORE_PER_MODE_WITH_INITIAL, "noise": NOISE_HEAD}
# --boundary: None extrapolates for path scores without r_λ when T >= 3 (run_boundary's default).
BOUNDARIES = {"auto": None, "extrapolate": extrapolate_t0, "none": no_boundary}
# --grid: the decreasing λ schedule of the reverse-λ samplers.
LAMBDA_SCHEDULES = {"uniform": uniform_schedule, "power": power_schedule}



def choose(table: dict[str, Any], flag: str, name: str, what: str) -> Any:
    """The object ``table`` names ``name``; a one-line error naming ``flag`` and the choices otherwise."""
    if name not in table:
        raise bad_argument(flag, name, f"unknown {what}", f"use one of {list(table)}", kind=ConfigError)
    return table[name]


__all__ = ["BOUNDARIES", "LAMBDA_SCHEDULES", "SCORE_KINDS", "choose"]
