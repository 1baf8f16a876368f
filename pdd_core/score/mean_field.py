"""The data's mean field ū ``[C, *space]`` (over paths and frames): its check, its coarse-grained path and its power.

The Gaussian models of the data (the marginal, the initial density r_λ, the exact path score)
are taken about ū: at scale λ the mean is C_λ ū (PDD Eqs. 3 and 17), the same in every frame,
and the raw second moments G hold |μ|² (μ = rfft(ū)) besides the covariance.
"""

from __future__ import annotations

import torch

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.spectral import rfft


def check_mean_field(value, ndim: int) -> None:
    """Require a finite float64 field ``[C, *space]`` with ``ndim`` spatial axes."""
    if not isinstance(value, torch.Tensor) or value.dtype != torch.float64 or value.ndim != ndim + 1 or not bool(torch.isfinite(value).all()):
        raise bad_argument("mean", type(value).__name__, "must be None or a finite float64 field [C, *space]", "compute it with data_mean(u, grid)", kind=ShapeError)


def mean_power(mean: torch.Tensor, ndim: int) -> torch.Tensor:
    """|μ(k)|² ``[C, *rfft]``: what the mean adds to the raw second moments of every mode (orthonormal FFT)."""
    return rfft(mean, ndim).abs().square()


def coarse_mean(mean: torch.Tensor, scheme, grid: Grid, lam: torch.Tensor) -> torch.Tensor:
    """C_λ ū per λ in ``lam`` ``[B]``: one-frame paths ``[B, 1, C, *space]`` float64 (ū itself on excluded modes)."""
    lam = lam.detach().cpu().to(torch.float64).reshape(-1)
    return scheme.coarse_grain(mean.to(torch.float64).reshape(1, 1, *mean.shape).expand(lam.numel(), -1, *mean.shape), grid, lam)
