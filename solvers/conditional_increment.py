"""The conditional simulation baseline of PDD B.4 as a time integrator (GenCast-style conditional diffusion).

At every physical step the standardised increment δ_n = (u_{n+1} - u_n) / s is *sampled* rather
than predicted: from δ ~ N(0, Σ_λmax) of the denoiser's scheme, the reverse RG flow (PDD Eq. 11)
is integrated down to λ_min with any λ-sampler and the denoising score of
:class:`~pdd_core.baseline_rollout.ConditionalDenoiser`; then u_{n+1} = u_n + s ⊙ δ and the
window slides by one (B.4). The rollout driver (:func:`pdd_core.rollout.advance`) steps it like
any other integrator; the baseline lives at λ = 0.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch

from pdd_core.baseline_rollout import BASELINE_FIX, ConditionalDenoiser
from pdd_core.grid import Grid
from pdd_core.noise_source import GeneratorNoise
from pdd_core.records import Trajectory
from pdd_core.rollout import advance, check_steps, initial_window
from pdd_core.sampling import ReversePlan, sample
from pdd_core.schedules import check_schedule
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import check_field, check_generator


@attrs.frozen(eq=False)
class IncrementCoefficients:
    """What every physical step reuses: the sampler's plan over the λ schedule and sqrt(Σ_λmax) of the prior, on the field's device."""

    plan: ReversePlan
    prior_std: torch.Tensor


@attrs.frozen(eq=False)
class ConditionalIncrement:
    """u_{n+1} = u_n + s ⊙ δ with δ sampled by ``sampler`` over the decreasing ``lam_schedule`` given the clean window.

    The drift it steps is a :class:`~pdd_core.baseline_rollout.ConditionalDenoiser` (the
    network with its scheme, grid and increment scale s). λ and σ are unused: the baseline's
    randomness is the prior draw and the sampler's noise, both from the driver's noise source.
    """

    sampler: Any
    lam_schedule: torch.Tensor = attrs.field(converter=check_schedule)

    strong_order = 0.0  # a sampled increment converges in law, not path by path
    weak_order = 1.0
    stochastic = True
    samples_increments = True

    def init(self, drift: ConditionalDenoiser, dt, sigma, *, device, dtype) -> IncrementCoefficients:
        plan = ReversePlan.build(self.sampler, drift.scheme, drift.grid, self.lam_schedule, device=device, dtype=dtype)
        prior_std = drift.scheme.marginal(drift.grid, float(self.lam_schedule[0]), 1, "lam_max").variance.sqrt().to(device)
        return IncrementCoefficients(plan, prior_std)

    def step(self, drift: ConditionalDenoiser, context, lam, dt, coefficients: IncrementCoefficients, noise, state):
        grid = drift.grid
        draw = noise.normal(context.new_empty(context.shape[0], 1, *context.shape[2:]))
        prior = irfft(rfft(draw, grid.ndim) * coefficients.prior_std, grid.shape).to(context.dtype)  # δ ~ N(0, Σ_λmax)
        options = {"generator": None, "noise": noise, "u_init": prior, "plan": coefficients.plan}
        delta = sample(drift.score(context), drift.scheme, grid, self.sampler, self.lam_schedule, **options)
        return drift.advance(context, delta), state


def conditional_rollout(
    network,
    scheme,
    grid: Grid,
    sampler,
    lam_schedule: torch.Tensor,
    initial: torch.Tensor,
    dt: float,
    steps: int,
    *,
    increment_scale,
    generator: torch.Generator,
    delta_lambda: float = DEFAULT_DELTA_LAMBDA,
    save_every: int = 1,
    progress: bool = False,
    energy_band: float | None = None,
) -> Trajectory:
    """Roll the conditional baseline out for ``steps`` steps of Δt and return a λ = 0 :class:`Trajectory`.

    Args:
        network: the conditional denoiser, ``network(window [B, W, C, *space], lam [B]) -> ε̂``
            with ``network.window = W >= 2``.
        sampler: any λ-sampler (the paper uses ETD + Langevin with γ for α|k|², B.6).
        lam_schedule: the decreasing λ schedule of every increment's reverse integration (λ_max → λ_min).
        initial: clean initial state ``[B, C, *space]`` or history ``[B, T0, C, *space]``.
        increment_scale: s per channel (the run's ``objective.increment_scale``).
        generator: the source of the prior draws and of the sampler's noise, on the
            device of ``initial``.
        save_every: keep every k-th state; only saved frames are kept in memory (call under
            ``torch.no_grad()`` unless gradients are wanted).
        energy_band: stop when a state's mean square exceeds it (None: NaN/inf only).

    Returns the initial history followed by the saved states (λ = 0 on every sample).
    """
    if initial.ndim == 2 + grid.ndim:
        initial = initial.unsqueeze(1)
    check_field(initial, grid, "initial")
    check_generator(generator)
    check_steps(steps, save_every)
    denoiser = ConditionalDenoiser(network, scheme, grid, increment_scale, delta_lambda)
    integrator = ConditionalIncrement(sampler, lam_schedule)
    zeros = torch.zeros(initial.shape[0], dtype=torch.float64, device=initial.device)
    _, context = initial_window(initial, denoiser.window, grid=grid, lam=zeros)
    options = {"save_every": save_every, "progress": progress, "energy_band": energy_band, "name": "conditional_rollout", "fix": BASELINE_FIX}
    saved, _ = advance(denoiser, integrator, context, zeros, dt, steps, sigma=zeros, noise=GeneratorNoise(generator), **options)
    return Trajectory(u=torch.cat([initial, saved], dim=1), grid=grid, dt=dt * save_every, lam=0.0)


__all__ = ["ConditionalIncrement", "IncrementCoefficients", "conditional_rollout"]
