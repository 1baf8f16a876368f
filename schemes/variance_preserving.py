"""The variance-preserving diffusion: the DDPM baseline of PDD B.4."""

from __future__ import annotations

import attrs
import torch

from pdd_core.registry import SCHEMES
from pdd_core.validation import positive
from schemes.base import check_zero_mode
from schemes.ornstein_uhlenbeck import StationaryOU


@SCHEMES.register("variance-preserving")
@attrs.frozen
class VariancePreserving(StationaryOU):
    """``∂λ u = -γ u + sqrt(2γ) η``: every mode decays alike (PDD B.4 and Eq. 67 with α = 0).

    C̃_λ = exp(-γλ), Σ̃_λ = 1 - exp(-2γλ), so unit-variance data keeps unit variance. It has
    no spatial hierarchy, which is why it is the DDPM baseline (γ = 3 in PDD B.4).
    """

    gamma: float = attrs.field(default=3.0, validator=positive)
    zero_mode: str = attrs.field(default="auto", validator=check_zero_mode)

    def _constant_rate(self, k2: torch.Tensor) -> torch.Tensor:
        return torch.full_like(k2, self.gamma)

    def _constant_noise(self, k2: torch.Tensor) -> torch.Tensor:
        return torch.full_like(k2, 2.0 * self.gamma)
