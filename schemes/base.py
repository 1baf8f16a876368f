"""Shared machinery of Fourier-diagonal RG schemes.

A scheme is ``∂λ ũ(k) = -κ(k, λ) ũ(k) + b(k, λ) η̃(k)`` per Fourier mode (PDD Eq. 14,
RDM 5.35-5.36). A subclass supplies the per-mode closed forms of a transition λ_a → λ_b,

    log C̃_ab(k) = -∫_{λa}^{λb} κ(k, s) ds,
    Σ̃_ab(k)     =  ∫_{λa}^{λb} exp(-2∫_s^{λb} κ) b²(k, s) ds,

plus κ and b² themselves. Everything else (coarse-graining, forward sampling of PDD Eq. 3,
the transition score, σ_λ of PDD Eq. 58, the prior) is written once here.

Coefficients are computed in float64 on the CPU and cast to the field's dtype and device,
so float32 fields get correctly rounded coefficients even where κλ is tiny or huge.
"""

from __future__ import annotations

import math

import torch

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.records import Transition
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import as_lambda, check_field, check_generator

ZERO_MODES = ("auto", "exclude", "keep")
DEFAULT_DELTA_LAMBDA = 1e-3


def check_zero_mode(instance, attribute, value: str) -> None:
    if value not in ZERO_MODES:
        raise bad_argument("zero_mode", value, f"expected one of {ZERO_MODES}", "use 'auto' (exclude k = 0 when its rate is zero, PDD A.2)")


class SpectralScheme:
    """Base class of the Fourier-diagonal schemes; subclasses are frozen attrs records.

    Subclasses implement ``_log_damping``, ``_variance``, ``_rate`` and ``_diffusion`` on
    float64 tensors: ``k2`` shaped ``rfft_shape`` and λs shaped ``[B, 1, 1, *ones]``.
    """

    zero_mode: str

    # -- per-mode closed forms (subclasses) ---------------------------------------------
    def _log_damping(self, k2: torch.Tensor, lam_a: torch.Tensor, lam_b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _variance(self, k2: torch.Tensor, lam_a: torch.Tensor, lam_b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _rate(self, k2: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _diffusion(self, k2: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _check_grid(self, grid: Grid) -> None:
        """Hook for scheme-specific grid requirements (e.g. a positive Polchinski kernel)."""

    # -- helpers --------------------------------------------------------------------------
    def active_modes(self, grid: Grid) -> torch.Tensor:
        """Boolean ``rfft_shape`` mask of modes that diffuse (False: excluded k = 0, PDD A.2)."""
        active = torch.ones(grid.rfft_shape, dtype=torch.bool)
        exclude = self.zero_mode == "exclude"
        if self.zero_mode == "auto":
            zero_rate = self._rate(torch.zeros(()), torch.zeros(()))
            exclude = bool(torch.as_tensor(zero_rate) == 0)
        if exclude:
            active[(0,) * grid.ndim] = False
        return active

    def _lambdas(self, grid: Grid, lam, batch: int | None, name: str) -> torch.Tensor:
        if batch is None:
            batch = int(torch.as_tensor(lam).numel()) if torch.as_tensor(lam).ndim == 1 else 1
        # Closed forms are evaluated in float64 on the CPU (module docstring), whatever device λ comes from.
        values = as_lambda(lam, batch, name).cpu()
        return values.reshape(batch, 1, 1, *([1] * grid.ndim))

    def _modes(self, grid: Grid, lam_a, lam_b, batch: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        self._check_grid(grid)
        if batch is None:
            sizes = [torch.as_tensor(v).numel() for v in (lam_a, lam_b) if torch.as_tensor(v).ndim == 1]
            batch = max(sizes, default=1)
        la = self._lambdas(grid, lam_a, batch, "lam_a")
        lb = self._lambdas(grid, lam_b, batch, "lam_b")
        if bool((lb < la).any()):
            raise bad_argument("lam_b", lb.flatten().tolist(), "a forward transition needs lam_b >= lam_a", "swap the arguments or use a reverse-λ sampler")
        return grid.k2(torch.float64), la, lb

    # -- public API ---------------------------------------------------------------------
    def transition(self, grid: Grid, lam_a, lam_b, batch: int | None = None) -> Transition:
        """Per-mode damping C̃_ab and variance Σ̃_ab of λ_a → λ_b, float64 ``[B,1,1,*rfft]``."""
        k2, la, lb = self._modes(grid, lam_a, lam_b, batch)
        active = self.active_modes(grid)
        damping = torch.where(active, torch.exp(self._log_damping(k2, la, lb)), torch.ones((), dtype=torch.float64))
        variance = torch.where(active, self._variance(k2, la, lb), torch.zeros((), dtype=torch.float64))
        if not bool(torch.isfinite(damping).all() and torch.isfinite(variance).all()) or bool((variance < 0).any()):
            raise bad_argument(type(self).__name__, self, "produced a non-finite or negative transition on this grid", "check the scheme parameters against the grid's wavenumbers")
        return Transition(damping=damping, variance=variance, active=active)

    def marginal(self, grid: Grid, lam, batch: int | None = None, name: str = "lam") -> Transition:
        """The transition 0 → λ, with errors that name the caller's argument ``name``."""
        if batch is None:
            batch = int(torch.as_tensor(lam).numel()) if torch.as_tensor(lam).ndim == 1 else 1
        return self.transition(grid, 0.0, as_lambda(lam, batch, name), batch)

    def marginal_variance(self, grid: Grid, lam, batch: int | None = None) -> torch.Tensor:
        """Σ̃_λ = Σ̃_{0→λ} per mode (PDD Eq. 18)."""
        return self.marginal(grid, lam, batch).variance

    def coarse_grain(self, u0: torch.Tensor, grid: Grid, lam) -> torch.Tensor:
        """C_λ u0: the mean of the forward process (PDD Eqs. 3 and 17)."""
        check_field(u0, grid, "u0")
        damping = self.marginal(grid, lam, u0.shape[0]).damping
        return irfft(rfft(u0, grid.ndim) * damping.to(u0.device), grid.shape).to(u0.dtype)

    def forward_sample(self, u0: torch.Tensor, grid: Grid, lam, generator: torch.Generator, *, return_noise: bool = False):
        """u_λ = C_λ u0 + sqrt(Σ_λ) ε with ε ~ N(0, I) per grid point (PDD Eq. 3).

        With ``return_noise=True`` returns ``(u_λ, ε)`` (the regression target of SA-PDD).
        """
        check_field(u0, grid, "u0")
        check_generator(generator)
        noise = torch.randn(u0.shape, generator=generator, dtype=u0.dtype, device=u0.device)
        step = self.marginal(grid, lam, u0.shape[0])
        damping, std = step.damping.to(u0.device), step.variance.sqrt().to(u0.device)
        u_lam = irfft(rfft(u0, grid.ndim) * damping + rfft(noise, grid.ndim) * std, grid.shape).to(u0.dtype)
        return (u_lam, noise) if return_noise else u_lam

    def transition_score(self, u_lam: torch.Tensor, u0: torch.Tensor, grid: Grid, lam) -> torch.Tensor:
        """∇_{u_λ} log q(u_λ | u0) = -Σ_λ⁻¹ (u_λ - C_λ u0) (PDD Eq. 16; RDM 5.19/5.41).

        Excluded modes (PDD A.2) carry no density and get a zero score. λ must be > 0 on
        every sample, since at λ = 0 the transition is a delta and its score is undefined.
        """
        check_field(u_lam, grid, "u_lam")
        check_field(u0, grid, "u0")
        if u_lam.shape != u0.shape:
            raise bad_argument("u0.shape", tuple(u0.shape), f"must equal u_lam.shape {tuple(u_lam.shape)}", "pass the clean paths that u_lam was sampled from", kind=ShapeError)
        step = self.marginal(grid, lam, u0.shape[0])
        self._require_positive_variance(step, lam)
        precision = torch.where(step.active, 1.0 / torch.where(step.active, step.variance, torch.ones(())), torch.zeros(()))
        residual = rfft(u_lam, grid.ndim) - rfft(u0, grid.ndim) * step.damping.to(u0.device)
        return irfft(-residual * precision.to(u0.device), grid.shape).to(u_lam.dtype)

    def transition_log_density(self, u_lam: torch.Tensor, u0: torch.Tensor, grid: Grid, lam) -> torch.Tensor:
        """log q(u_λ | u0) per sample ``[B]``, summed over time, channels and active modes.

        In the orthonormal basis the real-space covariance has eigenvalue Σ̃(k) for every mode
        of the full spectrum, so ``-½ Σ_k w_k (|r̂_k|²/Σ̃_k + log 2πΣ̃_k)`` with the rfft
        multiplicities w_k is exact. Differentiable (used to check the score by autograd).
        """
        check_field(u_lam, grid, "u_lam")
        step = self.marginal(grid, lam, u0.shape[0])
        self._require_positive_variance(step, lam)
        variance = torch.where(step.active, step.variance, torch.ones(())).to(u_lam.dtype)
        weight = (grid.mode_multiplicity() * step.active).to(u_lam.dtype)
        residual = rfft(u_lam, grid.ndim) - rfft(u0, grid.ndim) * step.damping.to(u_lam.dtype)
        per_mode = weight * (residual.abs() ** 2 / variance + torch.log(2 * math.pi * variance))
        return -0.5 * per_mode.flatten(1).sum(1)

    def sigma(self, grid: Grid, lam, dt: float, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> torch.Tensor:
        """σ_λ² = tr(Σ_λ) / (Δt · D) with Σ_λ floored at Σ_Δλ per mode (PDD Eq. 58, A.7).

        D counts the spatial degrees of freedom of one snapshot; the channels cancel because
        every channel diffuses alike. Returns float64 ``[B]``.
        """
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise bad_argument("dt", dt, "the time step must be finite and > 0", "pass the data's Δt")
        if not (isinstance(delta_lambda, (int, float)) and math.isfinite(delta_lambda) and delta_lambda > 0):
            raise bad_argument("delta_lambda", delta_lambda, "the floor scale Δλ must be finite and > 0", "use the λ schedule's smallest step, e.g. 1e-3")
        variance = self.marginal_variance(grid, lam)
        floor = self.marginal(grid, delta_lambda, name="delta_lambda").variance
        floored = torch.maximum(variance, floor) * grid.mode_multiplicity()
        trace_per_point = floored.flatten(1).sum(1) / grid.n_points
        return torch.sqrt(trace_per_point / dt)

    def prior_sample(
        self, shape: tuple[int, ...], grid: Grid, lam_max, generator: torch.Generator, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """A draw from N(0, Σ_λmax): the generation prior at λ_max (PDD Algorithm 3).

        The draw is made on ``device`` (default: the generator's), so a CUDA generator gives a
        CUDA sample without a detour through ``forward_sample`` of zeros.
        """
        check_generator(generator)
        shape = tuple(shape)
        if len(shape) != 3 + grid.ndim or shape[2] != grid.channels or shape[3:] != grid.shape:
            raise bad_argument("shape", shape, f"expected [B, T, {grid.channels}, *{grid.shape}]", "pass (batch, frames, channels, *grid.shape)", kind=ShapeError)
        if dtype not in (torch.float32, torch.float64):
            raise bad_argument("dtype", dtype, "only float32 and float64 are supported", "pass torch.float32 or torch.float64", kind=ShapeError)
        device = generator.device if device is None else torch.device(device)
        noise = torch.randn(shape, generator=generator, dtype=dtype, device=device)
        std = self.marginal(grid, lam_max, shape[0], "lam_max").variance.sqrt().to(device)
        return irfft(rfft(noise, grid.ndim) * std, grid.shape).to(dtype)

    def rate(self, grid: Grid, lam) -> torch.Tensor:
        """κ(k, λ) per mode, float64 ``[B, 1, 1, *rfft_shape]`` (0 on excluded modes)."""
        self._check_grid(grid)
        la = self._lambdas(grid, lam, None, "lam")
        values = self._rate(grid.k2(torch.float64), la).expand(la.shape[0], 1, 1, *grid.rfft_shape)
        return torch.where(self.active_modes(grid), values, torch.zeros(()))

    def diffusion(self, grid: Grid, lam) -> torch.Tensor:
        """b²(k, λ) per mode, float64 ``[B, 1, 1, *rfft_shape]`` (0 on excluded modes)."""
        self._check_grid(grid)
        la = self._lambdas(grid, lam, None, "lam")
        values = self._diffusion(grid.k2(torch.float64), la).expand(la.shape[0], 1, 1, *grid.rfft_shape)
        return torch.where(self.active_modes(grid), values, torch.zeros(()))

    @staticmethod
    def _require_positive_variance(step: Transition, lam) -> None:
        degenerate = (step.variance <= 0) & step.active
        if not bool(degenerate.any()):
            return
        if bool((torch.as_tensor(lam) == 0).any()):
            raise bad_argument("lam", lam, "the transition score needs λ > 0 (at λ = 0 the kernel is a delta)", "sample λ from (0, λ_max]")
        raise bad_argument("lam", lam, "Σ̃_λ underflows to 0 on some active modes (the scheme has erased them), so the score is undefined there", "use a smaller λ or a scheme whose variance stays positive")
