"""The exponential time differencing predictor of PDD Eq. 66."""

from __future__ import annotations

import attrs

from pdd_core.spectral import phi1
from solvers.reverse_coefficients import em_noise_modes, field, modes, reverse_step


@attrs.frozen
class ETDPredictor:
    """ũ' = e^{z} ũ + φ1(z) b² s̃ Δ + b sqrt(Δ) η̃ with z = ∫κ dλ (PDD Eq. 66, B.6).

    The stiff linear part is exact per mode; φ1 multiplies the score term only and the
    noise is Euler-Maruyama, so it stays spatially white (B.6). For Carosso z = α|k|²Δλ.
    """

    order = 1.0
    stochastic = True
    evaluations_per_step = 1

    def prepare(self, scheme, grid, lam_from, lam_to):
        step = reverse_step(scheme, grid, lam_from, lam_to)
        # Precompute the two per-mode factors once per λ grid.
        return step, step.growth.exp(), phi1(step.growth) * step.diffusion_from * step.delta

    def step(self, score, u, lam_from, lam_to, coefficients, generator, state, boundary):
        step, growth, score_factor = coefficients
        grid = step.grid
        u_hat, s_hat = modes(u, grid), modes(score(u, lam_from), grid)
        dtype = u_hat.real.dtype
        u_new = growth.to(u.device, dtype) * u_hat + score_factor.to(u.device, dtype) * s_hat + em_noise_modes(u, step, generator)
        return boundary(field(u_new, grid, u.dtype)), state
