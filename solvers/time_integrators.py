"""Physical-time integrators of the learned SDE du = f_λ(window) dt + σ_λ dW (PDD Eq. 6)."""

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

    def step(self, drift, history, lam, dt, sigma, generator):
        return history[:, -1] + drift(history, lam) * dt


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

    def step(self, drift, history, lam, dt, sigma, generator):
        current = history[:, -1]
        update = current + drift(history, lam) * dt
        if not bool((sigma > 0).any()):
            return update
        noise = torch.randn(current.shape, generator=generator, dtype=current.dtype, device=current.device)
        if sigma.ndim == 1:
            return update + sigma.to(current).reshape(-1, *([1] * (current.ndim - 1))) * math.sqrt(dt) * noise
        # σ per sample and Fourier mode [B, 1, *rfft]: the increment noise is coloured, variance σ_k²Δt per mode.
        space = sigma.ndim - 2
        colored = irfft(rfft(noise, space) * sigma.to(current.device, current.dtype), current.shape[2:]).to(current.dtype)
        return update + math.sqrt(dt) * colored

