"""λ schedules for reverse-λ sampling. Schedules are data: a decreasing 1-d float64 tensor."""

from __future__ import annotations

import torch

from pdd_core.errors import ShapeError, bad_argument


def _check(lam_start: float, lam_end: float, steps: int) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise bad_argument("steps", steps, "must be an integer >= 1", "pass e.g. steps=1000 (PDD B.3)")
    if not (0.0 <= lam_end < lam_start < float("inf")):
        raise bad_argument("lam_start", lam_start, f"need 0 <= lam_end ({lam_end}) < lam_start", "integrate from large λ down to small λ")


def uniform_schedule(lam_start: float = 1.0, lam_end: float = 0.0, steps: int = 1000) -> torch.Tensor:
    """``steps + 1`` equally spaced λs from λ_start down to λ_end (PDD B.3: 1000 steps on [0, 1])."""
    _check(lam_start, lam_end, steps)
    return torch.linspace(lam_start, lam_end, steps + 1, dtype=torch.float64)


def power_schedule(lam_start: float = 1.0, lam_end: float = 0.0, steps: int = 100, power: float = 2.0) -> torch.Tensor:
    """λ_i = (λ_start^{1/ρ} + i/K (λ_end^{1/ρ} - λ_start^{1/ρ}))^ρ: denser near λ_end for ρ > 1.

    ρ = 2 is uniform in sqrt(λ), i.e. in the cutoff wavelength 2π sqrt(αλ) (PDD A.2), so each
    step resolves a similar band of scales.
    """
    _check(lam_start, lam_end, steps)
    if not power > 0:
        raise bad_argument("power", power, "must be > 0", "use power=2 (uniform in the cutoff length)")
    ramp = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    start, end = lam_start ** (1 / power), lam_end ** (1 / power)
    schedule = (start + ramp * (end - start)) ** power
    schedule[0], schedule[-1] = lam_start, lam_end
    return schedule


def check_schedule(lam_schedule: torch.Tensor) -> torch.Tensor:
    """Require a strictly decreasing, finite, non-negative 1-d schedule with >= 2 points."""
    schedule = torch.as_tensor(lam_schedule, dtype=torch.float64)
    if schedule.ndim != 1 or schedule.numel() < 2:
        raise bad_argument("lam_schedule.shape", tuple(schedule.shape), "expected a 1-d schedule with at least 2 λs", "use uniform_schedule(...) or power_schedule(...)", kind=ShapeError)
    if not bool(torch.isfinite(schedule).all()) or bool((schedule < 0).any()) or bool((schedule[1:] >= schedule[:-1]).any()):
        raise bad_argument("lam_schedule", schedule.tolist()[:5], "must be finite, >= 0 and strictly decreasing", "integrate from λ_max down to λ_min")
    return schedule
