"""Exponential moving average of a model's weights (the weights used for sampling)."""

from __future__ import annotations

import math

import torch
from torch import nn

from pdd_core.errors import ShapeError, bad_argument


class EMA:
    """The weights averaged over training with weights d^(k-j), normalised, after k updates.

    θ_ema(k) = Σ_{j=1..k} d^(k-j) θ_j / Σ_{j=1..k} d^(k-j): the initial weights θ_0 carry no
    weight. The plain recursion θ_ema ← d·θ_ema + (1 - d)·θ from θ_ema = θ_0 keeps d^k of θ_0,
    which for short trainings is most of the average (the defaults d = 0.999 and 1000 steps: 37 %
    of the sampling network is its random initialisation). The same average is the recursion
    θ_ema ← θ_ema + w_k (θ_k - θ_ema) with w_k = (1 - d)/(1 - d^k), w_1 = 1; d = 1 gives
    w_k = 1/k, the uniform (Polyak) average, and d = 0 the last weights. Buffers are not
    averaged: :meth:`state_dict` takes them from the model, so it loads straight into a fresh model.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay <= 1.0:
            raise bad_argument("ema_decay", decay, "must lie in [0, 1]", "use e.g. ema_decay=0.999")
        self.decay = float(decay)
        self.model = model
        self.updates = 0
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters()}

    def weight(self, k: int) -> float:
        """w_k, the weight of the k-th update's parameters (k ≥ 1)."""
        if self.decay == 0.0:
            return 1.0
        if self.decay == 1.0:
            return 1.0 / k
        # 1 - d^k as -expm1(k·log d): no cancellation where d is close to 1.
        return (1.0 - self.decay) / -math.expm1(k * math.log(self.decay))

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        names = list(self.shadow)
        parameters = dict(self.model.named_parameters())
        # lerp(s, θ, w) = s + w(θ - s), in one fused pass.
        torch._foreach_lerp_([self.shadow[n] for n in names], [parameters[n].detach() for n in names], self.weight(self.updates))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A model ``state_dict`` holding the averaged parameters (and the model's buffers)."""
        state = {name: value.detach().clone() for name, value in self.model.state_dict().items()}
        state.update({name: value.clone() for name, value in self.shadow.items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor], updates: int) -> None:
        """Restore the averaged parameters of a run that has taken ``updates`` optimizer steps."""
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
        self.updates = int(updates)


__all__ = ["EMA"]
