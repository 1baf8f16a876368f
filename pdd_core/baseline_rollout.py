"""The conditional simulation baseline of PDD B.4 (GenCast-style conditional diffusion).

At every physical step n the standardised increment δ_n = (u_{n+1} - u_n) / s is *sampled*
rather than predicted: starting from δ ~ N(0, Σ_λmax) of the network's scheme (the
variance-preserving one, γ = 3, in B.4), the reverse RG flow (PDD Eq. 11) is integrated down
to λ_min with any λ-sampler, using the denoising score

    s_λ(δ_λ | u_{n-W+2..n}) = -Σ_λ^{-1/2} ε̂(u_{n-W+2}, ..., u_n, δ_λ; λ)      (PDD B.4, RDM 5.23)

of the network trained by :class:`pdd_core.training.objectives.ConditionalDenoisingObjective`:
its input window is the W - 1 clean states ending at u_n (oldest first, zeros before t0 as in
B.2) followed by the noisy increment. Then u_{n+1} = u_n + s ⊙ δ and the window slides by one
("we generate the residual one step at a time and roll out in physical time by sliding the
conditioning window", B.4). The baseline has no coarse-graining hierarchy, so it simulates at
λ = 0 only.
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.records import Trajectory
from pdd_core.rollout import advance, check_steps, initial_window
from pdd_core.sampling import ReversePlan, sample
from pdd_core.schedules import check_schedule
from pdd_core.score.noise_score import inverse_sqrt_covariance
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import as_lambda, check_field, check_generator


@attrs.frozen(eq=False)
class ConditionalIncrementScore:
    """The score of the noisy increment δ_λ ``[B, 1, C, *space]`` given the clean ``context``.

    ``context`` is ``[B, W-1, C, *space]``: the clean states ending at u_n, oldest first.
    Σ_λ is floored at Σ_Δλ (PDD A.7) as in every noise-prediction score of the package.
    """

    network: object
    context: torch.Tensor
    scheme: object
    grid: Grid
    delta_lambda: float = DEFAULT_DELTA_LAMBDA

    def __call__(self, delta: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        check_field(delta, self.grid, "delta")
        if delta.shape[1] != 1 or delta.shape[0] != self.context.shape[0]:
            raise bad_argument(
                "delta.shape",
                tuple(delta.shape),
                f"expected one increment per context: [{self.context.shape[0]}, 1, C, *space]",
                "sample the increment with T = 1",
                kind=ShapeError,
            )
        lam = as_lambda(lam, delta.shape[0], "lam", device=delta.device)
        noise = self.network(torch.cat([self.context.to(delta.dtype), delta], dim=1), lam).unsqueeze(1)
        # The scheme's closed forms live on the CPU (float64); only the result moves to the field's device.
        scale = inverse_sqrt_covariance(self.scheme, self.grid, lam.cpu(), self.delta_lambda).to(delta.device)
        return irfft(-rfft(noise, self.grid.ndim) * scale, self.grid.shape).to(delta.dtype)


def _check_scale(increment_scale, grid: Grid) -> tuple[float, ...]:
    values = tuple(increment_scale) if increment_scale is not None else ()
    if len(values) != grid.channels or not all(isinstance(s, (int, float)) and 0 < s < float("inf") for s in values):
        raise bad_argument(
            "increment_scale",
            increment_scale,
            f"needs one finite scale > 0 per channel ({grid.channels})",
            "pass the run's objective.increment_scale (in config.json)",
        )
    return values


class ConditionalIncrement:
    """The B.4 baseline as a time integrator: u_{n+1} = u_n + s ⊙ δ, with δ *sampled* given the clean window.

    ``step(network, context, lam, dt, sigma, generator)`` draws δ ~ N(0, Σ_λmax) and integrates
    the reverse RG flow (PDD Eq. 11) over ``lam_schedule`` with ``sampler`` and the
    :class:`ConditionalIncrementScore` of ``network`` given ``context`` ``[B, W-1, C, *space]``
    (the driver's window: :func:`context_length_of`). λ and σ are unused: the baseline lives at
    λ = 0 and its randomness is the sampler's. Any driver that steps a
    :class:`~pdd_core.protocols.TimeIntegrator` (:func:`pdd_core.rollout.advance`) rolls it out.
    """

    stochastic = True

    def __init__(self, scheme, grid: Grid, sampler, lam_schedule: torch.Tensor, increment_scale, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> None:
        self.scheme, self.grid, self.delta_lambda = scheme, grid, delta_lambda
        self.lam_schedule = check_schedule(lam_schedule)
        self.scale = _check_scale(increment_scale, grid)
        self.sampler = sampler
        # Every physical step integrates over the same λ schedule: its coefficients are computed once
        # per device and dtype (the first step's), not at each of the rollout's steps.
        self._plans: dict[tuple[torch.device, torch.dtype], ReversePlan] = {}

    def plan(self, like: torch.Tensor) -> ReversePlan:
        key = (like.device, like.dtype)
        if key not in self._plans:
            self._plans[key] = ReversePlan.build(self.sampler, self.scheme, self.grid, self.lam_schedule, device=like.device, dtype=like.dtype)
        return self._plans[key]

    def step(self, network, context: torch.Tensor, lam, dt: float, sigma, generator: torch.Generator) -> torch.Tensor:
        scale = torch.as_tensor(self.scale, dtype=context.dtype, device=context.device).reshape(1, -1, *([1] * self.grid.ndim))
        score = ConditionalIncrementScore(network, context, self.scheme, self.grid, self.delta_lambda)
        shape = (context.shape[0], 1, *context.shape[2:])
        prior = self.scheme.prior_sample(shape, self.grid, float(self.lam_schedule[0]), generator, dtype=context.dtype, device=context.device)
        delta = sample(score, self.scheme, self.grid, self.sampler, self.lam_schedule, generator=generator, u_init=prior, plan=self.plan(prior))
        return context[:, -1] + scale * delta[:, 0]


# The fix a diverging baseline rollout suggests.
BASELINE_FIX = "use more λ steps or an exponential sampler (etd, pc)"


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
    integrator = ConditionalIncrement(scheme, grid, sampler, lam_schedule, increment_scale, delta_lambda)
    zeros = torch.zeros(initial.shape[0], dtype=torch.float64, device=initial.device)
    _, context = initial_window(initial, context_length_of(network), grid=grid, lam=zeros)
    options = {"save_every": save_every, "progress": progress, "energy_band": energy_band, "name": "conditional_rollout", "fix": BASELINE_FIX}
    saved, _ = advance(network, integrator, context, zeros, dt, steps, sigma=zeros, generator=generator, **options)
    return Trajectory(u=torch.cat([initial, saved], dim=1), grid=grid, dt=dt * save_every, lam=0.0)


def context_length_of(network) -> int:
    """W - 1: the clean states the conditional denoiser sees before the noisy increment."""
    context_length = int(getattr(network, "window", 0)) - 1
    if context_length < 1:
        raise bad_argument(
            "network.window",
            getattr(network, "window", None),
            "the conditional baseline needs >= 1 clean state plus the noisy increment",
            "use a network with window >= 2 (PDD B.4: 6)",
        )
    return context_length


__all__ = ["BASELINE_FIX", "ConditionalIncrement", "ConditionalIncrementScore", "conditional_rollout", "context_length_of"]
