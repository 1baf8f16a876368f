"""A λ-dependent linear part of a neural drift, beside its normalised trunk.

The U-Net's GroupNorm layers (and its output norm) make the trunk's features nearly blind to the
amplitude and the spatial mean of the window: normalising a group removes both. The drift of a
physical system is not: Lorenz-96's X damps at rate 1, and at λ > 0 the optimal drift pulls a
noise-dominated mode back in proportion to its amplitude (the drift of a linear Gaussian field is
linear in the window per mode, PDD Eqs. 47, 52-54). This part adds

    ℓ_λ(x) = Σ_j g_j(e(λ)) · (A_j ⊛ x),   j = 1..J,

a periodic convolution A_j of the stacked window x (W·C channels) per basis j, mixed by gates g_j
read from the λ embedding e(λ): a linear operator whose symbol varies with λ, and which sees the
k = 0 mode (the spatial mean) and the amplitude directly. The kernels start at zero, so an
untrained drift still returns exactly 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pdd_core.errors import bad_argument

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}


class LinearPart(nn.Module):
    """ℓ_λ(x) = Σ_j g_j(e(λ)) (A_j ⊛ x) with periodic kernels of odd width ``kernel`` (module docstring)."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int, embedding_dim: int, bases: int = 4, kernel: int = 5):
        super().__init__()
        for name, value in (("bases", bases), ("kernel", kernel)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1 or (name == "kernel" and value % 2 == 0):
                raise bad_argument(name, value, "must be an integer >= 1 (odd for the kernel, so the operator is centred)", f"pass e.g. {name}=5")
        self.ndim, self.out_channels, self.bases, self.kernel = ndim, out_channels, bases, kernel
        self.kernels = _CONV[ndim](in_channels, bases * out_channels, self.kernel, bias=True)
        nn.init.zeros_(self.kernels.weight)
        nn.init.zeros_(self.kernels.bias)
        # The gates keep torch's random initialisation: with equal gates the J kernels would stay equal.
        self.gates = nn.Linear(embedding_dim, bases * out_channels)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """x ``[B, W·C, *space]``, embedding ``[B, embedding_dim]`` -> ``[B, C, *space]``."""
        padded = F.pad(x, (self.kernel // 2,) * (2 * self.ndim), mode="circular")
        per_basis = self.kernels(padded)
        gates = self.gates(embedding).reshape(*per_basis.shape[:2], *([1] * self.ndim))
        return (per_basis * gates).reshape(x.shape[0], self.bases, self.out_channels, *x.shape[2:]).sum(1)


__all__ = ["LinearPart"]
