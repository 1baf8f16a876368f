"""A stochastic closure fitted to the climate: per-mode damping and noise that keep the data's variance.

:class:`~pdd_core.apps.inference.residual_noise.ResidualNoise` gives each increment the variance
the drift leaves in one step. What a long rollout keeps also depends on how strongly the learned
drift damps each mode. For a mode damped at the rate a, Euler-Maruyama steps
u_{n+1} = (1 - aΔt) u_n + σ√Δt ξ keep the stationary variance

    v = σ²Δt / (1 - (1 - aΔt)²),   so the rate that keeps v is   a(v) = (1 - sqrt(1 - σ²Δt / v)) / Δt.

A drift fitted by regression, E[Δu | window]/Δt, pulls the unpredictable part of each mode back
harder than the dynamics do, so its rollouts keep too little variance (Lorenz-96's X at λ = 0:
0.72-0.85 of the truth's std; docs/results.md, "Rollout climate"). Raising the noise would restore
the variance but make every increment too large (the rollout too fast); correcting the damping
restores it at the same increment noise. So, per channel and Fourier mode, a calibration rollout
from the calibration paths measures its variance v_roll(k), the calibration paths at λ
(C_λ u0 + sqrt(Σ_λ) ε, Eq. 3) give the data's v_data(k), and the drift of the stochastic rollout gets
the linear term c(k) û(k) (:class:`~pdd_core.drifts.mode_correction.ModeCorrectedDrift`) with

    c(k) ← c(k) - [a(v_data) - a(v_roll)],

exact for a linear mode, repeated ``iterations`` times. A chaotic mode answers the linear rule
only in part: its variance is also fed by the nonlinear transfer between modes, so a change Δc of
its damping moves the rate read off its variance by g Δc with 0 < g < 1 (Lorenz-96's X at λ = 0:
each round closed ~10 % of the variance gap). So from the second round on, the update divides by
a secant estimate of g per channel and octave of wavenumbers (floor(log2|n|)), the
least-squares slope of the rates' change against the last round's steps over the octave's fitted
modes (pooled over modes: one mode's change is within its sampling error) plus two of its
standard errors (an upper bound: a step divided by too small a g overshoots, and near
convergence, where the steps are within the rates' sampling error, the bound is 1), clipped to
[``min_response``, 1] (``min_response=1`` is the linear rule). Per octave, because large and
small scales answer differently: one gain per channel, set by the chaotic large scales, carried a
Kolmogorov run's k = 10 shell to 28x its power at λ = 0 (docs/results.md, "A secant update").
By default λ = 0 takes the secant update (``MIN_RESPONSE``) and ``SECANT_ITERATIONS`` rounds,
λ > 0 the linear rule and ``ITERATIONS``: at λ = 0 it takes Lorenz-96's X from 86-90 % to
94-98 % of its std over 1e4 steps (a Kolmogorov run at 40² from 94 to 98 % over 2000), but at
λ = 0.1 it carried Lorenz-96's small noise-fed modes far past their variance (Y at 25x its std,
per octave as pooled), where the linear rule keeps every mode. An ``iterations`` or
``min_response`` given applies at every λ. Where a secant step makes a calibration rollout leave
its energy band before ``ITERATIONS`` rounds are kept (a Kolmogorov demo's run, calibrated on 8
paths of 400 steps, at its second round), the closure is fitted again with the linear rule
(``linear_fallback``, per λ, says where): keeping the round before would keep fewer rounds than the
linear rule's. Later, the rounds before the failing step are kept, as with the linear rule. The
spatial mean keeps the linear rule (no transfer feeds it; on Lorenz-96 the channel's gain
overshot its variance 2x). The calibration rollouts of every round share their noise, so the
change between rounds is the update's, not the sampling's. A mode can also answer far *more* than a linear one: on a
Kolmogorov run trained 300 steps, two linear rounds took the k = 1 modes from 0.15-0.25 to 0.45-0.58
of the data's variance over the calibration rollouts and then, over 1200 steps, to 245x (a
near-neutral mode of the drift, its damping lowered past its own), and the rollout's std to 3.4x.
Undoing only the last step was not enough there (the step before it, stationary over the
calibration, still grew to 48x), so a last rollout, as long as the others, checks the last
update, and a mode whose damping the last step lowered and which then keeps more than
``OVERSHOOT`` x the data's variance goes back to the most damping any round gave it (the drift's
own where none raised it) for the rest of the rounds, unless a retry is left (``MAX_RETRIES`` per
λ): then a round of retries, a rollout more than ``iterations``, comes first. Every mode that
overshot goes back to where it was before the last step and takes 1/g of that step, g ≥ 1 the
ratio of its rate's change to the step (for a mode fed at a fixed power, whose variance goes as
1/(a - c) with a the drift's damping, this secant lands on the data's variance), and nothing else
moves: a rollout in which a mode blew up measures no other (the blown-up large scales of a
Kolmogorov demo's run fed every shell, up to 3.4x). The next rollout checks the retries: a retried
mode that overshoots again keeps the most damping, one that does not keeps its retry for the rest
of the rounds. Its response is not the linear rule's, nor steady: on that run, from a retry that
had reached 0.78 of the data's variance, the next linear step took k = 1 to 178x and the same
step divided by its g to 19x. A mode that was only fed past 2x by a blown-up one is held at its
retry too (nothing tells the two apart in one rollout). Without the retries that run lost its large
scales: at λ = 0.1 the linear step took its k = 1 shell to 184x and freezing kept the k = 1-2
shells at 0.68 of the data's variance; at λ = 0 a secant step took it to 219x and freezing threw
away the first round's gain too (0.68 → 0.30). Where any rollout after the first leaves its energy
band the update before it is kept, without a retry it had not checked (``rounds``, per λ, says how
many were; ``overshoots``, per λ, the rounds of retries, the modes, channel by rfft mode, that took
a retry and those sent to the most damping). Two modes are treated apart:

* where σ²Δt ≥ v_data even a memoryless mode (aΔt = 1) keeps too much, so the noise is lowered
  instead, σ ← σ sqrt(v_data / v_roll) (at most by 1/MAX_NOISE_CUT per round);
* the spatial mean (k = 0) also has a mean to keep, and a learned drift can hold it off the
  data's (Lorenz-96's X at λ = 0: 0.2 std on one seed). With ``fit_mean`` its damping is fitted as
  any other mode's, and a constant d per channel is added to the drift: for a linear mode at the
  rate a, the mean m = (b + d)/a, so with the rollout's m_roll at the rate a_roll and the rate
  a_new the damping correction gives, d ← d + m_data a_new - m_roll a_roll moves it to the data's
  m_data. A spatial mean without noise (conserved by the run) gets neither.

The damping that keeps a mode's variance also sets how fast it moves: a linear mode's mean-square
increment per step is 2v(1 - ρ) with ρ = 1 - aΔt, so where the noise is too weak the fitted damping
is too weak as well and the rollout too slow (Lorenz-96's X at λ = 0, one seed: 0.79 of the truth's
speed with its variance kept). So with ``speed_tolerance`` each round also compares a channel's
speed on the calibration rollout (mean |Δu| per step, as evaluation reports it) with the data's;
where it is off by more than the tolerance, the channel's noise is scaled by s so that the speed
lands on the nearer edge of the band: with the increments' shape and the drift's share D - N of
their mean-square D held (N = Σ_k σ_k²Δt, the noise's), D - N + s²N = D (edge / ratio)² (at most
by ``MAX_SPEED_SCALE`` per round; the damping of the same round is fitted with the new σ, so the
variance is kept). The speed, not the root-mean-square increment, because bursts make them differ:
Lorenz-96's Y moved at 0.96 of the data's speed by the mean and under 0.9 by the root mean square. Inside the band the residual noise, the drift's one-step error on
data, is kept as it is; ``noise_scales`` records the product of the rounds' s per channel.

The per-mode variance, hence the time-averaged PSD and the per-channel std, then matches the
*training* data up to the calibration's sampling error; evaluation checks it on the test paths,
with the speed of the dynamics and the spatiotemporal spectral error (which sees the temporal
correlations) as the independent checks.
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.apps.inference.closure_cache import ClosureCache, StoredFit, closure_identity
from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.drifts.mode_correction import ModeCorrection
from pdd_core.errors import DivergenceError, bad_argument
from pdd_core.metrics.climate import mean_abs_increment
from pdd_core.registry import INTEGRATORS
from pdd_core.spectral import rfft

# Calibration rollouts: this many paths of STEPS steps, the first BURN_IN dropped, ITERATIONS rounds.
PATHS = 16
STEPS = 1000
BURN_IN = 250
ITERATIONS = 2
# At λ = 0: the secant update's rounds (the first is linear, so two more than the linear rule's).
SECANT_ITERATIONS = 4
# The most one round may lower a saturated mode's σ by.
MAX_NOISE_CUT = 4.0
# The smallest response g of a mode's rate to its correction the secant update assumes (at most 1/g times the linear step)
# (the default at λ = 0; 1, the linear rule, at λ > 0), and the standard errors of the measured g
# added before it is used (an upper bound: smaller steps where g is uncertain).
MIN_RESPONSE = 0.25
CONFIDENCE = 2.0
# A mode whose damping the last step lowered and which then keeps more than OVERSHOOT x the data's variance answers its
# damping far more than a linear mode would (a near-neutral mode of the drift): it goes back to the most damping it had.
OVERSHOOT = 2.0
# A round of retries (of modes that overshot) is a rollout more than the rounds asked for; at most MAX_RETRIES per λ.
MAX_RETRIES = 2
# A channel whose calibration rollout moves more than SPEED_TOLERANCE slower or faster than the data (root-mean-square
# increment per step) has its noise scaled towards that band's edge, at most by MAX_SPEED_SCALE per round.
SPEED_TOLERANCE = 0.1
MAX_SPEED_SCALE = 2.0


def mode_variance(u: torch.Tensor, ndim: int) -> torch.Tensor:
    """E|û(k) - E û(k)|² over paths and frames of ``u`` ``[B, T, C, *space]``, per channel and rfft mode ``[C, *rfft]``."""
    u_hat = rfft(u.double(), ndim)
    return (u_hat - u_hat.mean(dim=(0, 1), keepdim=True)).abs().pow(2).mean(dim=(0, 1))


def channel_mean(u: torch.Tensor) -> torch.Tensor:
    """The mean of ``u`` ``[B, T, C, *space]`` over paths, frames and space, per channel ``[1, C]`` (float64)."""
    return u.double().transpose(0, 2).reshape(u.shape[2], -1).mean(dim=1).unsqueeze(0)


def keeping_rate(sigma: torch.Tensor, variance: torch.Tensor, dt: float) -> torch.Tensor:
    """The Euler-Maruyama damping rate a that keeps ``variance`` with noise σ: (1 - sqrt(1 - σ²Δt/v))/Δt, 1/Δt where σ²Δt ≥ v."""
    return (1 - (1 - sigma.pow(2) * dt / variance.clamp_min(torch.finfo(torch.float64).tiny)).clamp_min(0).sqrt()) / dt


def response_gain(change: torch.Tensor, step: torch.Tensor, fitted: torch.Tensor, min_response: float, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Per channel ``[1, C, 1, ...]``, an upper confidence bound on the response g of the ``fitted`` modes of ``[1, C, *rfft]``:
    the least-squares slope ĝ = Σ change·step / Σ step² plus CONFIDENCE standard errors, clipped to [min_response, 1].

    The bound, not ĝ, because a step divided by too small a g overshoots and can make the chain
    unstable: where the last steps were small against the rates' sampling error (near
    convergence, or where the modes answer linearly) the bound is 1, the linear rule. 1 also
    where fewer than three modes moved. With ``groups`` (an integer label per rfft mode, ``[*rfft]``)
    the bound is taken per channel and group, ``[1, C, *rfft]``.
    """
    if groups is not None:
        gain = torch.ones_like(step)
        for label in groups.unique():
            member = groups == label
            gain = torch.where(member, response_gain(change, step, fitted & member, min_response), gain)
        return gain
    dims = tuple(range(2, step.dim()))
    step = torch.where(fitted, step, torch.zeros_like(step))
    change = torch.where(fitted, change, torch.zeros_like(change))
    moved = step.pow(2).sum(dim=dims, keepdim=True)
    count = (fitted & (step != 0)).sum(dim=dims, keepdim=True)
    slope = (change * step).sum(dim=dims, keepdim=True) / moved.clamp_min(torch.finfo(torch.float64).tiny)
    residual = torch.where(fitted, change - slope * step, torch.zeros_like(change)).pow(2).sum(dim=dims, keepdim=True)
    error = (residual / (count - 1).clamp_min(1) / moved.clamp_min(torch.finfo(torch.float64).tiny)).sqrt()
    return torch.where(count >= 3, slope + CONFIDENCE * error, torch.ones_like(slope)).clamp(min_response, 1.0)


def rfft_weights(shape: tuple[int, ...]) -> torch.Tensor:
    """How often each rfft mode of a real field on ``shape`` occurs in its full FFT (2, or 1 at the last axis's 0 and Nyquist), ``[*rfft]``: Σ_k w_k |û_k|² is the field's energy."""
    last = shape[-1] // 2 + 1
    weights = torch.full((*shape[:-1], last), 2.0, dtype=torch.float64)
    weights[..., 0] = 1.0
    if shape[-1] % 2 == 0:
        weights[..., -1] = 1.0
    return weights


def increment_power(u: torch.Tensor, ndim: int) -> torch.Tensor:
    """The mean-square increment between consecutive frames of ``u`` ``[B, T, C, *space]``, per channel ``[1, C]`` (summed over modes, float64)."""
    increments = rfft((u[:, 1:] - u[:, :-1]).double(), ndim).abs().pow(2).mean(dim=(0, 1))
    return (rfft_weights(u.shape[-ndim:]).to(u.device) * increments).sum(dim=tuple(range(1, ndim + 1))).unsqueeze(0)


def speed_scale(speed_ratio: torch.Tensor, rollout_power: torch.Tensor, noise_power: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Per channel ``[1, C]``, the factor s of the noise that moves a rollout whose speed (mean |Δu| per step) is ``speed_ratio`` x
    the data's to the nearer edge of [1 - tolerance, 1 + tolerance], 1 where it is inside.

    The increments' shape is held, so their mean-square D must go to D (edge / ratio)², and with the
    drift's share D - N held (N the noise's), D - N + s²N = D (edge / ratio)². Clipped to
    [1/MAX_SPEED_SCALE, MAX_SPEED_SCALE]; 1 on a channel without noise.
    """
    edge = torch.where(speed_ratio < 1, 1 - tolerance, 1 + tolerance)
    squared = (rollout_power * (edge / speed_ratio).pow(2) - (rollout_power - noise_power)) / noise_power.clamp_min(torch.finfo(torch.float64).tiny)
    scale = squared.clamp(1 / MAX_SPEED_SCALE**2, MAX_SPEED_SCALE**2).sqrt()
    return torch.where(((speed_ratio - 1).abs() > tolerance) & (noise_power > 0), scale, torch.ones_like(scale))


def mean_speed(u: torch.Tensor) -> torch.Tensor:
    """Per channel ``[1, C]`` (float64), the speed evaluation reports: mean |u(t+1) - u(t)| over paths, frames and space."""
    return torch.as_tensor(mean_abs_increment(u.detach().cpu()), device=u.device).unsqueeze(0)


def octaves(shape: tuple[int, ...]) -> torch.Tensor:
    """The octave floor(log2|n|) of each rfft mode's integer wavenumber n on a grid ``shape`` (-1 at n = 0), int64 ``[*rfft]``."""
    axes = [torch.fft.fftfreq(size, 1.0 / size, dtype=torch.float64) for size in shape[:-1]] + [torch.fft.rfftfreq(shape[-1], 1.0 / shape[-1], dtype=torch.float64)]
    magnitude = sum(n**2 for n in torch.meshgrid(*axes, indexing="ij")).sqrt()
    return torch.where(magnitude > 0, torch.floor(torch.log2(magnitude.clamp_min(1.0)) + 1e-9), torch.full_like(magnitude, -1.0)).long()


def overshot(kept: torch.Tensor, target: torch.Tensor, step: torch.Tensor, fitted: torch.Tensor, modes: torch.Tensor) -> torch.Tensor:
    """The ``modes`` whose damping the last ``step`` lowered (step < 0 where ``fitted``) and which now keep more than OVERSHOOT x the data's variance ``target``."""
    return modes & fitted & (step < 0) & (kept > OVERSHOOT * target)


def overshoot_response(change: torch.Tensor, step: torch.Tensor, modes: torch.Tensor) -> torch.Tensor:
    """Per mode, how much more than a linear mode the rate read off an overshooting mode's variance answered its last ``step``:
    g = ``change`` / ``step`` at least 1 where ``modes``, 1 elsewhere; the retried step is 1/g of the undamping (module docstring)."""
    ratio = change / torch.where(modes, step, torch.ones_like(step))
    return torch.where(modes, torch.nan_to_num(ratio, nan=1.0, posinf=1.0, neginf=1.0), torch.ones_like(ratio)).clamp_min(1.0)


def _positive_int(instance, attribute, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise bad_argument(attribute.name, value, "must be an integer >= 1", f"pass e.g. {attribute.name}={attribute.default}")


@attrs.define(eq=False)
class ClimateClosure:
    """Per λ, the increment noise σ_k ``[1, C, *rfft]`` (``closure(lam)``) and the drift's correction (``correction(lam)``, a :class:`ModeCorrection`) of a stochastic rollout that keeps the calibration data's per-mode variance and spatial mean (module docstring).

    Starts from ``residual``'s noise; calibrates once per λ and keeps the result. Rollouts start
    from the first frames of the calibration paths and draw their noise from ``residual.seed``.
    ``fit_mean=False`` leaves the spatial mean (k = 0) to the drift, as before the mean was fitted;
    ``speed_tolerance=None`` keeps the residual noise's level at every speed.
    With a ``cache`` (:class:`~pdd_core.apps.inference.closure_cache.ClosureCache`), a fit
    stored for the same checkpoint, data and settings is read instead of refitted, and a new
    one is stored.
    """

    residual: ResidualNoise
    paths: int = attrs.field(default=PATHS, validator=_positive_int)
    steps: int = attrs.field(default=STEPS, validator=_positive_int)
    burn_in: int = attrs.field(default=BURN_IN, validator=attrs.validators.instance_of(int))
    iterations: int | None = attrs.field(default=None, validator=attrs.validators.optional(_positive_int))
    fit_mean: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    min_response: float | None = attrs.field(default=None, converter=attrs.converters.optional(float))
    speed_tolerance: float | None = attrs.field(default=SPEED_TOLERANCE, converter=attrs.converters.optional(float))
    rounds: dict[float, int] = attrs.field(factory=dict, init=False)
    linear_fallback: set[float] = attrs.field(factory=set, init=False)
    noise_scales: dict[float, list[float]] = attrs.field(factory=dict, init=False)
    overshoots: dict[float, dict[str, int]] = attrs.field(factory=dict, init=False)
    cache: ClosureCache | None = None
    _fitted: dict[float, tuple[torch.Tensor, ModeCorrection]] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.burn_in < self.steps:
            raise bad_argument("burn_in", self.burn_in, f"must be in [0, steps = {self.steps})", f"pass e.g. burn_in={self.steps // 4}")
        if self.min_response is not None and not 0 < self.min_response <= 1:  # also NaN
            raise bad_argument("min_response", self.min_response, "must be in (0, 1]", f"pass e.g. min_response={MIN_RESPONSE} (1: the linear rule)")
        if self.speed_tolerance is not None and not 0 < self.speed_tolerance < 1:  # also NaN
            raise bad_argument("speed_tolerance", self.speed_tolerance, "must be in (0, 1)", f"pass e.g. speed_tolerance={SPEED_TOLERANCE} (None: the residual noise's level kept)")

    @property
    def run(self):
        return self.residual.run

    def plan(self, lam: float) -> tuple[int, float]:
        """The calibration rounds and the smallest response of the secant update at λ (module docstring)."""
        at_zero = lam == 0
        iterations = self.iterations if self.iterations is not None else SECANT_ITERATIONS if at_zero else ITERATIONS
        min_response = self.min_response if self.min_response is not None else MIN_RESPONSE if at_zero else 1.0
        return iterations, min_response

    def __call__(self, lam: float) -> torch.Tensor:
        """σ_k(λ), the noise level of the rollout (the ``noise_level`` of ``simulate_run``)."""
        return self._fit(lam)[0]

    def correction(self, lam: float) -> ModeCorrection:
        """c(k, λ) ``[1, C, *rfft]`` and d(λ) ``[1, C]``, what is added to the drift (the ``drift_correction`` of ``simulate_run``)."""
        return self._fit(lam)[1]

    def _fit(self, lam: float) -> tuple[torch.Tensor, ModeCorrection]:
        if lam not in self._fitted:
            identity = None if self.cache is None else self._identity(lam)
            stored = None if identity is None else self.cache.load(identity)
            if stored is not None:
                self._fitted[lam] = stored.sigma.to(self.run.device), stored.correction
                self.rounds[lam], self.noise_scales[lam], self.overshoots[lam] = stored.rounds, stored.noise_scales, stored.overshoots
                if stored.linear_fallback:
                    self.linear_fallback.add(lam)
            else:
                self._fitted[lam] = self._calibrate(lam)  # records its own fallback
                if identity is not None:
                    record = {"rounds": self.rounds[lam], "linear_fallback": lam in self.linear_fallback, "noise_scales": self.noise_scales[lam], "overshoots": self.overshoots[lam]}
                    self.cache.store(identity, StoredFit(*self._fitted[lam], **record))
        return self._fitted[lam]

    def _identity(self, lam: float) -> dict:
        settings = {**self.describe(), "rounds_kept": None, "linear_fallback": None, "noise_scales": None, "overshoots": None, "dtype": str(self.run.dtype), "device": self.run.device.type}
        return closure_identity(self.run.run_dir, self.residual.data_file, settings, lam)

    def _calibrate(self, lam: float) -> tuple[torch.Tensor, ModeCorrection]:
        iterations, min_response = self.plan(lam)
        fitted = self._rounds(lam, iterations, min_response)
        if fitted is None:  # a secant step made a calibration rollout leave its energy band: the linear rule's rounds instead
            self.linear_fallback.add(lam)
            fitted = self._rounds(lam, iterations, 1.0)
        return fitted

    @torch.no_grad()
    def _rounds(self, lam: float, iterations: int, min_response: float) -> tuple[torch.Tensor, ModeCorrection] | None:
        """``iterations`` rounds of the update with the response bound ``min_response`` (module docstring); None where a secant step (min_response < 1) made a rollout leave its energy band before ``ITERATIONS`` rounds were kept."""
        run, ndim, dt = self.run, self.run.grid.ndim, self.run.dt
        groups = octaves(run.grid.shape).to(run.device)
        data = self.residual.paths_at(lam)
        target, target_mean = mode_variance(data, ndim).unsqueeze(0), channel_mean(data)
        data_speed = mean_speed(data)
        channel = (slice(None), slice(None), *(None,) * ndim)
        weights = rfft_weights(run.grid.shape).to(run.device)  # each rfft mode's multiplicity, for the noise's share of the increments
        noise_scale = torch.ones_like(target_mean)  # the product of the rounds' speed scales, per channel
        sigma = self.residual(lam).double()
        correction, offset = torch.zeros_like(sigma), torch.zeros_like(target_mean)
        initial = self.residual.data[: self.paths, : run.model.window]
        integrator = INTEGRATORS.get("euler-maruyama")()
        noisy = sigma > 0  # a mode without noise (a conserved mean) keeps none and no correction
        zero_mode = (..., *(0,) * ndim)
        corrected = noisy.clone()
        corrected[zero_mode] = noisy[zero_mode] & self.fit_mean
        secant_modes = noisy.clone()
        secant_modes[zero_mode] = False  # the spatial mean keeps the linear rule
        frozen = torch.zeros_like(noisy)  # modes that overshot: left at the most damping any round gave them
        retried = torch.zeros_like(noisy)  # modes that overshot and took a shortened step in the last round
        most_damped = torch.zeros_like(sigma)  # the smallest c(k) of the rounds so far (c < 0 damps), the drift's own (0) included
        ever_retried, damped = torch.zeros_like(noisy), torch.zeros_like(noisy)  # for the record: modes that took a retry; modes sent to the most damping
        previous, last = None, None  # the update before the last; the last round's rates and steps
        round_, retries = 0, 0  # the updates made so far (the last rollout only checks the last one); the rounds of retries
        while True:
            level, current = sigma.to(run.dtype), ModeCorrection(correction.to(run.dtype), offset.to(run.dtype))
            generator = torch.Generator(device=run.device).manual_seed(self.residual.seed)  # the same noise every round
            try:
                path = simulate_run(run, initial, lam, self.steps, generator=generator, integrator=integrator, noise=True, noise_level=lambda _lam: level, drift_correction=lambda _lam: current)
            except DivergenceError as failure:
                if previous is None:
                    raise type(failure)(f"climate closure at λ = {lam}: calibration rollout {round_ + 1} of {iterations} left its energy band ({failure})") from None
                if min_response < 1 and 2 <= round_ <= ITERATIONS and not retried.any():  # a secant step failed before as many rounds as the linear rule's were kept
                    return None
                sigma, correction, offset, noise_scale = previous  # the last update made the chain unstable: keep the one before
                correction = torch.where(retried, most_damped, correction)  # ... without the retries it had not checked
                damped = damped | retried
                self.rounds[lam] = round_ if retried.any() else round_ - 1
                break
            kept_path = path[:, initial.shape[1] + self.burn_in :]
            kept = mode_variance(kept_path, ndim).unsqueeze(0)
            rate = keeping_rate(sigma, kept, dt)  # each mode's damping now, read off its variance
            if last is not None:
                over = overshot(kept, target, last[1], last[2], secant_modes) | (retried & (kept > OVERSHOOT * target))
                retry = over & ~retried & (retries < MAX_RETRIES)  # a first overshoot: back, then 1/g of the step, checked by the next rollout
                retried_correction = correction + last[1] * (1 - 1 / overshoot_response(rate - last[0], last[1], retry))  # c_before - step/g
                correction = torch.where(retry, retried_correction, torch.where(over, most_damped, correction))
                frozen, retried = frozen | over, retry  # a retried mode stays at its retry where its check passes
                ever_retried, damped = ever_retried | retry, damped | (over & ~retry)
                if retry.any():  # a rollout with a blown-up mode measures no other mode (they were fed by it): only the retries move
                    retries += 1
                    previous, last = (sigma, correction, offset, noise_scale), (rate, torch.zeros_like(rate), torch.zeros_like(retry))
                    continue
            if round_ == iterations:
                self.rounds[lam] = iterations
                break
            round_ += 1
            previous = sigma, correction, offset, noise_scale
            saturated = sigma.pow(2) * dt >= target
            if self.speed_tolerance is not None:
                noise_power = (weights * sigma.pow(2) * dt).sum(dim=tuple(range(2, sigma.dim())))
                scale = speed_scale(mean_speed(kept_path) / data_speed, increment_power(kept_path, ndim), noise_power, self.speed_tolerance)
                sigma = torch.where(noisy & ~saturated, sigma * scale[channel], sigma)
                noise_scale = noise_scale * scale
            fitted = corrected & ~saturated & ~frozen
            wanted = torch.where(fitted, keeping_rate(sigma, target, dt) - rate, torch.zeros_like(rate))
            gain = torch.ones_like(rate) if last is None else response_gain(rate - last[0], last[1], fitted & last[2] & secant_modes, min_response, groups).clone()
            gain[zero_mode] = 1.0  # the spatial mean is not fed by the transfer between modes: the linear rule
            step = wanted / gain
            last = rate, step, fitted
            correction = correction - step
            most_damped = torch.minimum(most_damped, correction)
            # The mean m = (b + d)/a of the spatial mean: d ← d + m_data a_new - m_roll a_now, a_new = a_now + g·step.
            shift = target_mean * (rate + wanted)[zero_mode] - channel_mean(kept_path) * rate[zero_mode]
            offset = offset + torch.where(corrected[zero_mode], shift, torch.zeros_like(shift))
            cut = torch.nan_to_num(target / kept, nan=1.0).clamp(1 / MAX_NOISE_CUT**2, 1.0).sqrt()
            sigma = sigma * torch.where(noisy & saturated, cut, torch.ones_like(cut))
        self.noise_scales[lam] = noise_scale[0].tolist()
        self.overshoots[lam] = {"retry_rounds": retries, "modes_retried": int(ever_retried.sum()), "modes_at_most_damping": int(damped.sum())}
        return sigma.to(self.residual(lam).dtype), ModeCorrection(correction, offset)

    def describe(self) -> dict:
        def per_lambda(given, at_zero, elsewhere):
            return given if given is not None else {"lambda 0": at_zero, "lambda > 0": elsewhere}

        iterations = per_lambda(self.iterations, SECANT_ITERATIONS, ITERATIONS)
        rollouts = {"paths": self.paths, "steps": self.steps, "burn_in": self.burn_in, "iterations": iterations}
        settings = {"fit_mean": self.fit_mean, "min_response": per_lambda(self.min_response, MIN_RESPONSE, 1.0), "response_groups": "octave", "overshoot": OVERSHOOT, "overshoot_retries": MAX_RETRIES, "speed_tolerance": self.speed_tolerance}
        return {**self.residual.describe(), "kind": "climate", "calibration_rollouts": rollouts, **settings, "rounds_kept": {str(lam): rounds for lam, rounds in sorted(self.rounds.items())}, "noise_scales": {str(lam): scales for lam, scales in sorted(self.noise_scales.items())}, "overshoots": {str(lam): record for lam, record in sorted(self.overshoots.items())}, "linear_fallback": [lam for lam in sorted(self.linear_fallback)]}


__all__ = ["ClimateClosure", "channel_mean", "increment_power", "keeping_rate", "mode_variance", "octaves", "overshoot_response", "overshot", "response_gain", "mean_speed", "rfft_weights", "speed_scale"]
