"""Noise sources of the reverse-λ driver (:class:`~pdd_core.protocols.NoiseSource`)."""

from __future__ import annotations

import attrs
import torch


@attrs.frozen(eq=False)
class GeneratorNoise:
    """Standard normal draws from one ``torch.Generator`` (on the device of the fields it draws for)."""

    generator: torch.Generator | None

    def normal(self, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=self.generator, dtype=like.dtype, device=like.device)


@attrs.frozen
class NoNoise:
    """Zero in place of every draw: a stochastic sampler's deterministic skeleton (tests, diagnostics)."""

    def normal(self, like: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(like)


__all__ = ["GeneratorNoise", "NoNoise"]
