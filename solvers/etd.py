"""The exponential time differencing predictor of PDD Eq. 66."""

from __future__ import annotations

import attrs
import torch

from pdd_core.spectral import phi1
from solvers.reverse_coefficients import ReverseStep, em_noise_modes, field, modes, reverse_step


@attrs.frozen(eq=False)
class ETDCoefficients:
    """One ETD step on the field's device and dtype: the step, e^z and φ1(z) b² Δ per mode."""

    step: ReverseStep
    growth: torch.Tensor
    score_factor: torch.Tensor


@attrs.frozen
class ETDPredictor:
    """ũ' = e^{z} ũ + φ1(z) b² s̃ Δ + b sqrt(Δ) η̃ with z = ∫κ dλ (PDD Eq. 66, B.6).

    The stiff linear part is exact per mode; φ1 multiplies the score term only and the
    noise is Euler-Maruyama, so it stays spatially white (B.6). For Carosso z = α|k|²Δλ.
    """

    order = 1.0
    stochastic = True
    evaluations_per_step = 1

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        step = reverse_step(scheme, grid, lam_from, lam_to)
        # The two per-mode factors in float64, once per λ schedule; then on the device.
        growth, score_factor = step.growth.exp(), phi1(step.growth) * step.diffusion_from * step.delta
        return ETDCoefficients(step.on(device, dtype), growth.to(device, dtype), score_factor.to(device, dtype))

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        grid = coefficients.step.grid
        u_hat, s_hat = modes(u, grid), modes(score(u, lam_from), grid)
        u_new = coefficients.growth * u_hat + coefficients.score_factor * s_hat + em_noise_modes(u, coefficients.step, noise)
        return boundary(field(u_new, grid, u.dtype)), state
