"""The Gaussian marginal of the coarse-grained data per Fourier mode: prior and sampler reference.

Forward coarse-graining acts on every frame alike (PDD Eqs. 3-4), so paths whose data have the
mean field ū (constant in time: the data are stationary) and the temporal covariance
G(k)[n, m] = E[(û0 - μ)(k, t_n) (û0 - μ)(k, t_m)^*] per mode (and channel), μ = rfft(ū), have

    û_λ(k, ·) ~ N(m_λ(k), K_λ(k)),   m_λ = C̃_λ(k) μ(k),   K_λ(k) = C̃_λ(k)² G(k) + Σ̃_λ(k) I

(a T x T matrix per mode) exactly when the data are Gaussian and stationary, and in first and
second moments always. The mean matters where a forcing pins a pattern in place: Kolmogorov
flow's forced mode holds most of its power in the mean, with one phase in every path
(docs/results.md); a zero-mean marginal draws it with a random phase. All K_λ(k) share G(k)'s
eigenvectors (temporal modes v_j with eigenvalues g_j), so in that basis every coordinate of
û - m_λ is a scalar Gaussian of variance C̃_λ² g_j + Σ̃_λ: the per-mode closed forms of the
samplers apply coordinate by coordinate to the path less its mean.

Two uses:

* **the generation prior** at λ_max (Algorithm 3, line 1). PDD draws N(0, Σ̃_λmax) per frame,
  which drops C̃²G; with α = 0.1 the lowest L96 modes keep C̃_1² = e^{-0.2} of their power at
  λ = 1, and that prior ends generation with 50-70 % too little variance at k = 1 whatever the
  sampler (docs/results.md, "Few-step sampling"). Temporal correlations matter as much: frames
  drawn independently from the right per-frame variance still end 59 % too narrow there;
* **the reference Gaussian of the few-step samplers**: its score -K_λ⁻¹û is the stiff, known
  part of every path score (on noise-dominated modes K_λ ≈ Σ̃_λ, precision up to 1/Σ̃_Δλ), which
  :class:`~solvers.gaussian_exponential.GaussianExponential` integrates exactly.

``covariance=None`` is the paper's noise-only N(0, Σ̃_λ I) (G = 0, no mean), valid for any number
of frames; ``mean=None`` is a zero mean field.
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.score.mean_field import check_mean_field, coarse_mean, mean_power
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import check_generator


def data_autocovariance(u: torch.Tensor, grid: Grid) -> torch.Tensor:
    """A(k, ℓ) = E[Re û(k, t_{n+ℓ}) û(k, t_n)^*] per channel for lags ℓ < T, float64 ``[C, *rfft, T]``.

    Averaged over paths and over the T - ℓ frame pairs of each lag (stationarity in t); lag 0 is
    the power spectrum G(k) of :func:`~pdd_core.score.initial_density.data_power`.
    """
    grid.check_field(u, "u")
    u_hat = rfft(u.to(torch.float64), grid.ndim).movedim(1, -1)  # [B, C, *rfft, T]
    frames = u_hat.shape[-1]
    lags = [(u_hat[..., lag:] * u_hat[..., : frames - lag].conj()).real.mean(dim=(0, -1)) for lag in range(frames)]
    return torch.stack(lags, dim=-1)


def data_mean(u: torch.Tensor, grid: Grid) -> torch.Tensor:
    """ū(x) = E[u(t, x)] per channel, averaged over paths and frames (stationarity in t), float64 ``[C, *space]``."""
    grid.check_field(u, "u")
    return u.to(torch.float64).mean(dim=(0, 1))


def _check_covariance(instance, attribute, value) -> None:
    if value is None:
        return
    if not isinstance(value, torch.Tensor) or value.dtype != torch.float64 or value.ndim < 4 or value.shape[-1] != value.shape[-2]:
        raise bad_argument(
            "covariance", type(value).__name__, "must be None or a float64 tensor [C, *rfft_shape, T, T]", "build it with GaussianMarginal.from_autocovariance(...)", kind=ShapeError
        )
    if not bool(torch.isfinite(value).all()):
        raise bad_argument("covariance", "non-finite entries", "a covariance is finite", "compute it from finite data")


def _check_mean(instance, attribute, value) -> None:
    if value is None:
        return
    if instance.covariance is None:
        raise bad_argument("mean", "a mean field", "needs the data covariance beside it", "pass covariance too, e.g. GaussianMarginal.from_autocovariance(A, frames, mean=ū)")
    check_mean_field(value, instance.covariance.ndim - 3)
    rfft_shape = (*value.shape[:-1], value.shape[-1] // 2 + 1)
    if rfft_shape != tuple(instance.covariance.shape[:-2]):
        raise bad_argument("mean.shape", tuple(value.shape), f"does not fit the covariance's modes {tuple(instance.covariance.shape[:-2])}", "compute the mean and the covariance on the same grid", kind=ShapeError)


@attrs.frozen(eq=False)
class GaussianMarginal:
    """N(C_λ ū, C̃_λ² G + Σ̃_λ I) per mode and channel; G = ``covariance`` ``[C, *rfft, T, T]`` about
    the mean (None: G = 0), ū = ``mean`` ``[C, *space]`` (None: 0).

    ``G`` is made symmetric and positive semi-definite (eigenvalues within rounding of 0 or below set to 0) on construction;
    ``basis`` and ``spectrum`` are its eigenvectors ``[C, *rfft, T, T]`` and eigenvalues
    ``[C, *rfft, T]``.
    """

    covariance: torch.Tensor | None = attrs.field(default=None, validator=_check_covariance)
    mean: torch.Tensor | None = attrs.field(default=None, validator=_check_mean, kw_only=True)
    basis: torch.Tensor | None = attrs.field(init=False, default=None)
    spectrum: torch.Tensor | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        if self.covariance is None:
            return
        spectrum, basis = torch.linalg.eigh(0.5 * (self.covariance + self.covariance.transpose(-1, -2)))
        # Eigenvalues within rounding of zero (the rank tolerance T·eps·max g) are zero: a conserved
        # mode's G = g 11ᵀ then draws paths whose value stays exactly constant in time.
        tolerance = spectrum.shape[-1] * torch.finfo(spectrum.dtype).eps * spectrum.abs().amax(-1, keepdim=True)
        object.__setattr__(self, "basis", basis)
        object.__setattr__(self, "spectrum", torch.where(spectrum > tolerance, spectrum, torch.zeros(())))

    @classmethod
    def from_autocovariance(cls, autocovariance: torch.Tensor, frames: int, *, mean: torch.Tensor | None = None) -> "GaussianMarginal":
        """The T = ``frames`` Toeplitz covariance G[n, m] = A(|n - m|) of :func:`data_autocovariance`.

        ``mean``: the data's mean field ū (:func:`data_mean`, of the same paths as A). A holds raw
        second moments, so with a mean G is taken about it: A(ℓ) - |μ|² at every lag (μ = rfft(ū)
        is the same in every frame). Lags the data did not cover (ℓ ≥ A's length) are taken as
        uncorrelated (0); the PSD projection of the constructor keeps the result a covariance.
        """
        if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
            raise bad_argument("frames", frames, "must be an integer >= 1", "pass the number of frames of the paths to sample")
        if not isinstance(autocovariance, torch.Tensor) or autocovariance.dtype != torch.float64 or autocovariance.ndim < 3:
            raise bad_argument("autocovariance", type(autocovariance).__name__, "must be a float64 tensor [C, *rfft, L]", "build it with data_autocovariance(u, grid)", kind=ShapeError)
        if mean is not None:
            check_mean_field(mean, autocovariance.ndim - 2)
            autocovariance = autocovariance - mean_power(mean, mean.ndim - 1).unsqueeze(-1)
        lag = torch.arange(frames)
        distance = (lag[:, None] - lag[None, :]).abs()
        padded = torch.cat([autocovariance, autocovariance.new_zeros(*autocovariance.shape[:-1], max(frames - autocovariance.shape[-1], 0))], dim=-1)
        return cls(padded[..., distance], mean=mean)

    @property
    def frames(self) -> int | None:
        """T of the covariance (None: any)."""
        return None if self.covariance is None else self.covariance.shape[-1]

    def check(self, grid: Grid, frames: int) -> None:
        """Require the covariance to match ``grid`` and paths of ``frames`` frames."""
        if self.covariance is None:
            return
        expected = (grid.channels, *grid.rfft_shape, frames, frames)
        if tuple(self.covariance.shape) != expected:
            raise bad_argument(
                "covariance.shape", tuple(self.covariance.shape), f"expected [C, *rfft, T, T] = {expected} for these paths", "build the marginal for this grid and number of frames", kind=ShapeError
            )
        if self.mean is not None and tuple(self.mean.shape) != (grid.channels, *grid.shape):  # odd against even sizes share an rfft shape
            raise bad_argument("mean.shape", tuple(self.mean.shape), f"expected [C, *space] = {(grid.channels, *grid.shape)}", "compute the mean field on this grid", kind=ShapeError)

    def variance(self, scheme, grid: Grid, lam) -> tuple[torch.Tensor, torch.Tensor]:
        """(K_λ in the temporal eigenbasis, float64 ``[B, T or 1, C or 1, *rfft]``; the scheme's active modes) for λ float or ``[B]``."""
        marginal = scheme.marginal(grid, torch.as_tensor(lam, dtype=torch.float64).detach().cpu())
        if self.spectrum is None:
            return marginal.variance, marginal.active
        return marginal.damping.pow(2) * self.spectrum.movedim(-1, 0) + marginal.variance, marginal.active

    def mean_at(self, scheme, grid: Grid, lam: float) -> torch.Tensor:
        """m_λ = C_λ ū, a one-frame path ``[1, 1, C, *space]`` float64 (zero without a mean; ū itself on excluded modes)."""
        if self.mean is None:
            return torch.zeros((1, 1, grid.channels, *grid.shape), dtype=torch.float64)
        return coarse_mean(self.mean, scheme, grid, torch.tensor([float(lam)]))

    def to_eigen(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Coordinates of ``u_hat`` ``[B, T, C, *rfft]`` along G's temporal eigenvectors (same shape)."""
        if self.basis is None:
            return u_hat
        basis = self.basis.to(u_hat.device, u_hat.dtype)
        return (u_hat.movedim(1, -1).unsqueeze(-2) @ basis).squeeze(-2).movedim(-1, 1)

    def from_eigen(self, a_hat: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_eigen` (the basis is orthogonal)."""
        if self.basis is None:
            return a_hat
        basis = self.basis.to(a_hat.device, a_hat.dtype)
        return (basis @ a_hat.movedim(1, -1).unsqueeze(-1)).squeeze(-1).movedim(-1, 1)

    def sample(self, shape: tuple[int, ...], scheme, grid: Grid, lam: float, generator: torch.Generator, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Paths ``shape = [B, T, C, *space]`` drawn from N(m_λ, K_λ), on the generator's device.

        White noise in the orthonormal (spatial Fourier x temporal eigen) basis, scaled by
        sqrt(C̃_λ² g_j + Σ̃_λ), plus the mean path m_λ: E[(û - m_λ)(û - m_λ)^H] = K_λ per mode
        exactly, an excluded k = 0 mode included (there K_λ = G and m_λ = μ: the spatial mean
        gets the data's law, temporal correlations included).
        """
        check_generator(generator)
        shape = tuple(shape)
        if len(shape) != 3 + grid.ndim or shape[2] != grid.channels or shape[3:] != grid.shape:
            raise bad_argument("shape", shape, f"expected [B, T, {grid.channels}, *{grid.shape}]", "pass (batch, frames, channels, *grid.shape)", kind=ShapeError)
        self.check(grid, shape[1])
        variance, _ = self.variance(scheme, grid, float(lam))
        # Excluded modes (PDD A.2) never diffuse (C̃ = 1, Σ̃ = 0), so no sampler moves them: they
        # keep what the prior draws, G(k)'s law with the data covariance and zero without it.
        std = variance.clamp_min(0).sqrt()
        noise_hat = rfft(torch.randn(shape, generator=generator, dtype=dtype, device=generator.device), grid.ndim)
        fluctuation = irfft(self.from_eigen(noise_hat * std.to(noise_hat.device, noise_hat.real.dtype)), grid.shape)
        return (fluctuation + self.mean_at(scheme, grid, float(lam)).to(fluctuation.device, fluctuation.dtype)).to(dtype)


def dataset_autocovariance(data, grid: Grid, paths: int = 64) -> torch.Tensor:
    """:func:`data_autocovariance` of the first ``paths`` items of a dataset (``data[i] -> [T, C, *space]``, standardised).

    The trainer stores it in the checkpoint (from whole training paths), so a run's generation
    prior and sampler reference do not need the training file.
    """
    return data_autocovariance(_first_paths(data, paths), grid)


def dataset_mean(data, grid: Grid, paths: int = 64) -> torch.Tensor:
    """:func:`data_mean` of the same paths as :func:`dataset_autocovariance` (so that G about it stays a covariance)."""
    return data_mean(_first_paths(data, paths), grid)


def _first_paths(data, paths: int) -> torch.Tensor:
    return torch.stack([data[i] for i in range(min(paths, len(data)))])
