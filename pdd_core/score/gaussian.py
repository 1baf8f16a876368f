"""The exact path score of Gaussian data: the ground truth every sampler is checked against."""

from __future__ import annotations

import attrs
import torch

from pdd_core.grid import Grid
from pdd_core.score.mean_field import coarse_mean
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import as_lambda


@attrs.frozen(eq=False)
class GaussianPathScore:
    """s_λ(u) = -K_λ⁻¹ u per Fourier mode, with K_λ = C̃_λ² K_0 + Σ̃_λ I over time.

    ``covariance`` is K_0(k) = E[û(k, ·) û(k, ·)^H] of the λ = 0 data on the rfft layout,
    shaped ``[*rfft_shape, T, T]`` (shared by channels) or ``[C, *rfft_shape, T, T]``;
    for a stationary linear field it is the Toeplitz matrix of its autocovariance.
    Forward coarse-graining acts independently per time (PDD Eq. 4), so the marginal at λ
    is Gaussian with this covariance. Excluded modes (PDD A.2) get a zero score.

    ``mean``: the data's mean field ū ``[C, *space]`` (constant in time; None: 0). The marginal at
    λ is then N(C_λ ū, K_λ) and the score -K_λ⁻¹(û - C̃_λ μ).
    """

    covariance: torch.Tensor
    scheme: object
    grid: Grid
    mean: torch.Tensor | None = None

    def mean_at(self, lam: torch.Tensor) -> torch.Tensor:
        """C_λ ū per sample ``[B, 1, C, *space]`` float64 (zeros without a mean)."""
        if self.mean is None:
            return torch.zeros((lam.numel(), 1, self.grid.channels, *self.grid.shape), dtype=torch.float64)
        return coarse_mean(self.mean, self.scheme, self.grid, lam)

    def covariance_at(self, lam: torch.Tensor) -> torch.Tensor:
        """K_λ per sample ``[B, C or 1, *rfft_shape, T, T]`` (float64)."""
        step = self.scheme.transition(self.grid, 0.0, lam)
        frames = self.covariance.shape[-1]
        base = self.covariance.to(torch.float64)
        if base.ndim == self.grid.ndim + 2:
            base = base.unsqueeze(0)
        damping = step.damping[:, 0, 0].unsqueeze(1)[..., None, None]  # [B, 1, *rfft, 1, 1]
        variance = step.variance[:, 0, 0].unsqueeze(1)[..., None, None]
        identity = torch.eye(frames, dtype=torch.float64)
        return damping**2 * base.unsqueeze(0) + variance * identity

    def exact_sample(self, lam, batch: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Exact draws ``[B, T, C, *space]`` of the marginal N(C_λ ū, K_λ) (all samples at one λ).

        Real white noise transformed by the orthonormal rfft has E[ẑẑ^H] = I per mode, so
        û = L ẑ with K_λ = L L^T has E[ûû^H] = K_λ and irfft gives the real-space field.
        """
        lam = as_lambda(lam, 1, "lam")
        factor = torch.linalg.cholesky(self.covariance_at(lam)[0])  # [C or 1, *rfft, T, T]
        channels = self.grid.channels
        frames = self.covariance.shape[-1]
        noise = torch.randn(batch, channels, *self.grid.shape, frames, generator=generator, dtype=torch.float64)
        noise_hat = torch.fft.rfftn(noise, dim=tuple(range(2, 2 + self.grid.ndim)), norm="ortho")
        u_hat = (factor.to(noise_hat.dtype) @ noise_hat.unsqueeze(-1)).squeeze(-1)
        return (irfft(u_hat.movedim(-1, 1), self.grid.shape) + self.mean_at(lam)).to(dtype)

    def apply_covariance(self, u: torch.Tensor, lam) -> torch.Tensor:
        """K_λ u: the real-space covariance operator applied to paths ``u`` (for exact checks)."""
        lam = as_lambda(lam, u.shape[0], "lam")
        u_hat = rfft(u.to(torch.float64), self.grid.ndim).movedim(1, -1)
        result = (self.covariance_at(lam).to(u_hat.dtype) @ u_hat.unsqueeze(-1)).squeeze(-1)
        return irfft(result.movedim(-1, 1), self.grid.shape).to(u.dtype)

    def __call__(self, u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        lam = as_lambda(lam, u.shape[0], "lam")
        # Samplers call with one λ for the whole batch: invert K_λ once per distinct λ.
        distinct, index = torch.unique(lam, return_inverse=True)
        active = self.scheme.transition(self.grid, 0.0, distinct[:1]).active
        covariance = self.covariance_at(distinct)
        # Excluded modes carry no density: invert the identity there, then zero them.
        eye = torch.eye(covariance.shape[-1], dtype=torch.float64)
        precision = torch.linalg.inv(torch.where(active[..., None, None], covariance, eye)) * active[..., None, None]
        precision = precision[index] if distinct.numel() > 1 else precision
        u_hat = rfft(u.to(torch.float64) - self.mean_at(lam).to(u.device), self.grid.ndim).movedim(1, -1)  # [B, C, *rfft, T]
        score_hat = -(precision.to(u_hat.dtype) @ u_hat.unsqueeze(-1)).squeeze(-1)
        return irfft(score_hat.movedim(-1, 1), self.grid.shape).to(u.dtype)
