"""Reverse Euler-Maruyama in λ (PDD Eq. 11)."""

from __future__ import annotations

import attrs

from solvers.reverse_coefficients import em_noise_modes, field, modes, reverse_step


@attrs.frozen
class ReverseEulerMaruyama:
    """ũ' = ũ + Δ (κ ũ + b² s̃) + b sqrt(Δ) η̃, with κ, b² at λ_from (PDD Eq. 11).

    Explicit in the stiff linear part: stable only while κΔ is small for every mode.
    """

    order = 1.0
    stochastic = True
    evaluations_per_step = 1

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        return reverse_step(scheme, grid, lam_from, lam_to).on(device, dtype)

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        grid = coefficients.grid
        u_hat, s_hat = modes(u, grid), modes(score(u, lam_from), grid)
        drift = coefficients.rate_from * u_hat + coefficients.diffusion_from * s_hat
        u_new = field(u_hat + coefficients.delta * drift + em_noise_modes(u, coefficients, noise), grid, u.dtype)
        return boundary(u_new), state
