"""Few-step reverse-λ samplers that integrate the Gaussian part of the score exactly.

Write any score as s = -û/K_λ + r, with K_λ(k) = C̃_λ² G + Σ̃_λ the Gaussian marginal of the
coarse-grained data per mode (:class:`~pdd_core.score.gaussian_marginal.GaussianMarginal`). The
first term is what makes reverse-λ sampling stiff: on noise-dominated modes its precision
1/K_λ ≈ 1/Σ̃_λ reaches ~1e3 on the L96 grid, so explicit steps (Eqs. 11, 66) need Δλ ≲ 1e-3.
With dK/dλ = -2κK + b² (Eqs. 17-18 differentiated) both reverse-λ equations have a linear part
that is solved per mode in closed form, and only the residual r is treated explicitly
(the idea of gDDIM / DEIS for linear diffusions, and of DPM-Solver's exponential integrators):

* probability flow (deterministic), dũ/dλ = -κũ - ½b²s̃:
      ũ_t = sqrt(K_t/K_f) ũ_f + ∫_{λt}^{λf} ½ b² sqrt(K_t/K_λ) r̃(λ) dλ
* reverse SDE (stochastic, PDD Eq. 11), dũ = (-κũ - b²s̃) dλ + b dW̄:
      ũ_t = C̃_{t→f} K_t/K_f ũ_f + ∫_{λt}^{λf} b² C̃_{t→λ} K_t/K_λ r̃(λ) dλ + sqrt(K_t Σ̃_{t→f}/K_f) ξ̃

(f = λ_from, t = λ_to < λ_from), written here for a zero-mean reference. With the data's mean
m_λ = C_λ ū (dm/dλ = -κm) the same equations hold for ũ - m_λ, the residual being
r = s + (û - m_λ)/K_λ: each step subtracts m_f, maps the rest and adds m_t back. The linear maps
are the exact PF map and the exact Gaussian posterior q(u_t | u_f), so with r = 0 (data
Gaussian, white in time) any step size is exact.
The residual is either held at r(λ_f) (first order) or extrapolated linearly through the
previous step's residual (exponential Adams-Bashforth 2, as DPM-Solver++(2M): one score call
per step, second order). The λ-integrals of the weights are per-mode quadratures computed once
per λ schedule in ``init`` (Gauss-Legendre in x with λ = λ_t + Δx², which also absorbs the
λ^{-1/2} endpoint singularity of modes with G = 0 at λ_t = 0).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import torch

from pdd_core.errors import bad_argument
from pdd_core.score.gaussian_marginal import GaussianMarginal
from pdd_core.validation import positive
from solvers.reverse_coefficients import field, modes, on_device

QUADRATURE_NODES = 16


def _reference(instance, attribute, value) -> None:
    if not isinstance(value, GaussianMarginal):
        raise bad_argument(attribute.name, type(value).__name__, "must be a GaussianMarginal", "pass GaussianMarginal.from_autocovariance(data_autocovariance(u0, grid), frames)")
    if value.covariance is None:
        # With G = 0 the reference says the data hold nothing: K_0 = 0, so every path would end at 0.
        raise bad_argument(attribute.name, "GaussianMarginal()", "the noise-only Gaussian (G = 0) is no reference: it maps every path to 0 at λ = 0", "pass the data's marginal, e.g. run_marginal(run, frames)")


def _exponent(instance, attribute, value) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0):
        raise bad_argument(attribute.name, value, "must be a finite number >= 0", "use 1 (weight the residual by the signal fraction) or 0 (no gate)")


@attrs.frozen(eq=False)
class GaussianStep:
    """Per-mode coefficients of one step ``[1, T or 1, C or 1, *rfft]`` (temporal eigenbasis of the reference),
    float64 as :func:`gaussian_step` computes them, on the field's device and dtype after :meth:`on`.

    ũ_t - m̃_t = ``carry`` (ũ_f - m̃_f) + ``weight`` r̃_f + ``slope_weight`` ∂r̃/∂λ + ``noise_std`` ξ̃,
    ``inverse_variance`` = 1/K_f turns a score into its residual r̃ = s̃ + (ũ - m̃_f)/K_f, and
    ``mean_from``, ``mean_to`` are the reference's mean paths m_f, m_t ``[1, 1, C, *space]``.
    """

    grid: object
    lam_from: float
    carry: torch.Tensor
    weight: torch.Tensor
    slope_weight: torch.Tensor
    noise_std: torch.Tensor
    inverse_variance: torch.Tensor
    signal_fraction: torch.Tensor
    mean_from: torch.Tensor
    mean_to: torch.Tensor

    def on(self, device: torch.device, dtype: torch.dtype) -> GaussianStep:
        return on_device(self, device, dtype, "carry", "weight", "slope_weight", "noise_std", "inverse_variance", "signal_fraction", "mean_from", "mean_to")


def gaussian_step(reference: GaussianMarginal, scheme, grid, lam_from: float, lam_to: float, *, stochastic: bool, nodes: int = QUADRATURE_NODES) -> GaussianStep:
    """The closed-form linear map and the residual weights of one step λ_from → λ_to < λ_from."""
    delta = lam_from - lam_to
    x, w = (torch.from_numpy(a) for a in np.polynomial.legendre.leggauss(nodes))
    x, w = (x + 1) / 2, w / 2  # Gauss-Legendre on [0, 1]
    lam_nodes = lam_to + delta * x**2
    measure = (2 * delta * x * w).reshape(-1, *([1] * (2 + grid.ndim)))  # dλ = 2Δx dx
    variance_from, active = reference.variance(scheme, grid, lam_from)
    variance_to, _ = reference.variance(scheme, grid, lam_to)
    variance_nodes, _ = reference.variance(scheme, grid, lam_nodes)
    diffusion_nodes = scheme.diffusion(grid, lam_nodes)
    if stochastic:
        step = scheme.transition(grid, lam_to, lam_from)
        carry = step.damping * variance_to / variance_from
        kernel = diffusion_nodes * scheme.transition(grid, torch.full_like(lam_nodes, lam_to), lam_nodes).damping * variance_to / variance_nodes
        noise_variance = variance_to * step.variance / variance_from
    else:
        carry = (variance_to / variance_from).sqrt()
        kernel = 0.5 * diffusion_nodes * (variance_to / variance_nodes).sqrt()
        noise_variance = torch.zeros_like(carry)
    weight = (kernel * measure).sum(0, keepdim=True)
    slope_weight = (kernel * (lam_nodes - lam_from).reshape(measure.shape) * measure).sum(0, keepdim=True)
    # Excluded modes (PDD A.2) never diffuse: identity map, no score, no noise.
    zero = torch.zeros((), dtype=torch.float64)
    return GaussianStep(
        grid=grid,
        lam_from=lam_from,
        carry=torch.where(active, carry, torch.ones((), dtype=torch.float64)),
        weight=torch.where(active, weight, zero),
        slope_weight=torch.where(active, slope_weight, zero),
        noise_std=torch.where(active, noise_variance.clamp_min(0).sqrt(), zero),
        inverse_variance=torch.where(active, 1 / torch.where(active, variance_from, torch.ones(())), zero),
        signal_fraction=torch.where(active, 1 - scheme.marginal(grid, lam_from).variance / torch.where(active, variance_from, torch.ones(())), zero).clamp(0, 1),
        mean_from=reference.mean_at(scheme, grid, lam_from),
        mean_to=reference.mean_at(scheme, grid, lam_to),
    )


@attrs.frozen
class GaussianExponential:
    """Exponential integrator of the reverse RG flow around the data's Gaussian marginal (module docstring).

    ``reference``: the Gaussian whose score is integrated exactly (the data's temporal covariance G
    per mode). ``gate``: the residual is weighted by the signal fraction (C̃_λ²G/K_λ)^gate, 1 by
    default: the exact residual vanishes on modes the coarse-graining has forgotten, and there the
    learned one is the stiff model error that makes explicit steps diverge (docs/results.md); 0
    integrates the score as it is. ``stochastic``: reverse SDE (Eq. 11, exact
    Gaussian posterior) instead of the probability-flow ODE. ``multistep``: second-order
    Adams-Bashforth extrapolation of the residual (first order without). One score call per step.
    """

    reference: GaussianMarginal = attrs.field(validator=_reference)
    stochastic: bool = False
    multistep: bool = True
    gate: float = attrs.field(default=1.0, validator=_exponent)

    evaluations_per_step = 1

    @property
    def order(self) -> float:
        return 2.0 if self.multistep else 1.0

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        step = gaussian_step(self.reference, scheme, grid, float(lam_from.reshape(-1)[0]), float(lam_to.reshape(-1)[0]), stochastic=self.stochastic)
        return step.on(device, dtype)

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        grid, reference = coefficients.grid, self.reference
        reference.check(grid, u.shape[1])
        # Coordinates of the path less its mean along the data's temporal eigenmodes, where K_λ is diagonal.
        u_hat = reference.to_eigen(modes(u - coefficients.mean_from, grid))
        residual = reference.to_eigen(modes(score(u, lam_from), grid)) + coefficients.inverse_variance * u_hat
        if self.gate:
            residual = residual * coefficients.signal_fraction**self.gate
        u_new = coefficients.carry * u_hat + coefficients.weight * residual
        if self.multistep and state is not None:
            previous, lam_previous = state
            slope = (residual - previous) / (coefficients.lam_from - lam_previous)
            u_new = u_new + coefficients.slope_weight * slope
        if self.stochastic:  # white noise stays white in the orthogonal eigenbasis
            u_new = u_new + coefficients.noise_std * modes(noise.normal(u), grid)
        return boundary(field(reference.from_eigen(u_new), grid, u.dtype) + coefficients.mean_to), (residual, coefficients.lam_from)


@attrs.frozen(eq=False)
class GaussianLangevinStep:
    """Per-mode coefficients of one :class:`GaussianLangevin` move (temporal eigenbasis of the reference):
    ũ' - m̃ = ``decay`` (ũ - m̃) + ``residual_factor`` r̃ + ``noise_std`` ξ̃ with r̃ = s̃ + ``inverse_variance`` (ũ - m̃),
    m = ``mean`` the reference's mean path ``[1, 1, C, *space]``."""

    grid: object
    decay: torch.Tensor
    residual_factor: torch.Tensor
    noise_std: torch.Tensor
    inverse_variance: torch.Tensor
    mean: torch.Tensor

    def on(self, device: torch.device, dtype: torch.dtype) -> GaussianLangevinStep:
        return on_device(self, device, dtype, "decay", "residual_factor", "noise_std", "inverse_variance", "mean")


@attrs.frozen
class GaussianLangevin:
    """Langevin corrector preconditioned per mode by the coarse-graining noise Σ̃_λ (in place of PDD Eq. 65).

    The Langevin diffusion dũ = M s̃ dτ + sqrt(2M) dW with the per-mode preconditioner
    M = Σ̃_λ(k), split as s = -K_λ⁻¹(û - m̂_λ) + r around the Gaussian marginal N(m_λ, K_λ)
    (:class:`~pdd_core.score.gaussian_marginal.GaussianMarginal`), is integrated over a time h
    exactly in its linear part (v = ũ - m̃_λ):

        v' = e^{-hΣ̃/K} v + (1 - e^{-hΣ̃/K}) K r̃ + sqrt(K (1 - e^{-2hΣ̃/K})) ξ̃.

    This Ornstein-Uhlenbeck move leaves N(m_λ, K_λ) exactly invariant at any h, so on the Gaussian
    part the corrector has no step-size bias. Each mode relaxes at the rate of its noise fraction
    Σ̃/K: noise-dominated modes (where the reverse flow is stiff and a learned score errs) are
    re-drawn almost fully, signal-dominated ones are left to the predictor; and since a path
    density's precision is at most ~4/Σ̃ (increments), the explicit residual term stays stable
    for h ≲ 0.5 on every mode. Eq. 65's χ = 2(snr ‖z‖/‖s‖)² is instead one scalar per sample, set
    by the stiffest modes: it over-heats some modes and leaves others unmoved (docs/results.md).
    ``step_size`` is h; ``gate`` as in :class:`GaussianExponential`.
    """

    reference: GaussianMarginal = attrs.field(validator=_reference)
    step_size: float = attrs.field(default=1.0, validator=positive)
    gate: float = attrs.field(default=1.0, validator=_exponent)

    order = 0.0
    stochastic = True
    evaluations_per_step = 1

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        lam = float(lam_to.reshape(-1)[0])
        variance, active = self.reference.variance(scheme, grid, lam)
        active = active & (variance > 0)  # at λ = 0 a mode without data power has K = 0: nothing to correct
        safe = torch.where(active, variance, torch.ones(()))
        noise_fraction = torch.where(active, scheme.marginal(grid, lam).variance / safe, torch.zeros(())).clamp(0, 1)
        decay = torch.exp(-self.step_size * noise_fraction)
        residual_factor = (1 - decay) * safe * (1 - noise_fraction) ** self.gate
        step = GaussianLangevinStep(grid, decay, residual_factor, (safe * (1 - decay**2)).sqrt() * active, active / safe, self.reference.mean_at(scheme, grid, lam))
        return step.on(device, dtype)

    def correct(self, score, u, lam, coefficients, noise, boundary):
        grid, reference = coefficients.grid, self.reference
        reference.check(grid, u.shape[1])
        u_hat, s_hat = reference.to_eigen(modes(u - coefficients.mean, grid)), reference.to_eigen(modes(score(u, lam), grid))
        residual = s_hat + coefficients.inverse_variance * u_hat
        u_new = coefficients.decay * u_hat + coefficients.residual_factor * residual + coefficients.noise_std * modes(noise.normal(u), grid)
        return boundary(field(reference.from_eigen(u_new), grid, u.dtype) + coefficients.mean)

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        return self.correct(score, u, lam_to, coefficients, noise, boundary), state
