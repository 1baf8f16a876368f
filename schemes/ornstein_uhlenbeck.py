"""Schemes whose per-mode rate and noise do not depend on λ: exact OU transitions."""

from __future__ import annotations

import torch

from pdd_core.spectral import phi1
from schemes.base import SpectralScheme


def ou_variance(rate: torch.Tensor, noise: torch.Tensor, interval: torch.Tensor) -> torch.Tensor:
    """b² (1 - e^{-2rΔ}) / (2r) = b² Δ φ1(-2rΔ): exact at r = 0 and Δ = 0 (PDD Eq. 18)."""
    return noise * interval * phi1(-2.0 * rate * interval)


class StationaryOU(SpectralScheme):
    """A scheme with λ-independent κ(k) and b²(k); subclasses give both as functions of k²."""

    def _constant_rate(self, k2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _constant_noise(self, k2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _log_damping(self, k2, lam_a, lam_b):
        return -self._constant_rate(k2) * (lam_b - lam_a)

    def _variance(self, k2, lam_a, lam_b):
        return ou_variance(self._constant_rate(k2), self._constant_noise(k2), lam_b - lam_a)

    def _rate(self, k2, lam):
        return self._constant_rate(k2) + torch.zeros_like(lam)

    def _diffusion(self, k2, lam):
        return self._constant_noise(k2) + torch.zeros_like(lam)
