"""The path density of the learned SDE (PDD Eqs. 7, 27-30, 35-36)."""

from __future__ import annotations

import math

import torch

from pdd_core.drifts.windows import drift_on_path
from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.records import Path
from pdd_core.spectral import rfft
from pdd_core.validation import as_lambda, check_field

DEFAULT_DELTA_LAMBDA = 1e-3
# How the increment noise of Eq. 35 is modelled: the paper's scalar σ_λ²Δt I (Eq. 58), or the
# per-mode covariance Σ̃_λ(k) that Eq. 58 averages (A.7 before the trace; an extension).
NOISE_MODELS = ("scalar", "per-mode")


def increment_variance(scheme, grid: Grid, lam: torch.Tensor, dt: float, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> torch.Tensor:
    """Per-mode variance of one increment's noise, max(Σ̃_λ(k), Σ̃_Δλ(k)), float64 ``[B, 1, 1, *rfft]``.

    A.7 matches the surrogate's conditional covariance to the irreducible Σ_λ of the next
    frame's coarse-graining noise (Eq. 56); Eq. 58 then keeps only its trace, σ_λ²Δt =
    tr(Σ_λ)/D. This keeps Σ_λ itself, floored mode by mode at Σ_Δλ as in A.7, so its trace
    average is exactly Eq. 58's σ_λ²Δt. Modes excluded from the diffusion (PDD A.2) have no
    Σ̃; they keep the scalar σ_λ²Δt of Eq. 58.
    """
    step = scheme.transition(grid, 0.0, lam)
    floor = scheme.transition(grid, 0.0, delta_lambda, lam.shape[0]).variance
    scalar = (scheme.sigma(grid, lam, dt, delta_lambda=delta_lambda) ** 2 * dt).reshape(-1, *([1] * (step.variance.ndim - 1)))
    return torch.where(step.active, torch.maximum(step.variance, floor), scalar)


def check_noise_model(noise_model: str) -> str:
    """``noise_model`` if it names one of :data:`NOISE_MODELS`, else a clear error."""
    if noise_model not in NOISE_MODELS:
        raise bad_argument("noise_model", noise_model, "unknown noise model of the path density", f"use one of {list(NOISE_MODELS)}")
    return noise_model


def increment_quadratic_form(
    residual: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA, noise_model: str = "scalar"
) -> torch.Tensor:
    """Σ_n r_nᵀ V_λ⁻¹ r_n per path ``[B]`` for increment residuals r_n = u_{n+1} - u_n - f_λ Δt.

    V_λ is the covariance of one increment's noise (Eq. 35): σ_λ²Δt I (Eq. 58) for
    ``scalar``, the diagonal Fourier covariance :func:`increment_variance` for ``per-mode``
    (Σ_k w_k |r̂_n(k)|² / Σ̃_λ(k) with the rfft multiplicities w_k: Parseval). This is the
    exponent of Eq. 36 (times -2) and, times Δx/2, the PDD loss of Eq. 9 (A.6).
    """
    check_noise_model(noise_model)
    if noise_model == "per-mode":
        variance = increment_variance(scheme, grid, lam, dt, delta_lambda=delta_lambda).to(residual.device, residual.dtype)
        multiplicity = grid.mode_multiplicity(residual.dtype, residual.device)
        return (multiplicity * rfft(residual, grid.ndim).abs().pow(2) / variance).flatten(1).sum(1)
    sigma2 = scheme.sigma(grid, lam, dt, delta_lambda=delta_lambda).to(residual.device, residual.dtype) ** 2
    return residual.pow(2).flatten(1).sum(1) / (sigma2 * dt)


def increment_log_normaliser(
    residual: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA, noise_model: str = "scalar"
) -> torch.Tensor:
    """log det(2π V_λ) summed over the increments of ``residual``, per path ``[B]`` (2 log Z_λ of Eq. 7)."""
    increments, channels = residual.shape[1], residual.shape[2]
    if check_noise_model(noise_model) == "per-mode":
        variance = increment_variance(scheme, grid, lam, dt, delta_lambda=delta_lambda).to(residual.device, residual.dtype)
        multiplicity = grid.mode_multiplicity(residual.dtype, residual.device)
        return increments * channels * (multiplicity * torch.log(2 * math.pi * variance)).flatten(1).sum(1)
    sigma2 = scheme.sigma(grid, lam, dt, delta_lambda=delta_lambda).to(residual.device, residual.dtype) ** 2
    return residual[0].numel() * torch.log(2 * math.pi * sigma2 * dt)


def log_density(
    u: torch.Tensor,
    lam: torch.Tensor,
    drift,
    scheme,
    grid: Grid,
    dt: float,
    *,
    delta_lambda: float = DEFAULT_DELTA_LAMBDA,
    noise_model: str = "scalar",
    initial=None,
) -> torch.Tensor:
    """log p_λ(u) per path ``[B]`` from the Euler-Maruyama transitions (PDD Eqs. 35-36).

        log p_λ = log r_λ(u(t0)) - Σ_n ‖u_{n+1} - u_n - f_λ(window_n) Δt‖² / (2σ_λ²Δt) - ½ D N_t log(2πσ_λ²Δt)

    with σ_λ from Eq. 58 (floored at Σ_Δλ, A.7) and D = C · Π N_i. The paper does not model
    the initial density r_λ (B.6): with ``initial=None`` the term is left out. ``initial`` is
    a model of it with ``log_density(frame, lam, scheme, grid)``, e.g. the Gaussian of
    :class:`~pdd_core.score.initial_density.GaussianInitial`; with zero padding (B.2) u(t0)
    is the whole initial window of Eq. 36. Differentiable in ``u`` and in the drift's parameters.

    ``noise_model="per-mode"`` replaces σ_λ²Δt I by the diagonal Fourier covariance of
    :func:`increment_variance` (Σ_k |r̂_n(k)|² / (2 Σ̃_λ(k)) per residual r_n). The scalar form
    gives a noise-dominated mode k the precision 1/(σ_λ²Δt) instead of 1/Σ̃_λ(k); where
    α|k|² > β²/(σ_λ²Δt) the reverse flow (Eq. 11) then grows that mode at a rate of about
    α|k|² − β²/(σ_λ²Δt) > 0, so reverse-λ sampling diverges (docs/results.md, "Sampler
    comparison"). The per-mode form has b²/Σ̃_λ ≥ 2κ and is stable for an accurate drift
    (tests/test_generation_stability.py); a drift that predicts u_{n+1} ≈ u_n on such a mode
    still makes it grow at ≈ α|k|².
    """
    check_field(u, grid, "u")
    check_noise_model(noise_model)
    lam = as_lambda(lam, u.shape[0], "lam", device=u.device)
    residual = u[:, 1:] - u[:, :-1] - drift_on_path(drift, u, lam) * dt
    options = {"delta_lambda": delta_lambda, "noise_model": noise_model}
    quadratic = increment_quadratic_form(residual, lam, scheme, grid, dt, **options)
    value = -0.5 * quadratic - 0.5 * increment_log_normaliser(residual, lam, scheme, grid, dt, **options)
    if initial is not None:
        value = value + initial.log_density(u[:, :1], lam, scheme, grid)
    return value


def path_log_density(path: Path, drift, scheme, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA, noise_model: str = "scalar", initial=None) -> torch.Tensor:
    """:func:`log_density` of a :class:`Path` record (its λ, Δt and grid)."""
    return log_density(path.u, path.lam, drift, scheme, path.grid, path.dt, delta_lambda=delta_lambda, noise_model=noise_model, initial=initial)
