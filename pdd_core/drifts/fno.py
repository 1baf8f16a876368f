"""A Fourier Neural Operator drift in 1D or 2D with FiLM conditioning on λ (PDD B.2, D.5).

FNO (Li et al., 2021): a pointwise lifting W·C -> width, L Fourier layers

    h ← SiLU(FiLM_λ(K h + W h)),   (K h)^(k) = R(k) ĥ(k) for retained modes k, 0 otherwise,

and a pointwise projection MLP width -> projection_width -> C. The spectral weights R(k) are
complex ``width x width`` matrices, stored as real parameter pairs (last axis: real,
imaginary) so optimizers, EMA and DDP see ordinary real tensors. Retained modes: 1D keeps
rfft modes 0 <= n < modes; 2D keeps |n_1| < modes on the first axis (positive and negative
frequencies, a set closed under n -> -n) and 0 <= n_2 < modes on the rfft half of the last.
The grid coordinates are *not* appended to the input (unlike Li et al.), so the network
commutes exactly with every periodic shift. Paper sizes: width 64; Lorenz-96 8 layers, 56
of the 65 rfft modes of 128 points; Kolmogorov flow 6 layers, 16 modes on 40 x 40.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pdd_core.drifts.embedding import DriftNetwork, FiLM, check_count
from pdd_core.errors import ShapeError, bad_argument

_POINTWISE = {1: nn.Conv1d, 2: nn.Conv2d}


class SpectralConv(nn.Module):
    """K h = irfftn(R · rfftn(h)) on the retained modes (orthonormal FFTs, ``norm="ortho"``).

    Runs with autocast disabled, in the dtype of its weights, because CPU/GPU FFTs and
    complex products have no bfloat16 kernels.
    """

    def __init__(self, ndim: int, channels: int, modes: int):
        super().__init__()
        self.ndim = ndim
        self.modes = modes
        mode_shape = (modes,) if ndim == 1 else (2 * modes - 1, modes)
        # Per mode, a complex matrix with E|R_io|² = 1/channels keeps the feature variance.
        self.weight = nn.Parameter(torch.randn(channels, channels, *mode_shape, 2) * (2 * channels) ** -0.5)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        space = tuple(h.shape[2:])
        axes = tuple(range(-self.ndim, 0))
        with torch.autocast(device_type=h.device.type, enabled=False):
            weight = torch.view_as_complex(self.weight)
            spectrum = torch.fft.rfftn(h.to(self.weight.dtype), dim=axes, norm="ortho")
            m = self.modes
            if self.ndim == 1:
                mixed = torch.einsum("bix,iox->box", spectrum[..., :m], weight)
            else:
                rows = torch.cat([spectrum[..., :m, :m], spectrum[..., space[0] - m + 1 :, :m]], dim=-2)
                kept = torch.einsum("bixy,ioxy->boxy", rows, weight)
                gap = kept.new_zeros(*kept.shape[:-2], space[0] - (2 * m - 1), m)
                mixed = torch.cat([kept[..., :m, :], gap, kept[..., m:, :]], dim=-2)
            # irfftn zero-fills the dropped high modes of the last axis up to space[-1] // 2 + 1.
            return torch.fft.irfftn(mixed, s=space, dim=axes, norm="ortho")


class FourierLayer(nn.Module):
    """h ↦ SiLU(FiLM_λ(K h + W h)): spectral convolution plus a pointwise linear skip."""

    def __init__(self, ndim: int, width: int, modes: int, embedding_dim: int):
        super().__init__()
        self.spectral = SpectralConv(ndim, width, modes)
        self.pointwise = _POINTWISE[ndim](width, width, 1)
        self.film = FiLM(embedding_dim, width)

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return F.silu(self.film(self.spectral(h) + self.pointwise(h), embedding))


def _projection(ndim: int, width: int, hidden: int, out_channels: int) -> nn.Sequential:
    """Pointwise MLP width -> hidden -> out; the last layer is zero-initialised (output 0 at init)."""
    last = _POINTWISE[ndim](hidden, out_channels, 1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(_POINTWISE[ndim](width, hidden, 1), nn.SiLU(), last)


class FNO(DriftNetwork):
    """Fourier Neural Operator drift f_λ^θ (PDD B.2, D.5); ``ndim`` selects 1D or 2D.

    The drift head and the optional noise head are separate projection MLPs on the shared
    Fourier trunk, each with a zero-initialised last layer, so an untrained network returns
    exactly 0 and the FiLM layers start as the identity.
    """

    def __init__(
        self,
        channels: int,
        window: int = 5,
        ndim: int = 1,
        width: int = 64,
        layers: int = 8,
        modes: int = 56,
        projection_width: int = 128,
        embedding_dim: int = 128,
        noise_head: bool = False,
        linear_part: bool = False,
        conserve_mean: bool = False,
        forcing_part: bool = False,
        space: tuple[int, ...] | None = None,
    ):
        super().__init__(channels, window, ndim, embedding_dim, noise_head, linear_part, conserve_mean, forcing_part, space)
        check_count("width", width)
        check_count("layers", layers)
        check_count("modes", modes)
        check_count("projection_width", projection_width)
        self.width = width
        self.modes = modes
        self.lifting = _POINTWISE[ndim](self.in_channels, width, 1)
        self.fourier_layers = nn.ModuleList([FourierLayer(ndim, width, modes, embedding_dim) for _ in range(layers)])
        self.drift_head = _projection(ndim, width, projection_width, channels)
        self.noise_head = _projection(ndim, width, projection_width, channels) if noise_head else None

    def check_space(self, space: tuple[int, ...]) -> None:
        limits = [size // 2 + 1 for size in space]
        problem = f"modes={self.modes} exceeds the {limits[-1]} rfft modes of the last axis (size {space[-1]})"
        if self.ndim == 2:
            limits[0] = (space[0] + 1) // 2
            problem = f"modes={self.modes} needs 2·modes-1 <= {space[0]} on the first axis and modes <= {space[1] // 2 + 1} on the last"
        if self.modes > min(limits):
            fix = f"build the FNO with modes <= {min(limits)} for this grid"
            raise bad_argument("modes", self.modes, f"{problem} of the grid {space}", fix, kind=ShapeError)

    def trunk(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.lifting(x)
        for layer in self.fourier_layers:
            h = layer(h, embedding)
        return h


__all__ = ["FNO", "FourierLayer", "SpectralConv"]
