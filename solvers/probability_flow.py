"""Deterministic samplers of the probability-flow ODE dũ/dλ = -κũ - ½ b² s̃ (reverse in λ).

In τ = -λ the ODE is dũ/dτ = κũ + N(u, λ) with N = ½ b² s̃: a stiff exact linear part plus a
score term, integrated by exponential integrators (Cox & Matthews; DEIS / DPM-Solver style).
"""

from __future__ import annotations

import attrs

from pdd_core.spectral import phi1, phi2
from solvers.reverse_coefficients import field, modes, reverse_step


def _nonlinear(score, u, lam, noise, grid):
    """N = ½ b² s̃ in Fourier space."""
    s_hat = modes(score(u, lam), grid)
    return 0.5 * noise.to(s_hat.device, s_hat.real.dtype) * s_hat


def _prepare(scheme, grid, lam_from, lam_to):
    step = reverse_step(scheme, grid, lam_from, lam_to)
    return step, step.growth.exp(), phi1(step.growth) * step.delta, phi2(step.growth) * step.delta


@attrs.frozen
class ProbabilityFlowHeun:
    """Exponential Heun (ETD2RK): second order, two score evaluations per step.

        â  = e^z ũ + Δ φ1(z) N(u, λ_from)
        ũ' = â + Δ φ2(z) [N(a, λ_to) - N(u, λ_from)]
    """

    order = 2.0
    stochastic = False
    evaluations_per_step = 2

    def prepare(self, scheme, grid, lam_from, lam_to):
        return _prepare(scheme, grid, lam_from, lam_to)

    def step(self, score, u, lam_from, lam_to, coefficients, generator, state, boundary):
        return _heun(score, u, lam_from, lam_to, coefficients, boundary)[0], state


def _heun(score, u, lam_from, lam_to, coefficients, boundary):
    """One exponential-Heun step; also returns N(u, λ_from) for multistep starts."""
    step, growth, first, second = coefficients
    grid = step.grid
    u_hat = modes(u, grid)
    dtype = u_hat.real.dtype
    n_from = _nonlinear(score, u, lam_from, step.diffusion_from, grid)
    stage_hat = growth.to(u_hat.device, dtype) * u_hat + first.to(u_hat.device, dtype) * n_from
    stage = boundary(field(stage_hat, grid, u.dtype))
    n_to = _nonlinear(score, stage, lam_to, step.diffusion_to, grid)
    return boundary(field(stage_hat + second.to(u_hat.device, dtype) * (n_to - n_from), grid, u.dtype)), n_from


@attrs.frozen
class ExponentialMultistep:
    """Exponential Adams-Bashforth 2 on the score term: second order, ONE score evaluation
    per step after an exponential-Heun start (the idea of DEIS / DPM-Solver++(2M)).

        ũ' = e^z ũ + Δ φ1(z) N_n + Δ² φ2(z) (N_n - N_{n-1}) / Δ_{n-1}

    with the previous N and step carried in ``state`` (non-uniform λ grids are handled).
    """

    order = 2.0
    stochastic = False
    evaluations_per_step = 1

    def prepare(self, scheme, grid, lam_from, lam_to):
        return _prepare(scheme, grid, lam_from, lam_to)

    def step(self, score, u, lam_from, lam_to, coefficients, generator, state, boundary):
        if state is None:
            u_new, n_from = _heun(score, u, lam_from, lam_to, coefficients, boundary)
            return u_new, (n_from, coefficients[0].delta)
        previous, previous_delta = state
        step, growth, first, second = coefficients
        grid = step.grid
        u_hat = modes(u, grid)
        dtype = u_hat.real.dtype
        current = _nonlinear(score, u, lam_from, step.diffusion_from, grid)
        slope = (current - previous) / previous_delta.to(u_hat.device, dtype)
        u_new = growth.to(u_hat.device, dtype) * u_hat + first.to(u_hat.device, dtype) * current + (second * step.delta).to(u_hat.device, dtype) * slope
        return boundary(field(u_new, grid, u.dtype)), (current, step.delta)
