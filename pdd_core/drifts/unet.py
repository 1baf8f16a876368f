"""A periodic U-Net drift in 1D or 2D with FiLM conditioning on λ (PDD B.2).

Layout (PDD B.2: "increased to 32 by convolution, ... progressively reduced ... self-attention
... restored"), for ``widths = (w_0, ..., w_{L-1})``:

    stem conv (W·C -> base)
    level l = 0..L-1:  residual blocks -> w_l at N / 2^l  (kept as skip)  ->  stride-2 conv
    middle at N / 2^L:  residual block, self-attention, residual block (w_{L-1})
    level l = L-1..0:  upsample (transposed conv) -> concat skip_l -> residual blocks -> w_l
    GroupNorm, SiLU, 3-point conv -> C   (and a second such conv for the noise head)

Every convolution is periodic, so the network commutes exactly with shifts by multiples of
2^L grid points (the stride-2 convolutions alias finer shifts). Upsampling is an exact
*periodic* transposed convolution: circular padding by one cell, ``ConvTranspose`` with
kernel 4 and stride 2, and a crop of 3 cells per side (``padding=3``) — every output point
then receives precisely the contributions of a transposed convolution on the circle, with
no zero-boundary artefacts (torch's ``ConvTranspose`` has no circular padding mode).
Residual blocks use GroupNorm, SiLU (Swish) and FiLM after the second normalisation; the
attention at the coarsest level has no positional encoding, so it keeps the equivariance.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pdd_core.drifts.embedding import DriftNetwork, FiLM, check_count
from pdd_core.errors import ShapeError, bad_argument

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_CONV_TRANSPOSE = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}


def periodic_conv(ndim: int, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Module:
    """A convolution with circular padding: kernel 3, stride 1 keeps the size; stride 2 halves it."""
    return _CONV[ndim](in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, padding_mode="circular")


def group_norm(channels: int, max_groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= max_groups that divides ``channels``."""
    return nn.GroupNorm(math.gcd(channels, max_groups), channels)


class PeriodicUpsample(nn.Module):
    """x2 upsampling by a transposed convolution on the circle (kernel 4, stride 2).

    Circular padding by one cell supplies the wrap-around neighbours; ``padding=3`` crops the
    full transposed output ((N+2-1)·2 + 4 = 2N + 6 points) to the 2N points of the periodic
    result, which therefore equals the transposed convolution computed modulo 2N.
    """

    def __init__(self, ndim: int, channels: int):
        super().__init__()
        self.ndim = ndim
        self.transposed = _CONV_TRANSPOSE[ndim](channels, channels, 4, stride=2, padding=3)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.transposed(F.pad(h, (1, 1) * self.ndim, mode="circular"))


class ResidualBlock(nn.Module):
    """h + conv(SiLU(FiLM_λ(GN(conv(SiLU(GN(h))))))), with a 1x1 projection of h if widths differ."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int, embedding_dim: int, norm_groups: int):
        super().__init__()
        self.norm_in = group_norm(in_channels, norm_groups)
        self.conv_in = periodic_conv(ndim, in_channels, out_channels)
        self.norm_out = group_norm(out_channels, norm_groups)
        self.film = FiLM(embedding_dim, out_channels)
        self.conv_out = periodic_conv(ndim, out_channels, out_channels)
        self.skip = nn.Identity() if in_channels == out_channels else _CONV[ndim](in_channels, out_channels, 1)

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        update = self.conv_in(F.silu(self.norm_in(h)))
        update = self.conv_out(F.silu(self.film(self.norm_out(update), embedding)))
        return self.skip(h) + update


class SelfAttention(nn.Module):
    """Residual multi-head self-attention over all grid points (Vaswani et al., 2017).

    No positional encoding: attention is permutation-equivariant over points, so it keeps
    the U-Net's translation equivariance; position enters only through the conv features.
    """

    def __init__(self, channels: int, heads: int, norm_groups: int):
        super().__init__()
        self.heads = heads
        self.norm = group_norm(channels, norm_groups)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        batch, channels = h.shape[:2]
        tokens = self.norm(h).flatten(2).transpose(1, 2)  # [B, points, C]
        q, k, v = self.qkv(tokens).reshape(batch, -1, 3, self.heads, channels // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, -1, channels)
        return h + self.out(attended).transpose(1, 2).reshape(h.shape)


class UNet(DriftNetwork):
    """Periodic U-Net drift f_λ^θ (PDD B.2); ``ndim`` selects 1D or 2D convolutions.

    Paper widths: 1D (Lorenz-96) ``base=32, widths=(64, 128, 128, 192)`` (128 -> 8 points);
    2D (Kolmogorov flow) ``base=32, widths=(64, 128, 192)`` (40 -> 5 points). Every spatial
    size must be divisible by 2^len(widths). The output convolutions (drift and noise heads)
    are zero-initialised, so an untrained network returns exactly 0: training starts from
    the "no change" drift, and the FiLM layers start as the identity.
    """

    def __init__(
        self,
        channels: int,
        window: int = 5,
        ndim: int = 1,
        base: int = 32,
        widths: tuple[int, ...] = (64, 128, 128, 192),
        blocks_per_level: int = 1,
        attention_heads: int = 4,
        norm_groups: int = 32,
        embedding_dim: int = 128,
        noise_head: bool = False,
        linear_part: bool = False,
        conserve_mean: bool = False,
        forcing_part: bool = False,
        space: tuple[int, ...] | None = None,
    ):
        super().__init__(channels, window, ndim, embedding_dim, noise_head, linear_part, conserve_mean, forcing_part, space)
        widths = tuple(widths)
        if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
            raise bad_argument("widths", widths, "needs at least one positive integer width per level", "pass e.g. widths=(64, 128, 128, 192)")
        check_count("base", base)
        check_count("blocks_per_level", blocks_per_level)
        check_count("attention_heads", attention_heads)
        check_count("norm_groups", norm_groups)
        if widths[-1] % attention_heads:
            raise bad_argument("attention_heads", attention_heads, f"must divide the coarsest width {widths[-1]}", "pick a divisor of widths[-1], e.g. 4")
        self.widths = widths
        self.levels = len(widths)

        def block(c_in: int, c_out: int) -> ResidualBlock:
            return ResidualBlock(ndim, c_in, c_out, embedding_dim, norm_groups)

        self.stem = periodic_conv(ndim, self.in_channels, base)
        self.encoder = nn.ModuleList()
        self.downsample = nn.ModuleList()
        previous = base
        for width in widths:
            self.encoder.append(nn.ModuleList([block(previous if i == 0 else width, width) for i in range(blocks_per_level)]))
            self.downsample.append(periodic_conv(ndim, width, width, stride=2))
            previous = width
        self.middle_in = block(widths[-1], widths[-1])
        self.attention = SelfAttention(widths[-1], attention_heads, norm_groups)
        self.middle_out = block(widths[-1], widths[-1])
        self.upsample = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in reversed(range(self.levels)):
            below = widths[min(level + 1, self.levels - 1)]
            self.upsample.append(PeriodicUpsample(ndim, below))
            self.decoder.append(nn.ModuleList([block(below + widths[level] if i == 0 else widths[level], widths[level]) for i in range(blocks_per_level)]))
        self.output_norm = group_norm(widths[0], norm_groups)
        self.drift_head = self._zero_conv(ndim, widths[0], channels)
        self.noise_head = self._zero_conv(ndim, widths[0], channels) if noise_head else None

    @staticmethod
    def _zero_conv(ndim: int, in_channels: int, out_channels: int) -> nn.Module:
        conv = periodic_conv(ndim, in_channels, out_channels)
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
        return conv

    def check_space(self, space: tuple[int, ...]) -> None:
        factor = 2**self.levels
        if any(size % factor for size in space):
            raise bad_argument(
                "history.shape[3:]",
                space,
                f"every spatial size must be divisible by 2^levels = {factor} for the {self.levels} stride-2 downsamplings of widths={self.widths}",
                f"use fewer levels (len(widths) <= {min((s & -s).bit_length() - 1 for s in space)}) or a grid whose sizes are multiples of {factor}",
                kind=ShapeError,
            )

    def trunk(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        skips = []
        for blocks, down in zip(self.encoder, self.downsample):
            for residual in blocks:
                h = residual(h, embedding)
            skips.append(h)
            h = down(h)
        h = self.middle_out(self.attention(self.middle_in(h, embedding)), embedding)
        for up, blocks in zip(self.upsample, self.decoder):
            h = torch.cat([up(h), skips.pop()], dim=1)
            for residual in blocks:
                h = residual(h, embedding)
        return F.silu(self.output_norm(h))


__all__ = ["PeriodicUpsample", "ResidualBlock", "SelfAttention", "UNet", "group_norm", "periodic_conv"]
