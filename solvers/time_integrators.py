"""Physical-time integrators of the learned SDE du = f_λ(window) dt + σ_λ dW (PDD Eq. 6).

Each has the driver shape of the λ-samplers (:class:`~pdd_core.protocols.TimeIntegrator`):
``init`` computes what every step reuses on the field's device and dtype, ``step`` draws every
random number from the driver's :class:`~pdd_core.protocols.NoiseSource`.
"""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.spectral import irfft, rfft


@attrs.frozen
class Euler:
    """Deterministic forward Euler, u_{n+1} = u_n + f Δt: the σ = 0 evaluation setting (B.5)."""

    strong_order = 1.0
    weak_order = 1.0
    stochastic = False

    def init(self, drift, dt, sigma, *, device, dtype) -> None:
        return None  # nothing to precompute

    def step(self, drift, history, lam, dt, coefficients, noise, state):
        return history[:, -1] + drift(history, lam) * dt, state


@attrs.frozen(eq=False)
class NoiseAmplitude:
    """The noise of one Euler-Maruyama step on the field's device and dtype.

    ``scale`` is σ√Δt per sample ``[B]`` (white noise), or σ_k per sample and Fourier
    mode ``[B, 1, *rfft]`` (``per_mode``, then multiplied by ``sqrt_dt`` after the colouring);
    None when σ = 0 everywhere, so the step draws nothing.
    """

    scale: torch.Tensor | None
    per_mode: bool
    sqrt_dt: float


@attrs.frozen
class EulerMaruyama:
    """u_{n+1} = u_n + f Δt + σ_λ ξ Δt with ξ ~ N(0, I/Δt) (PDD Eq. 24, Algorithm 2).

    The noise is additive (σ_λ does not depend on the state), for which Euler-Maruyama has
    strong order 1. With σ = 0 it is exactly :class:`Euler` and draws no random numbers.
    σ is one value per sample ``[B]`` (white noise, Eq. 58) or one per sample and Fourier mode
    ``[B, 1, *rfft]`` (orthonormal FFT): the increment noise of mode k then has variance σ_k²Δt,
    e.g. the per-mode Σ̃_λ(k) that a per-mode run's path density models.
    """

    strong_order = 1.0
    weak_order = 1.0
    stochastic = True

    def init(self, drift, dt, sigma, *, device, dtype) -> NoiseAmplitude:
        sqrt_dt = math.sqrt(dt)
        if not bool((sigma > 0).any()):
            return NoiseAmplitude(None, False, sqrt_dt)
        if sigma.ndim > 1:  # σ per sample and Fourier mode [B, 1, *rfft]: coloured increment noise
            return NoiseAmplitude(sigma.to(device, dtype), True, sqrt_dt)
        return NoiseAmplitude(sigma.to(device, dtype) * sqrt_dt, False, sqrt_dt)

    def step(self, drift, history, lam, dt, coefficients, noise, state):
        current = history[:, -1]
        update = current + drift(history, lam) * dt
        if coefficients.scale is None:
            return update, state
        draw = noise.normal(current)
        if not coefficients.per_mode:
            return update + coefficients.scale.reshape(-1, *([1] * (current.ndim - 1))) * draw, state
        space = coefficients.scale.ndim - 2
        colored = irfft(rfft(draw, space) * coefficients.scale, current.shape[2:]).to(current.dtype)
        return update + coefficients.sqrt_dt * colored, state
