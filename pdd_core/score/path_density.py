"""The path density of the learned SDE (PDD Eqs. 7, 27-30, 35-36)."""

from __future__ import annotations

import math

import torch

from pdd_core.drifts.windows import drift_on_path
from pdd_core.grid import Grid
from pdd_core.records import Path
from pdd_core.validation import as_lambda, check_field

DEFAULT_DELTA_LAMBDA = 1e-3


def log_density(u: torch.Tensor, lam: torch.Tensor, drift, scheme, grid: Grid, dt: float, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> torch.Tensor:
    """log p_λ(u) per path ``[B]`` from the Euler-Maruyama transitions (PDD Eqs. 35-36).

        log p_λ = -Σ_n ‖u_{n+1} - u_n - f_λ(window_n) Δt‖² / (2σ_λ²Δt) - ½ D N_t log(2πσ_λ²Δt)

    with σ_λ from Eq. 58 (floored at Σ_Δλ, A.7) and D = C · Π N_i. The initial density r_λ is
    not modelled (B.6). Differentiable in ``u`` and in the drift's parameters.
    """
    check_field(u, grid, "u")
    lam = as_lambda(lam, u.shape[0], "lam", device=u.device)
    drift_values = drift_on_path(drift, u, lam)
    sigma2 = scheme.sigma(grid, lam, dt, delta_lambda=delta_lambda).to(u.dtype) ** 2
    residual = u[:, 1:] - u[:, :-1] - drift_values * dt
    squared = residual.pow(2).flatten(1).sum(1)
    dimension = residual[0].numel()
    return -squared / (2 * sigma2 * dt) - 0.5 * dimension * torch.log(2 * math.pi * sigma2 * dt)


def path_log_density(path: Path, drift, scheme, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> torch.Tensor:
    """:func:`log_density` of a :class:`Path` record (its λ, Δt and grid)."""
    return log_density(path.u, path.lam, drift, scheme, path.grid, path.dt, delta_lambda=delta_lambda)
