"""A Gaussian model of the initial density r_λ of the path density (PDD Eq. 36, B.6).

The paper leaves r_λ out and overwrites u(t0) by extrapolation after every step (B.6). Then
the first frame has no restoring force of its own while the reverse flow (Eq. 11)
anti-diffuses it at rate κ(k, λ): with a learned drift reverse-λ generation can grow from
the first frames (docs/results.md, "Sampler comparison"). This models r_λ per Fourier mode
as the marginal of a stationary Gaussian field coarse-grained by the scheme (Eq. 3):

    û_λ(t0, k) ~ N(C̃_λ(k) μ(k), C̃_λ(k)² (G(k) - |μ(k)|²) + Σ̃_λ(k)),   G(k) = E|û0(k)|²

of the (standardised) data, μ = rfft(ū) its mean field (zero unless given; a forcing pins one, as
Kolmogorov flow's does), exact when the data are Gaussian. Its precision is at most 1/Σ̃_λ(k), and b²/Σ̃_λ ≥ 2κ, so on
modes the coarse-graining noise dominates the reverse flow contracts u(t0). Σ̃_λ is floored
at Σ̃_Δλ as in A.7 (and :func:`~pdd_core.score.path_density.increment_variance`): data can
have no power on a mode (the Lorenz-96 X channel at |k| = 32, 64), and at λ -> 0 the
variance would vanish there; the floor keeps the precision within that of the transitions.
"""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.score.mean_field import check_mean_field, coarse_mean, mean_power
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA
from pdd_core.spectral import rfft

# Training paths whose mean power spectrum defines G(k): a few % error in G barely moves C̃²G + Σ̃.
POWER_PATHS = 64


def data_power(u: torch.Tensor, grid: Grid) -> torch.Tensor:
    """G(k) = E|û(k)|² per channel over paths and frames, float64 ``[C, *rfft_shape]`` (orthonormal FFT)."""
    grid.check_field(u, "u")
    power = rfft(u.to(torch.float64), grid.ndim).abs().pow(2)
    return power.mean(dim=(0, 1))


def dataset_power(data, grid: Grid, paths: int = POWER_PATHS) -> torch.Tensor:
    """G(k) of the first ``paths`` items of a training dataset (``data[i] -> [T, C, *space]``, standardised).

    The trainer stores it in the checkpoint, so a run's r_λ does not need its training file.
    """
    return data_power(torch.stack([data[i] for i in range(min(paths, len(data)))]), grid)


def _check_power(instance, attribute, value) -> None:
    if not isinstance(value, torch.Tensor) or value.dtype != torch.float64 or value.ndim < 2:
        raise bad_argument("power", type(value).__name__, "must be a float64 tensor [C, *rfft_shape]", "build it with data_power(u, grid)", kind=ShapeError)
    if not bool(torch.isfinite(value).all()) or bool((value < 0).any()):
        raise bad_argument("power", "non-finite or negative entries", "a power spectrum is finite and >= 0", "compute it with data_power(u, grid) from finite data")


def _check_mean(instance, attribute, value) -> None:
    if value is not None:
        check_mean_field(value, instance.power.ndim - 1)


@attrs.frozen(eq=False)
class GaussianInitial:
    """r_λ(u(t0)) = Π_{k active} N(û(t0, k); C̃_λ μ, C̃_λ(k)² (G - |μ|²) + max(Σ̃_λ(k), Σ̃_Δλ(k))) per channel
    (``power`` = G the raw second moments, ``mean`` = ū ``[C, *space]``, None: 0).

    Modes the scheme excludes (PDD A.2) are left out: they never diffuse, so no reverse-λ
    sampler moves them and their density does not enter the score.
    """

    power: torch.Tensor = attrs.field(validator=_check_power)
    delta_lambda: float = DEFAULT_DELTA_LAMBDA
    mean: torch.Tensor | None = attrs.field(default=None, validator=_check_mean, kw_only=True)

    def variance(self, scheme, grid: Grid, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(C̃_λ² G + max(Σ̃_λ, Σ̃_Δλ) float64 ``[B, 1, C, *rfft]``, the scheme's active modes)."""
        if tuple(self.power.shape) != (grid.channels, *grid.rfft_shape):
            raise bad_argument(
                "power.shape", tuple(self.power.shape), f"expected [C, *rfft_shape] = {(grid.channels, *grid.rfft_shape)} of the grid", "compute it on the run's grid", kind=ShapeError
            )
        if self.mean is not None and tuple(self.mean.shape) != (grid.channels, *grid.shape):
            raise bad_argument("mean.shape", tuple(self.mean.shape), f"expected [C, *space] = {(grid.channels, *grid.shape)} of the grid", "compute it on the run's grid", kind=ShapeError)
        marginal = scheme.transition(grid, 0.0, lam.detach().cpu(), lam.shape[0])
        floor = scheme.transition(grid, 0.0, self.delta_lambda, lam.shape[0]).variance
        # G about the mean; clamped because G and ū may come from different samples of the data.
        centred = self.power if self.mean is None else (self.power - mean_power(self.mean, grid.ndim)).clamp_min(0)
        variance = marginal.damping.pow(2) * centred + torch.maximum(marginal.variance, floor)
        if bool(((variance <= 0) & marginal.active).any()):
            raise bad_argument("delta_lambda", self.delta_lambda, "C̃²G + Σ̃_Δλ vanishes on a mode the scheme diffuses, so r_λ is degenerate there", "use a larger delta_lambda")
        return variance, marginal.active

    def log_density(self, frame: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid) -> torch.Tensor:
        """log r_λ per path ``[B]`` of the first frame ``[B, 1, C, *space]``; differentiable in ``frame``."""
        variance, active = self.variance(scheme, grid, lam)
        variance = torch.where(active, variance, torch.ones(())).to(frame.device, frame.dtype)
        weight = (grid.mode_multiplicity(frame.dtype, frame.device) * active.to(frame.device)).to(frame.dtype)
        if self.mean is not None:
            frame = frame - coarse_mean(self.mean, scheme, grid, lam).to(frame.device, frame.dtype)
        per_mode = weight * (rfft(frame, grid.ndim).abs().pow(2) / variance + torch.log(2 * math.pi * variance))
        return -0.5 * per_mode.flatten(1).sum(1)
