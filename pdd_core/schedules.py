"""λ grids for reverse-λ sampling. Schedules are data: a decreasing 1-d float64 tensor."""

from __future__ import annotations

import torch

from pdd_core.errors import ShapeError, bad_argument


def _check(lam_start: float, lam_end: float, steps: int) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise bad_argument("steps", steps, "must be an integer >= 1", "pass e.g. steps=1000 (PDD B.3)")
    if not (0.0 <= lam_end < lam_start < float("inf")):
        raise bad_argument("lam_start", lam_start, f"need 0 <= lam_end ({lam_end}) < lam_start", "integrate from large λ down to small λ")


def uniform_grid(lam_start: float = 1.0, lam_end: float = 0.0, steps: int = 1000) -> torch.Tensor:
    """``steps + 1`` equally spaced λs from λ_start down to λ_end (PDD B.3: 1000 steps on [0, 1])."""
    _check(lam_start, lam_end, steps)
    return torch.linspace(lam_start, lam_end, steps + 1, dtype=torch.float64)


def power_grid(lam_start: float = 1.0, lam_end: float = 0.0, steps: int = 100, power: float = 2.0) -> torch.Tensor:
    """λ_i = (λ_start^{1/ρ} + i/K (λ_end^{1/ρ} - λ_start^{1/ρ}))^ρ: denser near λ_end for ρ > 1.

    ρ = 2 is uniform in sqrt(λ), i.e. in the cutoff wavelength 2π sqrt(αλ) (PDD A.2), so each
    step resolves a similar band of scales.
    """
    _check(lam_start, lam_end, steps)
    if not power > 0:
        raise bad_argument("power", power, "must be > 0", "use power=2 (uniform in the cutoff length)")
    ramp = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    start, end = lam_start ** (1 / power), lam_end ** (1 / power)
    grid = (start + ramp * (end - start)) ** power
    grid[0], grid[-1] = lam_start, lam_end
    return grid


def check_grid(lam_grid: torch.Tensor) -> torch.Tensor:
    """Require a strictly decreasing, finite, non-negative 1-d grid with >= 2 points."""
    grid = torch.as_tensor(lam_grid, dtype=torch.float64)
    if grid.ndim != 1 or grid.numel() < 2:
        raise bad_argument("lam_grid.shape", tuple(grid.shape), "expected a 1-d grid with at least 2 λs", "use uniform_grid(...) or power_grid(...)", kind=ShapeError)
    if not bool(torch.isfinite(grid).all()) or bool((grid < 0).any()) or bool((grid[1:] >= grid[:-1]).any()):
        raise bad_argument("lam_grid", grid.tolist()[:5], "must be finite, >= 0 and strictly decreasing", "integrate from λ_max down to λ_min")
    return grid
