"""A small exact Gaussian path distribution (the linear field of systems/linear_field.py)."""

import torch

from pdd_core import Grid
from pdd_core.score import GaussianPathScore
from schemes import Carosso
from systems.linear_field import LinearGaussianField

GRID = Grid((8,))
FRAMES = 4
DT = 0.2


def toeplitz_covariance(grid: Grid = GRID, frames: int = FRAMES, nu: float = 0.5, gamma: float = 0.5, s: float = 1.0, dt: float = DT) -> torch.Tensor:
    """K_0(k)[i, j] = s²/(2r) e^{-r|i-j|Δt}, r = ν|k|² + γ: the stationary OU path covariance of the
    linear field, taken from its one definition (``LinearGaussianField.path_covariance``)."""
    field = LinearGaussianField(shape=grid.shape, length=grid.lengths[0], nu=nu, gamma=gamma, s=s, dt=dt, symbol=grid.symbol)
    return field.path_covariance(frames)


def gaussian_score(scheme=None) -> GaussianPathScore:
    return GaussianPathScore(toeplitz_covariance(), scheme or Carosso(alpha=0.5, beta=1.0, zero_mode="keep"), GRID)


def covariance_error(u: torch.Tensor, covariance: torch.Tensor, grid: Grid = GRID) -> float:
    """Relative Frobenius error of the per-mode time covariance E[ûû^H] estimated from ``u``."""
    u_hat = torch.fft.rfftn(u.to(torch.float64), dim=tuple(range(-grid.ndim, 0)), norm="ortho").movedim(1, -1)  # [B, C, *rfft, T]
    estimate = torch.einsum("b...i,b...j->...ij", u_hat, u_hat.conj()).real / (u.shape[0] * u.shape[2])
    return float((estimate - covariance).norm() / covariance.norm())
