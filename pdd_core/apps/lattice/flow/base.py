"""A data-informed base for the lattice flow: the exact Carosso flow of a law fitted to the training samples.

RDM's flow starts from the Carosso limiting law N(0, β²/2κ_p) at T and learns the whole velocity.
With the data base, the flow starts instead from the exact probability-flow velocity of a *base
law* that has the training samples' power G_p on every non-zero mode (independent Gaussians)
and, on the zero mode, the Z2-symmetric pair ½N(±a, w²) with the data's second and fourth
moments (the base law of the learned inverse RG, docs/rg_flows.md). Carried by the Carosso kernel
(5.20, C = C̃_t, Σ = Σ̃_t per mode), the base law stays of the same form, with per-mode variance
K_t = C² G_p + Σ and zero-mode pair ½N(±C a, V), V = C² w² + Σ, so its probability-flow velocity
dφ/dt = -κφ - ½β² ∇ log p_t is, per orthonormal mode (β² the scheme's diffusion),

    b̂(p ≠ 0) = (-κ_p + β²/(2K_t)) φ̂(p),
    b̂(0)     = -κ_0 ẑ + ½β² (ẑ - C a tanh(C a ẑ/V)) / V,

with the exact divergence Σ_p (-κ_p + β²/2K_t) over the non-zero modes plus ∂b̂(0)/∂ẑ. The
network's velocity is added to it (its output layer starts at zero), so the untrained flow
already carries the base law along the exact RG flow: G̃2 at every t and the zero mode's G̃4 are
those of the data flowed exactly, and training only has to learn the rest (mode couplings,
higher cumulants). The prior at T is N(0, K_T) per mode: the data's power pushed to T (at the
T of ``choose_times`` the pair's shift C a is below 5 % of the noise, so the prior differs from
the flowed pair only in its kurtosis, by at most 2·0.05⁴ ≈ 10⁻⁵).
"""

from __future__ import annotations

from typing import Any

import attrs
import torch

from pdd_core.apps.lattice.inverse_rg.residual import zero_mode_moment_law
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


@attrs.frozen(eq=False)
class DataBase:
    """The base law of the module docstring: ``power`` G_p per orthonormal rfft mode (float64), the zero-mode pair (a, w²).

    Plain float64 tensors, not buffers, so a cast of the flow to float32 for training never rounds them.
    """

    grid: Grid
    scheme: Any
    power: torch.Tensor
    zero_mean: float
    zero_variance: float

    @classmethod
    def of_fields(cls, fields: torch.Tensor, grid: Grid, scheme: Any) -> "DataBase":
        """The base law of samples ``[n, *grid.shape]``: their per-mode power and moment-matched zero-mode pair."""
        modes = rfft(fields.to(torch.float64), grid.ndim)
        zero = modes[(slice(None), *[0] * grid.ndim)].real
        zero_mean, zero_variance = zero_mode_moment_law(zero)
        return cls(grid, scheme, modes.abs().square().mean(dim=0), zero_mean, zero_variance)

    @classmethod
    def of_record(cls, record: dict[str, Any], grid: Grid, scheme: Any) -> "DataBase":
        """The base written by :meth:`to_record`."""
        power = torch.tensor(record["power"], dtype=torch.float64)
        return cls(grid, scheme, power, float(record["zero_mode_mean"]), float(record["zero_mode_variance"]))

    def to_record(self) -> dict[str, Any]:
        """JSON-ready: the power per rfft mode and the zero-mode pair."""
        return {"power": self.power.tolist(), "zero_mode_mean": self.zero_mean, "zero_mode_variance": self.zero_variance}

    def _flowed(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """C̃_t, Σ̃_t and K_t = C̃_t² G + Σ̃_t per mode, ``[B, *rfft]`` for RG times ``t`` ``[B]``."""
        marginal = self.scheme.marginal(self.grid, t.detach().to(torch.float64).cpu().clamp_min(0.0))
        damping = marginal.damping.reshape(t.shape[0], *self.grid.rfft_shape)
        variance = marginal.variance.reshape(t.shape[0], *self.grid.rfft_shape)
        return damping, variance, damping.square() * self.power + variance

    def second_moment(self, t: float) -> torch.Tensor:
        """K_t per rfft mode ``[*rfft]``: the base law's ⟨|φ̂(p)|²⟩ after RG time t (the prior's variance at t = T)."""
        return self._flowed(torch.tensor([float(t)], dtype=torch.float64))[2][0]

    def velocity(self, phi: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(b, div b)`` in RG time for fields ``[B, *grid.shape]`` at ``t`` ``[B]`` (module docstring), in φ's dtype."""
        damping, variance, second = self._flowed(t)
        rate, noise = (term(self.grid, 0.0).reshape(self.grid.rfft_shape) for term in (self.scheme.rate, self.scheme.diffusion))
        origin = (slice(None), *[0] * self.grid.ndim)
        modes = rfft(phi, self.grid.ndim)
        gain = -rate + noise / (2 * second)  # per mode: the Gaussian law's velocity coefficient
        gain[origin] = 0.0  # the zero mode moves by the pair's law instead
        zero_velocity, zero_slope = self.zero_mode_velocity(modes[origin].real.to(torch.float64), damping[origin], variance[origin], rate[origin[1:]], noise[origin[1:]])
        velocity = gain.to(modes.dtype) * modes
        velocity[origin] = zero_velocity.to(velocity.dtype)
        divergence = (gain * self.grid.mode_multiplicity()).sum(dim=self.grid.field_axes) + zero_slope
        return irfft(velocity, self.grid.shape).to(phi.dtype), divergence.to(phi.dtype)

    def zero_mode_velocity(self, zero: torch.Tensor, damping: torch.Tensor, variance: torch.Tensor, rate: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """b̂(0) and ∂b̂(0)/∂ẑ ``[B]`` of the flowed pair ½N(±C a, V) at the zero mode ``zero`` ``[B]`` (module docstring)."""
        shift, spread = damping * self.zero_mean, damping.square() * self.zero_variance + variance
        bend = torch.tanh(shift * zero / spread)
        velocity = -rate * zero + 0.5 * noise * (zero - shift * bend) / spread
        slope = -rate + 0.5 * noise * (1 - shift.square() / spread * (1 - bend.square())) / spread
        return velocity, slope


__all__ = ["DataBase"]
