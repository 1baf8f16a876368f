"""The Carosso scheme with optional mass and uniform damping."""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.registry import SCHEMES
from pdd_core.validation import check_positive, positive
from schemes.base import check_zero_mode
from schemes.ornstein_uhlenbeck import StationaryOU


def _non_negative(instance, attribute, value) -> None:
    check_positive(attribute.name, value, allow_zero=True)


@SCHEMES.register("carosso")
@attrs.frozen
class Carosso(StationaryOU):
    """``∂λ u = (α∇² - M² - γ) u + β η`` (PDD Eq. 1 and Eq. 67; RDM 5.9, 5.20, 7.1).

    Per mode the rate is κ(k) = α|k|² + M² + γ and the noise b² = β², so (PDD Eqs. 17-18)

        C̃_λ(k) = exp(-κλ),   Σ̃_λ(k) = β² (1 - exp(-2κλ)) / (2κ).

    ``|k|²`` is the grid's symbol (continuous for PDD, lattice for RDM). With the lattice
    symbol, ``alpha=1``, ``mass=M`` and ``beta = sqrt(2) * a**(-d/2)`` (a the lattice spacing)
    this is exactly RDM's M-modified kernel (5.20) written for site variables and orthonormal
    modes. With ``mass = gamma = 0`` the k = 0 mode has zero rate and is excluded by default
    (PDD A.2: standardised data has no constant mode).
    """

    alpha: float = attrs.field(default=0.1, validator=_non_negative)
    beta: float = attrs.field(default=2.0**0.5, validator=positive)
    mass: float = attrs.field(default=0.0, validator=_non_negative)
    gamma: float = attrs.field(default=0.0, validator=_non_negative)
    zero_mode: str = attrs.field(default="auto", validator=check_zero_mode)

    # The equation of RDM whose lattice kernel ``rdm_lattice`` builds (``pdd rg-flow`` records it).
    rdm_kernel = "5.20"

    @classmethod
    def rdm_lattice(cls, spacing: float, ndim: int, mass: float) -> Carosso:
        """RDM's M-modified kernel (5.20, noise Ω = 2/L^d) in orthonormal site variables: α = 1, β = sqrt(2) a^{-d/2}."""
        return cls(alpha=1.0, beta=math.sqrt(2.0) * spacing ** (-ndim / 2), mass=mass)

    def _constant_rate(self, k2: torch.Tensor) -> torch.Tensor:
        return self.alpha * k2 + (self.mass**2 + self.gamma)

    def _constant_noise(self, k2: torch.Tensor) -> torch.Tensor:
        return torch.full_like(k2, self.beta**2)
