"""The network as the trainer hands it to an objective: one ``forward`` for both heads (so DDP sees every call)."""

from __future__ import annotations

import attrs
import torch
from torch import nn


class TrainingNetwork(nn.Module):
    """One ``forward`` for both heads, so DDP sees every call; bf16 autocast wraps only the network.

    The outputs are cast back to the dtype of the history, so the loss (and, later, the
    autograd path score) is never computed in reduced precision (PDD B.3 uses fp16 AMP; here
    only bfloat16 is offered, whose range cannot overflow).
    """

    def __init__(self, network: nn.Module, bf16: bool):
        super().__init__()
        self.network = network
        self.bf16 = bf16

    def forward(self, history: torch.Tensor, lam: torch.Tensor, with_noise: bool = False):
        with torch.autocast(device_type=history.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            outputs = self.network.forward_with_noise(history, lam) if with_noise else (self.network(history, lam),)
        outputs = tuple(output.to(history.dtype) for output in outputs)
        return outputs if with_noise else outputs[0]


@attrs.frozen(eq=False)
class NetworkView:
    """What an objective calls: ``view(history, lam)``, ``view.forward_with_noise``, ``view.window``."""

    module: nn.Module
    window: int

    def __call__(self, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        return self.module(history, lam)

    def forward_with_noise(self, history: torch.Tensor, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.module(history, lam, True)


__all__ = ["NetworkView", "TrainingNetwork"]
