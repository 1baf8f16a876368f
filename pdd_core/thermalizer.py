"""Thermalizing a rollout with PDD's own path score: push forward in λ, sample back down.

A long rollout of a learned drift at scale λ slowly leaves the climate of the coarse-grained
system. Thermalizer (Pedersen, Zanna & Bruna 2025) and SNS pull the state back with a second,
denoising model; PDD already has the score of the coarse-grained path law at every λ (PDD Eq. 11
with the path score of Eq. 36), so the same network can do it (docs/results.md, "Rollout climate").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import torch

from pdd_core.errors import DTypeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.sampling import Boundary, ReversePlan, sample
from pdd_core.schedules import check_schedule, power_schedule
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import as_lambda, check_field, check_generator

Schedule = Callable[[float, float, int], torch.Tensor]


def push_window(window: torch.Tensor, scheme, grid: Grid, lam_a: float, lam_b: float, generator: torch.Generator) -> torch.Tensor:
    """One exact draw of the forward RG transition λ_a → λ_b >= λ_a, frame by frame (PDD Eqs. 3-4, 15):

        ũ_b(k, t) = C̃_ab(k) ũ_a(k, t) + sqrt(Σ̃_ab(k)) ε̃(k, t),   ε white in (x, t),

    with C̃_ab, Σ̃_ab the scheme's closed forms of the step (Eqs. 17-18 for Carosso, from λ_a
    instead of 0). Excluded modes (PDD A.2) have C̃ = 1, Σ̃ = 0 and are left as they are.
    """
    step = scheme.transition(grid, lam_a, lam_b, batch=1)
    noise = torch.randn(window.shape, generator=generator, dtype=window.dtype, device=window.device)
    damping, std = (value.to(window.device, window.dtype) for value in (step.damping, step.variance.sqrt()))
    return irfft(rfft(window, grid.ndim) * damping + rfft(noise, grid.ndim) * std, grid.shape).to(window.dtype)


def _whole(name: str, fix: str):
    def check(instance, attribute, value) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad_argument(name, value, "must be an integer >= 1", fix)

    return check


def _push(instance, attribute, value) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise bad_argument("push", value, "must be a finite number > 0 (how far in λ the window is pushed)", "pass e.g. push=0.1")


def _sampler(instance, attribute, value) -> None:
    missing = [name for name in ("init", "step", "evaluations_per_step") if not hasattr(value, name)]
    if missing:
        fix = 'pass one, e.g. SAMPLERS.get("gpc").build(SamplerOptions(reference))'
        raise bad_argument("sampler", type(value).__name__, f"is no λ-sampler (lacks {', '.join(missing)})", fix, kind=DTypeError)


def _schedule(instance, attribute, value) -> None:
    if not callable(value):
        problem = "must be a function (lam_start, lam_end, steps) -> decreasing λ grid"
        raise bad_argument("schedule", value, problem, "pass power_schedule or uniform_schedule", kind=DTypeError)


@attrs.frozen
class Thermalizer:
    """Every ``every`` physical steps, resample the rollout's window from the path law at λ (module docstring).

    One application maps a window u_λ ``[B, W, C, *space]`` at scale λ to a new one of the same
    shape, dtype and device in two moves:

    1. **push** (:func:`push_window`, PDD Eq. 3 for the step λ → λ + δ, δ = ``push``):
       ũ_{λ+δ} = C̃_{λ→λ+δ} ũ_λ + sqrt(Σ̃_{λ→λ+δ}) ε̃ per Fourier mode and frame;
    2. **pull back**: integrate the reverse-λ equation (PDD Eq. 11,
       ∂λ u = α∇²u - β² s_λ(u) + β η in the Carosso scheme) from λ + δ down to λ with
       ``sampler`` and the path score, over ``steps`` steps of the grid
       ``schedule(λ + δ, λ, steps)`` (default: :func:`~pdd_core.schedules.power_schedule`, uniform in
       sqrt(λ), which works for any end λ >= 0): PDD Algorithm 3 started from the pushed window
       (its super-resolution branch, line 2, with λ_max = λ + δ and λ_min = λ).

    Why the law at λ is left invariant: if u_λ ~ p_λ, the push draws u_{λ+δ} ~ p_{λ+δ} (the
    forward transitions compose, q_{λ+δ} = q_{λ→λ+δ} ∘ q_λ), and the reverse-λ SDE or
    probability-flow ODE with the exact score carries p_{λ+δ} back to p_λ. The composition is a
    Markov kernel with p_λ as an invariant law, and a window off the law is moved towards it:
    the push forgets the modes with α|k|²δ ≳ 1 (their C̃ ≈ 0) and the pull-back redraws them
    from the learned law given what the push kept; δ sets that cutoff, ~1/sqrt(αδ). With a learned
    score and a finite sampler p_λ is invariant up to the score's and the sampler's errors: this
    is the extra bias a thermalized rollout carries, and why the climate it is pulled to is the
    model's, not the truth's.

    How much is forgotten depends on the sampler too: a stochastic corrector re-draws more than the
    push alone. On the exact Gaussian field of the tests (δ = 0.1 at λ = 0.1) the window's in/out
    correlation per mode is 0.93 -> 0.19 from k = 0 to Nyquist with the ETD predictor (20 steps),
    but 0.57 -> 0 with gpc (10 steps), whose per-mode Langevin moves re-draw all but the largest
    scales: a gpc-thermalized window keeps little memory of the frames before it.

    Caveat (the first frame): a :class:`~pdd_core.score.path_score.PathScore` without an initial
    density leaves u(t0) of the window scored by the transition term only (PDD B.6). Pass
    ``boundary=extrapolate_t0`` (windows of >= 3 frames) as generation does, and give the
    thermalizer a window at least one frame longer than the drift's history, so that the
    extrapolated frame never feeds the drift. An exact score of the whole window (e.g.
    :class:`~pdd_core.score.gaussian.GaussianPathScore`) needs no boundary.

    Cost: ``network_calls`` = ``steps`` x ``sampler.evaluations_per_step`` score evaluations per
    application (a score call of a path score is one drift forward and one backward over the
    window). Randomness comes from the ``generator`` of :meth:`apply` only. Like :func:`sample`,
    :meth:`apply` builds no ``torch.no_grad()`` context: callers wrap it in one.
    """

    every: int = attrs.field(validator=_whole("every", "apply it every N >= 1 physical steps, e.g. every=50"))
    push: float = attrs.field(validator=_push)
    steps: int = attrs.field(validator=_whole("steps", "integrate back over e.g. steps=20 λ steps"))
    sampler: object = attrs.field(validator=_sampler)
    schedule: Schedule = attrs.field(default=power_schedule, validator=_schedule)

    @property
    def network_calls(self) -> int:
        """Score evaluations per application: ``steps`` x ``sampler.evaluations_per_step``."""
        return self.steps * self.sampler.evaluations_per_step

    def is_due(self, step: int) -> bool:
        """Whether the thermalizer is applied after physical step ``step`` (1, 2, ...): every ``every``-th."""
        return step % self.every == 0

    def lam_schedule(self, lam: float) -> torch.Tensor:
        """The decreasing λ grid of the pull-back, from λ + ``push`` to λ exactly (``steps`` + 1 points)."""
        lam = float(as_lambda(lam, 1, "lam")[0])
        schedule = check_schedule(self.schedule(lam + self.push, lam, self.steps))
        if schedule.numel() != self.steps + 1 or float(schedule[0]) != lam + self.push or float(schedule[-1]) != lam:
            ends = (float(schedule[0]), float(schedule[-1]), schedule.numel() - 1)
            problem = f"must run from λ + push = {lam + self.push} down to λ = {lam} in {self.steps} steps"
            raise bad_argument("schedule", ends, problem, "return schedule(lam_start, lam_end, steps) with exactly those ends")
        return schedule

    def plan(self, scheme, grid: Grid, lam: float, *, device, dtype: torch.dtype) -> ReversePlan:
        """The sampler's coefficients for the pull-back at ``lam``, to build once and pass to every :meth:`apply`."""
        return ReversePlan.build(self.sampler, scheme, grid, self.lam_schedule(lam), device=device, dtype=dtype)

    def apply(
        self,
        score,
        scheme,
        grid: Grid,
        window: torch.Tensor,
        lam: float,
        generator: torch.Generator,
        boundary: Boundary | None = None,
        *,
        plan: ReversePlan | None = None,
    ) -> torch.Tensor:
        """Push ``window`` ``[B, W, C, *space]`` (standardised, at scale ``lam``) to λ + δ and sample it back to λ.

        ``score(u, lam)`` is the path score of W-frame windows, ``scheme`` the RG scheme it was
        trained with, ``generator`` draws the push and the sampler's noise (on the window's
        device). ``boundary`` is applied after every sampler update (see the class's caveat on the
        first frame); ``plan`` is :meth:`plan` built once for this ``lam``, device and dtype.
        Returns the thermalized window, same shape, dtype and device.
        """
        check_field(window, grid, "window")
        check_generator(generator)
        schedule = self.lam_schedule(lam)
        lam_low, lam_high = float(schedule[-1]), float(schedule[0])
        if plan is not None and not torch.equal(plan.lam_schedule, schedule):
            raise bad_argument(
                "plan",
                f"built for λ {float(plan.lam_schedule[0]):.6g} -> {float(plan.lam_schedule[-1]):.6g}",
                f"does not match this pull-back ({lam_high:.6g} -> {lam_low:.6g})",
                "build it with thermalizer.plan(scheme, grid, lam, ...) for the same lam",
            )
        pushed = push_window(window, scheme, grid, lam_low, lam_high, generator)
        return sample(score, scheme, grid, self.sampler, schedule, generator=generator, u_init=pushed, boundary=boundary, plan=plan)


__all__ = ["Thermalizer", "push_window"]
