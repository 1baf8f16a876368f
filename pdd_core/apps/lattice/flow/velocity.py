"""The velocity field of RDM's continuous normalizing flow (RDM 5.8) on a periodic lattice, with its exact divergence.

b_θ(φ, s) = F⁻¹[c_θ(|p̂|², s) φ̂] + g_θ(φ_n, h_n(φ), s)

* a Fourier-diagonal linear part: one coefficient per lattice momentum, a small network of
  (|p̂|², s). It is what the exact flow of a free theory is (per mode φ̂_t is Gaussian, so its
  probability-flow velocity is linear), and its divergence is Σ_p c_θ(p, s);
* a *hollow* nonlinear part (HollowNet, Chen & Duvenaud 2019): h_n is a circular convolution of
  the neighbours of site n with the centre tap masked out, so h_n does not depend on φ_n, and
  g_θ is a per-site network (1x1 convolutions) of (φ_n, h_n, s). Then ∂b_n/∂φ_n = ∂g_θ/∂φ_n, and
  the exact divergence Σ_n ∂g_n/∂φ_n is one forward-mode pass through the per-site layers
  instead of N² backward passes (or a Hutchinson estimate).

Both parts commute with lattice translations (the network is translation-equivariant, as the
continuous flows RDM cites for φ⁴, Gerdes et al. 2023), and b_θ(-φ) = -b_θ(φ) (the odd
activation and bias-free φ-paths keep the Z2 symmetry of the theory). ``s`` is the flow's time
variable (:mod:`pdd_core.apps.lattice.flow.cnf` uses the log RG time).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


class TimeFeatures(nn.Module):
    """Fourier features of the flow time s mapped to u = (s - s_min) / (s_max - s_min) in [0, 1]."""

    def __init__(self, s_min: float, s_max: float, count: int = 4):
        super().__init__()
        self.s_min, self.span, self.count = s_min, s_max - s_min, count

    @property
    def size(self) -> int:
        return 2 * self.count + 1

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        u = (s - self.s_min) / self.span
        frequencies = math.pi * torch.arange(1, self.count + 1, dtype=u.dtype, device=u.device)
        return torch.cat([u.unsqueeze(-1), torch.sin(u.unsqueeze(-1) * frequencies), torch.cos(u.unsqueeze(-1) * frequencies)], dim=-1)


class LatticeVelocity(nn.Module):
    """b_θ(φ, s) of the module docstring for fields ``[B, *grid.shape]`` (d = 1 or 2); ``forward`` returns ``(b, div b)``.

    ``field_scale`` sets the units the network sees (φ / field_scale, b in the same units back);
    ``hidden`` the channels of the hollow part, ``kernel`` its neighbourhood (odd, centre masked,
    and so is every tap that wraps around a small periodic lattice onto the site itself).
    ``base`` (a :class:`~pdd_core.apps.lattice.flow.base.DataBase`, or None for RDM's flow) adds
    the exact velocity of a base law, so the network learns a correction to it; s is then
    log(t + ε) with ε = e^{s_min}, as :mod:`~pdd_core.apps.lattice.flow.cnf` sets it.
    """

    def __init__(self, grid: Grid, s_min: float, s_max: float, *, hidden: int = 16, kernel: int = 5, field_scale: float = 1.0, base=None):
        super().__init__()
        self.base, self.epsilon = base, math.exp(s_min)
        if not isinstance(kernel, int) or kernel % 2 != 1 or kernel < 3:
            raise bad_argument("kernel", kernel, "the hollow convolution needs an odd size >= 3 (its centre tap is masked)", "use kernel=3 or 5")
        self.grid, self.field_scale = grid, float(field_scale)
        self.time = TimeFeatures(s_min, s_max)
        k2 = grid.k2(torch.float64)
        self.register_buffer("momentum", (k2 / k2.max()).to(torch.float32), persistent=False)
        self.register_buffer("multiplicity", grid.mode_multiplicity(torch.float32), persistent=False)
        self.linear = nn.Sequential(nn.Linear(1 + self.time.size, 32), nn.SiLU(), nn.Linear(32, 32), nn.SiLU(), nn.Linear(32, 1))
        if grid.ndim not in CONVOLUTIONS:
            raise bad_argument("grid", grid.shape, "the flow's convolutions are defined on 1-d and 2-d lattices", "use a chain or a square lattice")
        convolution = CONVOLUTIONS[grid.ndim]
        self.neighbours = convolution(1, hidden, kernel, bias=False)  # applied circularly with its centre masked (_hollow_conv)
        self.register_buffer("hollow", hollow_mask(grid.shape, kernel), persistent=False)
        self.site = nn.Sequential(
            convolution(1 + hidden, hidden, 1, bias=False), nn.Tanh(), convolution(hidden, hidden, 1, bias=False), nn.Tanh(), convolution(hidden, 1, 1, bias=False)
        )
        self.site_time = nn.Linear(self.time.size, 2 * hidden)  # per-channel gains of the two hidden layers
        nn.init.zeros_(self.site[-1].weight)  # start as the linear (Gaussian) flow
        if base is not None:  # start as the base law's exact flow: the network's correction is zero
            nn.init.zeros_(self.linear[-1].weight)
            nn.init.zeros_(self.linear[-1].bias)

    def coefficients(self, s: torch.Tensor) -> torch.Tensor:
        """c_θ(|p̂|², s) on the rfft layout, ``[B, *rfft]``."""
        features = self.time(s)  # [B, F]
        momentum = self.momentum.to(features.dtype)
        per_mode = features.reshape(features.shape[0], *[1] * momentum.dim(), -1).expand(-1, *momentum.shape, -1)
        inputs = torch.cat([momentum.expand(features.shape[0], *momentum.shape).unsqueeze(-1), per_mode], dim=-1)
        return self.linear(inputs).squeeze(-1)

    def forward(self, phi: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(b, div b)``: the velocity ``[B, *grid.shape]`` and its exact divergence ``[B]`` at flow time ``s`` ``[B]``, both differentiable in θ.

        ``s`` of shape ``[1]`` is one flow time for the whole batch: c_θ and the site gains are then
        computed once instead of per sample (a sampler's RK4 stages share their time).
        """
        x = phi / self.field_scale
        axes = self.grid.field_axes
        c = self.coefficients(s)
        linear = irfft(c.to(x.dtype) * rfft(x, self.grid.ndim), self.grid.shape)
        linear_divergence = (c * self.multiplicity.to(c.dtype)).sum(dim=axes)
        h = _hollow_conv(x, self.neighbours.weight * self.hollow)
        gains = self.site_time(self.time(s)).reshape(s.shape[0], -1, *[1] * self.grid.ndim)  # [B or 1, 2H, 1, ...]
        first, second = gains.chunk(2, dim=1)
        layer = self.site
        z1 = torch.tanh(layer[0](torch.cat([x.unsqueeze(1), h], dim=1)) * (1 + first))
        z2 = torch.tanh(layer[2](z1) * (1 + second))
        g = layer[4](z2).squeeze(1)
        # ∂g_n/∂x_n by the chain rule through the per-site layers (forward mode: h_n does not depend on x_n,
        # so only the first layer's own-value column enters); one pass, no nested autograd.
        own = layer[0].weight[:, :1].reshape(1, -1, *[1] * self.grid.ndim)
        tangent = own * (1 + first) * (1 - z1.square())
        tangent = layer[2](tangent) * (1 + second) * (1 - z2.square())
        diagonal = layer[4](tangent).squeeze(1)
        velocity, divergence = (linear + g) * self.field_scale, linear_divergence + diagonal.sum(dim=axes)
        if self.base is None:
            return velocity, divergence
        return self._with_base(phi, s, velocity, divergence)

    def _with_base(self, phi: torch.Tensor, s: torch.Tensor, velocity: torch.Tensor, divergence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the base law's velocity, converted from RG time to s: dφ/ds = (t + ε) dφ/dt with t + ε = e^s."""
        dt_ds = torch.exp(s)
        base_velocity, base_divergence = self.base.velocity(phi, (dt_ds - self.epsilon).clamp_min(0.0))
        return velocity + base_velocity * dt_ds.reshape(-1, *[1] * self.grid.ndim), divergence + base_divergence * dt_ds


CONVOLUTIONS = {1: nn.Conv1d, 2: nn.Conv2d}


def hollow_mask(shape: tuple[int, ...], kernel: int) -> torch.Tensor:
    """``[1, 1, K, ...]``: 0 on every tap whose offset is a multiple of the lattice size on every axis (the site itself), else 1.

    On a lattice smaller than the kernel a tap can wrap around onto the centre site (offset ±2 on
    N = 2); masking those keeps ∂h_n/∂φ_n = 0, which the one-pass exact divergence relies on.
    """
    offsets = torch.arange(kernel) - kernel // 2
    grids = torch.meshgrid(*[offsets.remainder(n) == 0 for n in shape], indexing="ij")
    onto_itself = torch.stack(grids).all(dim=0)
    return (~onto_itself).to(torch.float32)[None, None]


def _hollow_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Circular convolution of ``x`` ``[B, *shape]`` with ``weight`` ``[H, 1, K, ...]`` (self-taps already masked)."""
    ndim, pad = weight.dim() - 2, weight.shape[-1] // 2
    padded = nn.functional.pad(x.unsqueeze(1), (pad, pad) * ndim, mode="circular")
    return (nn.functional.conv1d if ndim == 1 else nn.functional.conv2d)(padded, weight)


__all__ = ["LatticeVelocity", "TimeFeatures", "hollow_mask"]
