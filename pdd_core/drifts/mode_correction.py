"""A drift with a per-mode linear term on its last state: the correction of a fitted stochastic closure."""

from __future__ import annotations

import torch
from torch import nn

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


class ModeCorrectedDrift(nn.Module):
    """f_λ(window) + F⁻¹[c(k) û_n(k)]: ``drift`` plus a real coefficient per channel and Fourier mode times the window's last state.

    ``coefficients`` ``[1, C, *rfft_shape]``: c(k) < 0 damps a mode, c(k) > 0 undamps it. Used by
    stochastic rollouts whose closure is fitted to the climate
    (:class:`~pdd_core.apps.inference.climate_noise.ClimateClosure`).
    """

    def __init__(self, drift: nn.Module, grid: Grid, coefficients: torch.Tensor):
        super().__init__()
        expected = (1, grid.channels, *grid.rfft_shape)
        if tuple(coefficients.shape) != expected or not bool(torch.isfinite(coefficients).all()):
            raise bad_argument("coefficients", tuple(coefficients.shape), f"must be finite and shaped {expected} ([1, C, *rfft])", "pass one real coefficient per channel and rfft mode", kind=ShapeError)
        self.drift, self.grid, self.window = drift, grid, drift.window
        self.register_buffer("coefficients", coefficients.detach().clone())

    def forward(self, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        last = history[:, -1]
        correction = irfft(rfft(last, self.grid.ndim) * self.coefficients.to(device=last.device, dtype=last.dtype), self.grid.shape)
        return self.drift(history, lam) + correction.to(last.dtype)


__all__ = ["ModeCorrectedDrift"]
