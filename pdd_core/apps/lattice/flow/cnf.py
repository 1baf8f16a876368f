"""RDM's continuous normalizing flow on the lattice (RDM 5.8): intermediate densities p^θ_t along the Carosso flow.

The flow runs in RG time t ∈ [0, T]: p^θ_T is the prior, the Carosso limiting law N(0, β²/2κ_p)
per orthonormal mode (RDM 5.20 with the mass M of 7.1), and dφ/dt = b_θ(φ, t) carries it down to
p^θ_0, the model of the theory. Along a trajectory the instantaneous change of variables gives

    log p^θ_t(φ_t) = log p_T(φ_T) + ∫_t^T div b_θ(φ_τ, τ) dτ.

The Carosso flow is stiff in t (mode p relaxes at κ_p = |p̂|² + M², up to ~3200 on RDM's
lattice), so the flow is integrated in the log time s = log(t + ε), ε = 1/κ_max, where a mode
is in motion only for s of order one around -log κ_p. The ODE is solved by fixed-step RK4 of
``torchdiffeq`` (a well-kept library with adjoints; its fixed grid makes the sample map and the
log density one deterministic computation, and its error is measured in the tests); the
divergence is exact (:class:`~pdd_core.apps.lattice.flow.velocity.LatticeVelocity`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint

from pdd_core.apps.lattice.flow.velocity import LatticeVelocity
from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


@attrs.frozen
class FlowSettings:
    """The flow's shape: RG time T of the prior, RK4 steps over the whole log-time range, network size."""

    t_max: float
    steps: int = 24
    hidden: int = 8
    kernel: int = 3


class ContinuousFlow(nn.Module):
    """p^θ_t for t ∈ [0, T] of a Carosso scheme on ``grid`` (module docstring); fields are ``[B, *grid.shape]`` float64 or float32."""

    def __init__(self, grid: Grid, scheme, settings: FlowSettings, field_scale: float = 1.0, base=None):
        super().__init__()
        if grid.ndim not in (1, 2) or grid.channels != 1:
            raise bad_argument("grid", grid.shape, "the flow is defined for one scalar field on a 1-d or 2-d lattice", "use the grid of LatticePhi4 or of a chain")
        self.grid, self.scheme, self.settings, self.base = grid, scheme, settings, base
        rate = scheme.rate(grid, 0.0).reshape(grid.rfft_shape)
        self.epsilon = 1.0 / float(rate.max())
        self.s_min, self.s_max = math.log(self.epsilon), math.log(settings.t_max + self.epsilon)
        self.velocity = LatticeVelocity(grid, self.s_min, self.s_max, hidden=settings.hidden, kernel=settings.kernel, field_scale=field_scale, base=base)
        # The prior at T: RDM's Carosso limiting law, or with a data base (flow/base.py) the data's power pushed to T.
        stationary = scheme.diffusion(grid, 0.0).reshape(grid.rfft_shape) / (2 * rate) if base is None else base.second_moment(settings.t_max)
        self.register_buffer("prior_variance", stationary, persistent=False)
        self.register_buffer("multiplicity", grid.mode_multiplicity(), persistent=False)

    def s_of(self, t: float | torch.Tensor):
        """The flow's time variable s = log(t + ε) of RG time t."""
        return math.log(t + self.epsilon) if isinstance(t, (int, float)) else torch.log(t + self.epsilon)

    def prior_sample(self, n: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` draws of the prior p_T = N(0, β²/2κ_p) per orthonormal mode, ``[n, *grid.shape]``."""
        white = torch.randn((n, *self.grid.shape), generator=generator, dtype=dtype)
        return irfft(rfft(white, self.grid.ndim) * self.prior_variance.to(dtype).sqrt(), self.grid.shape)

    def prior_log_density(self, phi: torch.Tensor) -> torch.Tensor:
        """log p_T(φ) ``[B]`` (a Gaussian diagonal in the orthonormal Fourier basis)."""
        power = rfft(phi, self.grid.ndim).abs().square()
        variance, weights = self.prior_variance.to(phi.dtype), self.multiplicity.to(phi.dtype)
        return -0.5 * (weights * (power / variance + torch.log(2 * math.pi * variance))).sum(dim=self.grid.field_axes)

    def _dynamics(self, span: torch.Tensor | None = None, start: torch.Tensor | None = None):
        """The ODE right-hand side for (φ, ∫div): in s, or, with ``span``/``start`` per sample, in u ∈ [0, 1] with s = start + u·span."""

        def rhs(time: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
            phi = state[0]
            if span is None:
                s = time.to(phi.dtype).expand(phi.shape[0])
                velocity, divergence = self.velocity(phi, s)
                return velocity, divergence
            s = start + time.to(phi.dtype) * span
            velocity, divergence = self.velocity(phi, s)
            return velocity * span.reshape(-1, *[1] * self.grid.ndim), divergence * span

        return rhs

    @property
    def dtype(self) -> torch.dtype:
        """The precision of the network (float32 to train, float64 for densities a Metropolis test uses)."""
        return next(self.parameters()).dtype

    def sample(self, n: int, generator: torch.Generator, *, ts: Sequence[float] = (0.0,)) -> tuple[dict[float, torch.Tensor], torch.Tensor]:
        """``n`` flows from the prior at T down to 0: ``({t: φ_t}, log p^θ_0(φ_0))`` for every t of ``ts`` in [0, T]."""
        dtype = self.dtype
        times = sorted({float(t) for t in ts} | {0.0}, reverse=True)
        if times[0] > self.settings.t_max or times[-1] < 0:
            raise bad_argument("ts", ts, f"must lie in [0, T = {self.settings.t_max:g}]", "pass RG times of the flow's range")
        phi_top = self.prior_sample(n, generator, dtype)
        below = [t for t in times if self.s_of(t) < self.s_max]
        s_points = torch.tensor([self.s_max, *[self.s_of(t) for t in below]], dtype=dtype)
        zeros = torch.zeros(n, dtype=dtype)
        options = {"grid_constructor": self._grid_with(s_points)}
        phis, integrals = odeint(self._dynamics(), (phi_top, zeros), s_points, method="rk4", options=options)
        # ∫_{s_T}^{s} div ds is accumulated backwards in s, so log p^θ_0 = log p_T(φ_T) - that integral.
        log_density = self.prior_log_density(phi_top) - integrals[-1]
        recorded = {t: phis[below.index(t) + 1] if t in below else phi_top for t in times}
        return recorded, log_density

    def _grid_with(self, s_points: torch.Tensor):
        """RK4 steps uniform in s over [s_min, s_max] plus the requested points (so outputs are steps' ends, never interpolated)."""

        def construct(func, y0, t: torch.Tensor) -> torch.Tensor:
            uniform = torch.linspace(self.s_min, self.s_max, self.settings.steps + 1, dtype=t.dtype)
            inside = uniform[(uniform > t.min()) & (uniform < t.max())]
            grid = torch.unique(torch.cat([inside, t]))  # ascending
            return grid if bool(t[-1] > t[0]) else grid.flip(0)  # in the direction of integration

        return construct

    def log_density(self, phi: torch.Tensor, t: float | torch.Tensor = 0.0) -> torch.Tensor:
        """log p^θ_t(φ) ``[B]`` by integrating φ from t (a float, or one t per sample ``[B]``) up to T."""
        batch, phi = phi.shape[0], phi.to(self.dtype)
        start = torch.as_tensor(t, dtype=phi.dtype).expand(batch)
        if bool((start < 0).any()) or bool((start > self.settings.t_max).any()):
            raise bad_argument("t", t, f"must lie in [0, T = {self.settings.t_max:g}]", "pass RG times of the flow's range")
        s_start = self.s_of(start)
        span = self.s_max - s_start
        # u ∈ [0, 1] with per-sample spans; steps in u sized so that the longest span keeps the grid's step in s.
        longest = float(span.max())
        steps = max(1, math.ceil(self.settings.steps * longest / (self.s_max - self.s_min)))
        zeros = torch.zeros(batch, dtype=phi.dtype)
        grid_u = torch.tensor([0.0, 1.0], dtype=phi.dtype)
        phis, integrals = odeint(self._dynamics(span, s_start), (phi, zeros), grid_u, method="rk4", options={"step_size": 1.0 / steps})
        return self.prior_log_density(phis[-1]) + integrals[-1]


def carosso_kernel_sample(phi0: torch.Tensor, scheme, grid: Grid, t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """φ_t = C̃_t φ̂_0 + sqrt(Σ̃_t) ξ̂ per mode, one t per sample (the exact forward kernel of RDM 5.20)."""
    marginal = scheme.marginal(grid, t.to(torch.float64).cpu())
    damping = marginal.damping.reshape(t.shape[0], *grid.rfft_shape).to(phi0.dtype)
    variance = marginal.variance.reshape(t.shape[0], *grid.rfft_shape).to(phi0.dtype)
    noise = rfft(torch.randn(phi0.shape, generator=generator, dtype=phi0.dtype), grid.ndim)
    return irfft(damping * rfft(phi0, grid.ndim) + variance.sqrt() * noise, grid.shape)


def numpy_fields(phi: torch.Tensor) -> np.ndarray:
    return phi.detach().to(torch.float64).cpu().numpy()


__all__ = ["ContinuousFlow", "FlowSettings", "carosso_kernel_sample", "numpy_fields"]
