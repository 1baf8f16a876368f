"""Deterministic samplers of the probability-flow ODE dũ/dλ = -κũ - ½ b² s̃ (reverse in λ).

In τ = -λ the ODE is dũ/dτ = κũ + N(u, λ) with N = ½ b² s̃: a stiff exact linear part plus a
score term, integrated by exponential integrators (Cox & Matthews; DEIS / DPM-Solver style).
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.spectral import phi1, phi2
from solvers.reverse_coefficients import ReverseStep, field, modes, reverse_step


def _nonlinear(score, u, lam, diffusion, grid):
    """N = ½ b² s̃ in Fourier space."""
    return 0.5 * diffusion * modes(score(u, lam), grid)


@attrs.frozen(eq=False)
class ExponentialCoefficients:
    """One exponential-integrator step on the field's device and dtype: e^z, Δ φ1(z), Δ φ2(z) and Δ² φ2(z) per mode."""

    step: ReverseStep
    growth: torch.Tensor
    first: torch.Tensor
    second: torch.Tensor
    second_delta: torch.Tensor


def _init(scheme, grid, lam_from, lam_to, device, dtype) -> ExponentialCoefficients:
    step = reverse_step(scheme, grid, lam_from, lam_to)
    growth, first, second = step.growth.exp(), phi1(step.growth) * step.delta, phi2(step.growth) * step.delta
    return ExponentialCoefficients(step.on(device, dtype), *(c.to(device, dtype) for c in (growth, first, second, second * step.delta)))


@attrs.frozen
class ProbabilityFlowHeun:
    """Exponential Heun (ETD2RK): second order, two score evaluations per step.

        â  = e^z ũ + Δ φ1(z) N(u, λ_from)
        ũ' = â + Δ φ2(z) [N(a, λ_to) - N(u, λ_from)]
    """

    order = 2.0
    stochastic = False
    evaluations_per_step = 2

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        return _init(scheme, grid, lam_from, lam_to, device, dtype)

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        return _heun(score, u, lam_from, lam_to, coefficients, boundary)[0], state


def _heun(score, u, lam_from, lam_to, coefficients: ExponentialCoefficients, boundary):
    """One exponential-Heun step; also returns N(u, λ_from) for multistep starts."""
    step = coefficients.step
    grid = step.grid
    u_hat = modes(u, grid)
    n_from = _nonlinear(score, u, lam_from, step.diffusion_from, grid)
    stage_hat = coefficients.growth * u_hat + coefficients.first * n_from
    stage = boundary(field(stage_hat, grid, u.dtype))
    n_to = _nonlinear(score, stage, lam_to, step.diffusion_to, grid)
    return boundary(field(stage_hat + coefficients.second * (n_to - n_from), grid, u.dtype)), n_from


@attrs.frozen
class ExponentialMultistep:
    """Exponential Adams-Bashforth 2 on the score term: second order, ONE score evaluation
    per step after an exponential-Heun start (the idea of DEIS / DPM-Solver++(2M)).

        ũ' = e^z ũ + Δ φ1(z) N_n + Δ² φ2(z) (N_n - N_{n-1}) / Δ_{n-1}

    with the previous N and step carried in ``state`` (non-uniform λ schedules are handled).
    """

    order = 2.0
    stochastic = False
    evaluations_per_step = 1

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        return _init(scheme, grid, lam_from, lam_to, device, dtype)

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        step = coefficients.step
        if state is None:
            u_new, n_from = _heun(score, u, lam_from, lam_to, coefficients, boundary)
            return u_new, (n_from, step.delta)
        previous, previous_delta = state
        u_hat = modes(u, step.grid)
        current = _nonlinear(score, u, lam_from, step.diffusion_from, step.grid)
        slope = (current - previous) / previous_delta
        u_new = coefficients.growth * u_hat + coefficients.first * current + coefficients.second_delta * slope
        return boundary(field(u_new, step.grid, u.dtype)), (current, step.delta)
