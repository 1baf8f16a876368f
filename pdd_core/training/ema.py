"""Exponential moving average of a model's weights (the weights used for sampling)."""

from __future__ import annotations

import torch
from torch import nn

from pdd_core.errors import ShapeError, bad_argument


class EMA:
    """θ_ema ← d · θ_ema + (1 - d) · θ after every optimizer step, starting from θ_ema = θ_0.

    After k updates with fixed θ: θ_ema = d^k θ_0 + (1 - d^k) θ. Buffers are not averaged:
    :meth:`state_dict` takes them from the model, so it loads straight into a fresh model.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay <= 1.0:
            raise bad_argument("ema_decay", decay, "must lie in [0, 1]", "use e.g. ema_decay=0.999")
        self.decay = float(decay)
        self.model = model
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters()}

    @torch.no_grad()
    def update(self) -> None:
        names = list(self.shadow)
        parameters = dict(self.model.named_parameters())
        # lerp(s, θ, 1 - d) = s + (1 - d)(θ - s) = d·s + (1 - d)·θ, in one fused pass.
        torch._foreach_lerp_([self.shadow[n] for n in names], [parameters[n].detach() for n in names], 1.0 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A model ``state_dict`` holding the averaged parameters (and the model's buffers)."""
        state = {name: value.detach().clone() for name, value in self.model.state_dict().items()}
        state.update({name: value.clone() for name, value in self.shadow.items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise bad_argument(
                "ema state", sorted(missing)[:5], "lacks parameters of the model", "load an EMA state saved from the same model", kind=ShapeError
            )
        for name, value in self.shadow.items():
            if state[name].shape != value.shape:
                raise bad_argument(
                    f"ema state[{name!r}].shape",
                    tuple(state[name].shape),
                    f"expected {tuple(value.shape)}",
                    "load an EMA state saved from the same model",
                    kind=ShapeError,
                )
            value.copy_(state[name])


__all__ = ["EMA"]
