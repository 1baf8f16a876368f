"""The Carosso scheme with an a-priori field rescaling c_t (RDM 5.49-5.50)."""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.registry import SCHEMES
from pdd_core.validation import non_negative, positive
from schemes.base import check_zero_mode
from schemes.ornstein_uhlenbeck import StationaryOU


@SCHEMES.register("carosso-rescaled")
@attrs.frozen
class RescaledCarosso(StationaryOU):
    """``∂λ u = (α∇² - M² + g) u + β η``: RDM 5.50, the M-modified Carosso SDE with c_t = e^{g t} chosen a priori.

    RDM 5.49 adds -∂t log(c_t) Σ_p φ̃(p)φ̃(-p)/B̃_t to the seed action, which turns the Carosso SDE
    into 5.50, ∂t φ = (Δ + ∂t log c_t) φ + η with the noise unchanged. For c_t = e^{g t} every mode's
    rate drops by g, so the kernel keeps the Carosso form with κ = α|k|² + M² - g:

        C̃_t(k) = exp(-κ t),   Σ̃_t(k) = β² (1 - exp(-2κt)) / (2κ)   (β² t at κ = 0).

    ``growth`` g = M² (the default of :meth:`rdm_lattice`) is the a-priori choice that undoes the
    M-modification on the zero mode (RDM 7.1): the lattice mean is no longer damped and its flow is
    the unmodified Carosso flow's, while every other mode is rescaled by e^{M² t}. The zero mode
    is always kept (its rate may be 0 or negative). With ``growth = 0`` this is :class:`~schemes.carosso.Carosso`.
    Compare its flow with Carosso's c(t) of RDM 5.55 (``pdd rg-flow --scheme carosso carosso-rescaled --compare``).
    """

    alpha: float = attrs.field(default=0.1, validator=non_negative)
    beta: float = attrs.field(default=2.0**0.5, validator=positive)
    mass: float = attrs.field(default=0.0, validator=non_negative)
    growth: float = attrs.field(default=0.0, validator=non_negative)
    zero_mode: str = attrs.field(default="keep", validator=check_zero_mode)

    # The equation of RDM whose lattice kernel ``rdm_lattice`` builds (``pdd rg-flow`` records it).
    rdm_kernel = "5.50"

    @classmethod
    def rdm_lattice(cls, spacing: float, ndim: int, mass: float) -> RescaledCarosso:
        """RDM 5.50 on the lattice of 5.20 (α = 1, β = sqrt(2) a^{-d/2}, mass M) with c_t = e^{M² t}."""
        return cls(alpha=1.0, beta=math.sqrt(2.0) * spacing ** (-ndim / 2), mass=mass, growth=mass**2)

    def field_rescaling(self, t: float) -> float:
        """The a-priori c_t = e^{g t} of the flow at RG time t."""
        return math.exp(self.growth * t)

    def _constant_rate(self, k2: torch.Tensor) -> torch.Tensor:
        return self.alpha * k2 + (self.mass**2 - self.growth)

    def _constant_noise(self, k2: torch.Tensor) -> torch.Tensor:
        return torch.full_like(k2, self.beta**2)


__all__ = ["RescaledCarosso"]
