"""Inference with a trained run: simulation (PDD Algorithm 2), generation and super-resolution (Algorithm 3).

The run (:func:`pdd_core.apps.inference.runs.load_run`) is composed with parts the caller chooses:

* :func:`simulate_run`: a :class:`~pdd_core.protocols.TimeIntegrator` (Euler for the σ = 0
  evaluation setting of B.5, Euler-Maruyama with σ_λ of Eq. 58 for D.1), or for a
  ``conditional-denoising`` run the λ-sampler of the baseline rollout (B.4);
* :func:`generate_run` and :func:`super_resolve_run`: a λ-sampler and a λ schedule, with the score
  the run's objective provides (:func:`pdd_core.apps.inference.runs.run_score`).

Library code never looks solvers up by name (``pdd_core.registry``): the ``pdd`` command maps
names such as ``pc`` to sampler objects.

Units: networks are trained on standardised data, (u - mean_c) / std_c with the per-channel
statistics of the training file (PDD A.2), so every path here is in that space. Output files
(:func:`pdd_core.apps.inference.file_io.write_inference_file`) keep it and record the run's statistics as ``source_mean`` and
``source_std`` so that u = u_std · source_std + source_mean recovers physical units.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import torch
from tqdm import tqdm

from pdd_core.apps.inference.partial_rollout import PartialRollout, segment_steps
from pdd_core.apps.inference.runs import NoiseHeadKind, PathScoreKind, TrainedRun, _check_lam_schedule, check_lambda, run_boundary, run_marginal, run_score
from pdd_core.baseline_rollout import BASELINE_FIX, ConditionalDenoiser
from pdd_core.divergence import ROLLOUT_BAND
from pdd_core.drifts.mode_correction import ModeCorrectedDrift, ModeCorrection
from pdd_core.errors import PDDError, ShapeError, bad_argument
from pdd_core.rollout import advance, check_steps, initial_window
from pdd_core.sampling import Boundary, sample
from pdd_core.score import PathScore
from pdd_core.score.gaussian_marginal import GaussianMarginal
from pdd_core.state_projection import ProjectedIntegrator
from pdd_core.thermalizer import Thermalizer
from pdd_core.validation import check_generator
from solvers.conditional_increment import ConditionalIncrement


def _chunks(total: int, batch_size: int | None) -> Iterator[slice]:
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1):
        raise bad_argument("batch_size", batch_size, "must be an integer >= 1", "pass e.g. batch_size=16, or None for one batch")
    size = total if batch_size is None else batch_size
    for start in range(0, total, max(size, 1)):
        yield slice(start, min(start + size, total))


def _check_paths(u: torch.Tensor, run: TrainedRun, name: str) -> torch.Tensor:
    if u.ndim == 2 + run.grid.ndim:
        u = u.unsqueeze(1)
    expected = (run.grid.channels, *run.grid.shape)
    if u.ndim != 3 + run.grid.ndim or tuple(u.shape[2:]) != expected or u.shape[0] < 1:
        raise bad_argument(
            f"{name}.shape",
            tuple(u.shape),
            f"expected [B >= 1, T, {run.grid.channels}, *{run.grid.shape}] (the run's grid)",
            "pass paths on the grid of the run",
            kind=ShapeError,
        )
    return u.to(device=run.device, dtype=run.dtype)


@torch.no_grad()  # the drivers leave autograd to their caller; inference needs none
def simulate_run(
    run: TrainedRun,
    initial: torch.Tensor,
    lam: float,
    steps: int,
    *,
    generator: torch.Generator | None = None,
    integrator=None,
    noise: bool = False,
    sampler=None,
    lam_schedule: torch.Tensor | None = None,
    save_every: int = 1,
    batch_size: int | None = None,
    progress: bool = False,
    energy_band: float | None = ROLLOUT_BAND,
    partial: PartialRollout | None = None,
    thermalizer: Thermalizer | None = None,
    noise_level: Callable[[float], torch.Tensor] | None = None,
    drift_correction: Callable[[float], ModeCorrection] | None = None,
    project_state: bool = True,
) -> torch.Tensor:
    """Simulate ``steps`` steps of Δt at fixed λ from λ = 0 initial data (PDD Algorithm 2).

    ``initial`` is standardised fine-scale data ``[B, C, *space]`` or an initial history
    ``[B, T0, C, *space]``; it is coarse-grained, u_λ(t0) = C_λ u0(t0) (Alg. 2, line 2).
    Drift runs (``pdd``, ``sa-pdd``) need ``integrator``; ``noise=True`` adds σ_λ of Eq. 58
    (D.1) and needs a stochastic integrator and a ``generator``. ``conditional-denoising``
    runs need ``sampler``, ``lam_schedule`` and ``generator`` and simulate at λ = 0 (B.4).

    The rollout stops with a clear error when a state turns NaN or its mean square leaves
    ``energy_band`` (standardised units; None: NaN/inf only). With ``partial`` (an opened
    :class:`~pdd_core.apps.inference.partial_rollout.PartialRollout`) every segment is kept on disk and finished
    segments found there are resumed, with the same result as an uninterrupted run.
    ``noise_level(λ)`` sets the per-mode σ_k ``[1, C, *rfft]`` of ``noise=True`` (e.g.
    :class:`~pdd_core.apps.inference.residual_noise.ResidualNoise`, calibrated on the drift's residuals);
    None draws the noise the run's path density models (:func:`rollout_noise`).
    ``drift_correction(λ)`` (a :class:`~pdd_core.drifts.mode_correction.ModeCorrection`) adds
    c(k) û_n(k) + d to a drift run's drift (:class:`~pdd_core.drifts.mode_correction.ModeCorrectedDrift`; e.g. the damping of
    :class:`~pdd_core.apps.inference.climate_closure.ClimateClosure`).
    At λ = 0 a drift run's every new state is projected onto the fine-scale state space of the
    training system (``run.state_projection()``, e.g. Lorenz-96's replicated X;
    :mod:`pdd_core.state_projection`) unless ``project_state=False``.
    With ``thermalizer`` (a drift run, a ``generator`` and ``thermalizer.every`` a multiple of
    ``save_every`` and at least the drift's window), every ``every``-th step the drift's window is
    pushed to λ + δ and sampled back to λ with the run's own path score
    (:class:`~pdd_core.thermalizer.Thermalizer`); the saved state of that step is the one before.
    Returns ``[B, T0 + steps // save_every, C, *space]`` on the CPU.
    """
    initial = _check_paths(initial, run, "initial")
    lam = check_lambda(run, lam)
    check_steps(steps, save_every)
    advance_rows, scheme, window = _simulation_step(run, lam, noise, integrator, sampler, lam_schedule, generator, save_every, energy_band, noise_level, drift_correction, project_state)
    if thermalizer is not None:
        advance_rows = _thermalized(advance_rows, run, lam, window, thermalizer, generator, save_every)
    if partial is not None and generator is not None and (state := partial.generator_state()) is not None:
        generator.set_state(state)
    segment = segment_steps(save_every)
    outputs = []
    lam_t = torch.full((initial.shape[0],), lam, dtype=torch.float64, device=initial.device)
    with tqdm(total=initial.shape[0] * steps, unit="path-step", desc="rollout", disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        for rows in _chunks(initial.shape[0], batch_size):
            frames, history = initial_window(initial[rows], window, grid=run.grid, lam=lam_t[rows], scheme=scheme)
            parts, done = [], 0
            for record in partial.segments(rows) if partial is not None else ():
                parts.append(record["frames"].to(history))
                history, done = record["window"].to(history), record["step"]
            bar.update((rows.stop - rows.start) * done)
            while done < steps:
                taken = min(segment, steps - done)
                try:
                    saved, history = advance_rows(history, taken, done + 1)
                except PDDError as error:
                    if partial is None or not done:
                        raise
                    kept = type(error)(f"{error} (steps 1-{done} of paths {rows.start}-{rows.stop - 1} are kept in {partial.directory})")
                    kept.step = getattr(error, "step", None)
                    raise kept from None
                done += taken
                parts.append(saved)
                if partial is not None:
                    partial.save(rows, done, saved, history, generator)
                bar.update((rows.stop - rows.start) * taken)
            outputs.append(torch.cat([frames, *parts], dim=1).cpu())
    return torch.cat(outputs)


def _simulation_step(
    run: TrainedRun, lam: float, noise: bool, integrator, sampler, lam_schedule, generator, save_every: int, energy_band: float | None, noise_level=None, drift_correction=None, project_state=True
):
    """``(advance(window, steps, first_step) -> (saved, window), scheme to coarse-grain with, window length)`` of a run."""
    if run.objective.samples_increments:
        if lam != 0.0:
            raise bad_argument("lam", lam, "the conditional baseline has no coarse-graining hierarchy (PDD B.4)", "simulate it at λ = 0")
        if noise or drift_correction is not None:
            raise bad_argument("noise", True, "the conditional baseline samples every increment; σ_λ noise and drift corrections apply to drift runs", "drop noise and drift_correction")
        if sampler is None or lam_schedule is None or generator is None:
            raise bad_argument(
                "sampler",
                sampler,
                "the conditional baseline samples each increment by reverse-λ integration",
                "pass sampler=, lam_schedule= and generator=",
            )
        drift = ConditionalDenoiser(run.model, run.scheme, run.grid, run.config.objective.increment_scale, run.delta_lambda)
        integrator = ConditionalIncrement(sampler, _check_lam_schedule(run, lam_schedule))
        lam, sigma = 0.0, 0.0
        fix = {"name": "conditional_rollout", "fix": BASELINE_FIX}
    else:
        drift, (integrator, fix) = run.model, _drift_integrator(run, noise, integrator)
        if project_state and lam == 0.0 and (projection := run.state_projection()) is not None:
            integrator = ProjectedIntegrator(integrator, projection)
        if drift_correction is not None:
            drift = ModeCorrectedDrift(drift, run.grid, drift_correction(lam))
        sigma = (rollout_noise(run, lam) if noise_level is None else _checked_noise_level(run, noise_level(lam))) if noise else 0.0
        if noise and generator is None:
            raise bad_argument("generator", None, "σ > 0 needs an explicit source of noise", "pass generator=torch.Generator().manual_seed(seed)")

    def advance_rows(history, steps, first_step):
        batch = history.shape[0]
        lam_t = torch.full((batch,), lam, dtype=torch.float64, device=history.device)
        if isinstance(sigma, torch.Tensor):
            sigma_t = sigma.to(history.device).expand(batch, *sigma.shape[1:])
        else:
            sigma_t = torch.full((batch,), sigma, dtype=torch.float64, device=history.device)
        options = {"generator": generator, "save_every": save_every, "first_step": first_step, "energy_band": energy_band, **fix}
        return advance(drift, integrator, history, lam_t, run.dt, steps, sigma=sigma_t, **options)

    return advance_rows, (None if run.objective.samples_increments else run.scheme), drift.window


def _checked_noise_level(run: TrainedRun, sigma: torch.Tensor) -> torch.Tensor:
    expected = (1, run.grid.channels, *run.grid.rfft_shape)
    if not isinstance(sigma, torch.Tensor) or tuple(sigma.shape) != expected or not bool(torch.isfinite(sigma).all() and (sigma >= 0).all()):
        shape = tuple(sigma.shape) if isinstance(sigma, torch.Tensor) else type(sigma).__name__
        raise bad_argument("noise_level(λ)", shape, f"must be a finite σ_k >= 0 shaped {expected} ([1, C, *rfft])", "return one value per channel and rfft mode, e.g. ResidualNoise(run, data)")
    return sigma


def rollout_noise(run: TrainedRun, lam: float) -> float | torch.Tensor:
    """The σ of a stochastic rollout at λ: the increment noise the run's path density models.

    A per-mode run (loss and score with Σ̃_λ(k), floored at Σ̃_Δλ) gets σ_k = sqrt(Σ̃_λ(k)/Δt) per
    Fourier mode ``[1, 1, *rfft]``, so that the rollout samples the path law p_λ its score
    describes; a scalar run gets Eq. 58's σ_λ (PDD D.1). A drift that conserves the spatial mean
    (``conserve_mean``: the data's mean is constant along every path) gets no noise at k = 0, which
    the floor would otherwise give it (the Kolmogorov demo's super-resolution inputs drifted 0.02-0.14
    std off the conserved mean).
    """
    sigma = run.objective.increment_noise.rollout_sigma(lam, run.scheme, run.grid, run.dt, run.delta_lambda)
    if not getattr(run.model, "conserve_mean", False):
        return sigma
    per_mode = sigma.clone() if torch.is_tensor(sigma) and sigma.ndim > 0 else torch.full((1, 1, *run.grid.rfft_shape), float(sigma), dtype=torch.float64)
    per_mode[(..., *(0,) * run.grid.ndim)] = 0.0
    return per_mode


def _thermalized(advance_rows, run: TrainedRun, lam: float, window: int, thermalizer: Thermalizer, generator, save_every: int):
    """``advance_rows`` with the thermalizer applied to the window after every ``thermalizer.every``-th step."""
    if not run.objective.trains_drift:
        raise bad_argument("thermalizer", type(thermalizer).__name__, "thermalizes the rollout of a drift with its path score", "use it with a pdd or sa-pdd run")
    if generator is None:
        raise bad_argument("generator", None, "the thermalizer draws the push and the sampler's noise", "pass generator=torch.Generator().manual_seed(seed)")
    if thermalizer.every % save_every or thermalizer.every < window:
        raise bad_argument(
            "thermalizer.every",
            thermalizer.every,
            f"must be a multiple of save_every ({save_every}) and at least the drift's window ({window}), so saved frames stay aligned and no zero padding is resampled",
            f"pass every = a multiple of {save_every} that is >= {window}",
        )
    if lam + thermalizer.push > run.config.lam_max + 1e-12:
        raise bad_argument("thermalizer.push", thermalizer.push, f"λ + push = {lam + thermalizer.push:g} is beyond the run's λ_max = {run.config.lam_max:g}", f"pass push <= {run.config.lam_max - lam:g}")
    score = run_score(run)
    boundary = run_boundary(None, score, window)  # a density without r_λ extrapolates u(t0), as generation does (B.6)
    plan = thermalizer.plan(run.scheme, run.grid, lam, device=run.device, dtype=run.dtype)

    def advance_thermalized(history, steps, first_step):
        parts, done = [], 0
        while done < steps:
            step = first_step + done
            taken = min(thermalizer.every - (step - 1) % thermalizer.every, steps - done)
            saved, history = advance_rows(history, taken, step)
            parts.append(saved)
            done += taken
            if thermalizer.is_due(first_step + done - 1):
                history = thermalizer.apply(score, run.scheme, run.grid, history, lam, generator, boundary, plan=plan)
        return torch.cat(parts, dim=1), history

    return advance_thermalized


def _drift_integrator(run: TrainedRun, noise: bool, integrator):
    """The checked time integrator of a drift run and the default error fix."""
    if not run.objective.trains_drift:
        raise bad_argument(
            "RUN_DIR",
            str(run.run_dir),
            f"a {run.objective.name!r} run has no drift to simulate with",
            "use a pdd, sa-pdd or conditional-denoising run",
        )
    if integrator is None:
        raise bad_argument(
            "integrator",
            None,
            "a drift run needs a time integrator",
            "pass integrator=Euler() (σ = 0, PDD B.5) or EulerMaruyama() with noise=True",
        )
    if noise and not getattr(integrator, "stochastic", False):
        raise bad_argument("integrator", type(integrator).__name__, "is deterministic, but noise=True asks for σ_λ > 0", "use EulerMaruyama()")
    if getattr(integrator, "samples_increments", False):
        raise bad_argument("integrator", type(integrator).__name__, "samples the increments of a conditional-denoising run; this run has a drift", "use euler or euler-maruyama")
    return integrator, {}


@torch.no_grad()  # the drivers leave autograd to their caller; inference needs none
def generate_run(
    run: TrainedRun,
    n: int,
    frames: int,
    *,
    sampler,
    lam_schedule: torch.Tensor,
    generator: torch.Generator,
    score: PathScoreKind | NoiseHeadKind | None = None,
    boundary: Boundary | None = None,
    prior: GaussianMarginal | None = None,
    batch_size: int | None = None,
    progress: bool = False,
    project_state: bool = True,
) -> torch.Tensor:
    """Unconditional generation of ``n`` paths of ``frames`` frames (PDD Algorithm 3, line 1).

    Each path starts from ``prior`` at λ_max = ``lam_schedule[0]`` and is integrated down to
    ``lam_schedule[-1]``. The default prior is the data-informed N(0, C̃²G + Σ̃) of the run's
    training data (:func:`run_marginal`); ``GaussianMarginal()`` is the paper's N(0, Σ_λmax) per
    time step. ``score`` chooses the run's score (:func:`run_score`; None: as trained) and
    ``boundary`` the t0 rule (:func:`run_boundary`; None: extrapolate where B.6 does). Paths that
    end at λ = 0 are projected onto the training system's state space (``run.state_projection()``,
    e.g. Lorenz-96's replicated X, as rollouts are) unless ``project_state=False``. Returns
    ``[n, frames, C, *space]`` on the CPU.
    """
    for name, value in (("n", n), ("frames", frames)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad_argument(name, value, "must be an integer >= 1", f"pass e.g. {name}=8")
    check_generator(generator)
    lam_schedule = _check_lam_schedule(run, lam_schedule)
    path_score = run_score(run, score)
    if isinstance(path_score, PathScore) and frames < 2:
        raise bad_argument("frames", frames, "a path score needs T >= 2 frames (it scores increments)", "generate at least 2 frames", kind=ShapeError)
    rule = run_boundary(boundary, path_score, frames)
    prior = run_marginal(run, frames) if prior is None else prior
    outputs = []
    for rows in _chunks(n, batch_size):
        shape = (rows.stop - rows.start, frames, run.grid.channels, *run.grid.shape)
        start = prior.sample(shape, run.scheme, run.grid, float(lam_schedule[0]), generator, dtype=run.dtype).to(run.device)
        outputs.append(sample(path_score, run.scheme, run.grid, sampler, lam_schedule, generator=generator, u_init=start, boundary=rule, progress=progress).cpu())
    return _projected(run, torch.cat(outputs), lam_schedule, project_state)


@torch.no_grad()  # the drivers leave autograd to their caller; inference needs none
def super_resolve_run(
    run: TrainedRun,
    coarse: torch.Tensor,
    *,
    sampler,
    lam_schedule: torch.Tensor,
    generator: torch.Generator,
    score: PathScoreKind | NoiseHeadKind | None = None,
    boundary: Boundary | None = None,
    batch_size: int | None = None,
    progress: bool = False,
    project_state: bool = True,
) -> torch.Tensor:
    """Refine coarse paths given at λ_from = ``lam_schedule[0]`` down to ``lam_schedule[-1]`` (Algorithm 3, line 2).

    ``coarse`` ``[B, T, C, *space]`` is standardised, e.g. a simulation at λ = 0.2 (PDD Sec. 4.3).
    Paths refined to λ = 0 are projected onto the system's state space as in :func:`generate_run`.
    Returns ``[B, T, C, *space]`` on the CPU.
    """
    coarse = _check_paths(coarse, run, "coarse")
    check_generator(generator)
    lam_schedule = _check_lam_schedule(run, lam_schedule)
    path_score = run_score(run, score)
    frames = coarse.shape[1]
    if isinstance(path_score, PathScore) and frames < 2:
        raise bad_argument(
            "coarse.shape",
            tuple(coarse.shape),
            "a path score needs T >= 2 frames (it scores increments)",
            "pass paths of at least 2 frames",
            kind=ShapeError,
        )
    rule = run_boundary(boundary, path_score, frames)
    outputs = []
    for rows in _chunks(coarse.shape[0], batch_size):
        outputs.append(
            sample(path_score, run.scheme, run.grid, sampler, lam_schedule, generator=generator, u_init=coarse[rows], boundary=rule, progress=progress).cpu(),
        )
    return _projected(run, torch.cat(outputs), lam_schedule, project_state)


def _projected(run: TrainedRun, paths: torch.Tensor, lam_schedule: torch.Tensor, project_state: bool) -> torch.Tensor:
    """``paths`` that end at λ = 0 on the training system's state space (a sample's part outside it is not a state of the system)."""
    if project_state and float(lam_schedule[-1]) == 0.0 and (projection := run.state_projection()) is not None:
        return projection(paths)
    return paths


__all__ = [
    "generate_run",
    "simulate_run",
    "super_resolve_run",
]
