"""A drift with a per-mode linear term on its last state and a per-channel constant: the correction of a fitted stochastic closure."""

from __future__ import annotations

import attrs
import torch
from torch import nn

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


@attrs.frozen(eq=False)
class ModeCorrection:
    """What a closure adds to a drift: ``linear`` c(k) ``[1, C, *rfft]`` (times û_n(k)) and ``offset`` d_c ``[1, C]`` (a constant field per channel, the k = 0 mode's forcing).

    c(k) < 0 damps a mode, c(k) > 0 undamps it; d shifts the spatial mean's equilibrium.
    """

    linear: torch.Tensor
    offset: torch.Tensor | None = None

    def checked(self, grid: Grid) -> ModeCorrection:
        """Itself with ``offset`` zeros if None, after checking both shapes against ``grid`` (one-line errors)."""
        expected = (1, grid.channels, *grid.rfft_shape)
        if tuple(self.linear.shape) != expected or not bool(torch.isfinite(self.linear).all()):
            raise bad_argument("coefficients", tuple(self.linear.shape), f"must be finite and shaped {expected} ([1, C, *rfft])", "pass one real coefficient per channel and rfft mode", kind=ShapeError)
        offset = torch.zeros(1, grid.channels, dtype=self.linear.dtype) if self.offset is None else self.offset
        if tuple(offset.shape) != (1, grid.channels) or not bool(torch.isfinite(offset).all()):
            raise bad_argument("offset", tuple(offset.shape), f"must be finite and shaped (1, {grid.channels}) ([1, C])", "pass one constant per channel", kind=ShapeError)
        return ModeCorrection(self.linear, offset)


class ModeCorrectedDrift(nn.Module):
    """f_λ(window) + F⁻¹[c(k) û_n(k)] + d: ``drift`` plus a real coefficient per channel and Fourier mode times the window's last state, plus a constant per channel.

    ``correction`` is a :class:`ModeCorrection`. Used by
    stochastic rollouts whose closure is fitted to the climate
    (:class:`~pdd_core.apps.inference.climate_closure.ClimateClosure`).
    """

    def __init__(self, drift: nn.Module, grid: Grid, correction: ModeCorrection):
        super().__init__()
        correction = correction.checked(grid)
        self.drift, self.grid, self.window = drift, grid, drift.window
        self.register_buffer("coefficients", correction.linear.detach().clone())
        self.register_buffer("offset", correction.offset.detach().clone().reshape(1, grid.channels, *(1,) * grid.ndim))

    def forward(self, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        last = history[:, -1]
        correction = irfft(rfft(last, self.grid.ndim) * self.coefficients.to(device=last.device, dtype=last.dtype), self.grid.shape)
        return self.drift(history, lam) + (correction + self.offset.to(device=last.device, dtype=last.dtype)).to(last.dtype)


__all__ = ["ModeCorrectedDrift", "ModeCorrection"]
