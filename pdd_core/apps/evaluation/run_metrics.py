"""Evaluation of a trained run against reference data (PDD Sec. 4, B.5; Tables 1-3, Fig. 7).

Every metric is computed in the standardised space of the run's training data, so the
reference and the surrogate share one normalisation (B.5). Tasks:

* ``simulate``: for each λ, roll the drift out from the reference's first W frames,
  coarse-grained to λ (Algorithm 2, σ = 0), and compare with C_λ u0 (B.5: the λ > 0 reference
  has no noise): the relative L2 error per step (Eq. 63; Table 1 reports the sixth step) and
  the spectral error (Eq. 64) of a long rollout after discarding its first segments.
* ``generate``: unconditional paths of the reference's length (Algorithm 3), spectral error.
* ``super_resolve``: refine long-rollout segments simulated at λ_SR (0.2 in Table 3) down to λ = 0;
  ``low_resolution`` is the spectral error of those coarse inputs themselves. The coarse input is
  the rollout of ``sr_simulation``: the command line passes a *stochastic* one (Algorithm 2, D.1,
  with the increment noise of its stochastic rollouts, by default the climate closure's), which
  samples the surrogate path density p_λ whose score Algorithm 3 follows back to λ = 0;
  ``input_noise`` records that noise. The paper does not say which rollout it refines; a
  deterministic one (σ = 0, ``sr_simulation=None``: the ``simulate`` task's) lacks the
  coarse-graining noise, so it starts the reverse flow off p_λ (on Lorenz-96 its refinement diverged
  where the stochastic input's did not; docs/results.md).

Next to Eqs. 63-64 every task reports the metrics other literature quotes
(:mod:`pdd_core.apps.evaluation.forecast_scores`): ``simulate`` The Well's VRMSE, NRMSE and binned
spectral MSE of the deterministic rollout (``well``), and the fair CRPS and spread-skill ratio of
``ensemble`` stochastic rollouts per reference path (``ensemble``); ``generate`` the CRPS and
spread-skill of the generated set as an ensemble for every reference path (``ensemble``).
Every metric of the ``METRICS`` registry (:mod:`pdd_core.metrics.metric`) is added under its name
in the tasks it names: per λ and for the first λ in ``simulate`` (the deterministic rollout the L2
error scores), in ``generate``, ``super_resolve`` and ``low_resolution``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from tqdm.auto import tqdm

from pdd_core.apps.evaluation.forecast_scores import ensemble_scores, well_scores
from pdd_core.apps.evaluation.rollout_climate import TruthPool, long_rollout, running_climate, truth_band, with_floor, with_noise
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import TrainedRun, check_lambda
from pdd_core.apps.inference.simulation_settings import SimulationSettings, simulation_settings
from pdd_core.apps.inference.tasks import generate_run, simulate_run, super_resolve_run
from pdd_core.apps.trainer.checkpoint import read_log
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.errors import ConfigError, DivergenceError, PDDError, bad_argument
from pdd_core.files import write_json_atomically
from pdd_core.metrics import climate, relative_l2_error, relative_spectral_error, segments, time_averaged_spatial_psd
from pdd_core.registry import METRICS, SYSTEMS

TASKS = ("simulate", "generate", "super-resolve")


def supported_tasks(objective) -> tuple[str, ...]:
    """The tasks a run of ``objective`` can do: it simulates when it has a drift or samples increments,
    generates when it has a score of whole paths, and super-resolves its own rollout when it has both."""
    simulates = objective.trains_drift or objective.samples_increments
    generates = objective.score_kind() is not None
    able = {"simulate": simulates, "generate": generates, "super-resolve": generates and objective.trains_drift}
    return tuple(task for task in TASKS if able[task])


@attrs.frozen(eq=False)
class ReverseSampling:
    """How the evaluation generates and super-resolves: the λ-sampler, the decreasing λ schedule
    from a start λ (``schedule_from(lam_start)``), the run's score (None: as trained, see
    :func:`~pdd_core.apps.inference.runs.run_score`), the generation prior (None: the run's data marginal)
    and the settings recorded in the metrics as ``sampling``."""

    sampler: Any
    schedule_from: Callable[[float], torch.Tensor]
    score: Any = None
    prior: Any = None
    description: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class EvaluationSettings:
    """What to evaluate and at which cost. Defaults follow PDD B.5 where it is explicit.

    Attributes:
        lambdas: scales of the ``simulate`` task (Table 1 at 0, Fig. 2-3 at 0.2, Fig. 7 a sweep).
        n_paths: reference paths used (None: the whole split).
        split: split of the reference file.
        l2_step: the step whose L2 error is reported (PDD: the sixth).
        discard_segments, keep_segments: long-rollout protocol of B.5 (discard 10 segments of
            the sample length, compute spectra from the next ``keep_segments``).
        n_generate: generated paths (None: as many as reference paths).
        sr_lambda: λ of the coarse simulations that are super-resolved (Table 3: 0.2).
        n_super_resolve: coarse segments to refine (None: all kept segments).
        ensemble: members per reference path of the stochastic rollouts that the CRPS and the
            spread-skill ratio score (0: none; needs ``ensemble_simulation``).
        long_steps: steps of a long rollout per λ of ``simulate`` whose climate, blow-up step and
            collapse are reported (0: none; frames after ``discard_segments`` sample lengths, or
            after half the rollout if that is shorter, are measured).
        floor_seed: seed of the random disjoint splits of true paths behind every spectral
            error's floor.
        batch_size: paths per batch of generation and super-resolution (None: all at once); the
            batches draw their own noise, so a batched result is another sample of the same law.
    """

    lambdas: tuple[float, ...] = (0.0, 0.2)
    n_paths: int | None = None
    split: str = "test"
    l2_step: int = 6
    discard_segments: int = 10
    keep_segments: int = 2
    n_generate: int | None = None
    sr_lambda: float = 0.2
    n_super_resolve: int | None = None
    ensemble: int = 8
    long_steps: int = 0
    floor_seed: int = 0
    batch_size: int | None = None


def _long_rollout(run: TrainedRun, initial: torch.Tensor, lam: float, length: int, settings: EvaluationSettings, simulation: SimulationSettings, progress: bool) -> torch.Tensor:
    """Segments of the sample length after the discarded burn-in (B.5), ``[B * keep, T, ...]``."""
    steps = (settings.discard_segments + settings.keep_segments) * length
    path = simulate_run(run, initial, lam, steps, progress=progress, **simulation.keywords())
    return segments(path[:, initial.shape[1] :], length, settings.discard_segments)


def evaluate_run(
    run: TrainedRun,
    reference_file: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    tasks: tuple[str, ...] = TASKS,
    settings: EvaluationSettings = EvaluationSettings(),
    simulation: SimulationSettings,
    sampling: ReverseSampling,
    generator: torch.Generator,
    sr_simulation: SimulationSettings | None = None,
    ensemble_simulation: SimulationSettings | None = None,
    stochastic_simulation: SimulationSettings | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the ``tasks`` and write ``out_dir/metrics.json`` (a NaN or infinite number as null, its key under ``"non_finite"``) and PNG figures; return the metrics.

    ``simulation`` (:class:`~pdd_core.apps.inference.simulation_settings.SimulationSettings`, or a dict of
    its fields) says how the rollouts run (``integrator`` for drift runs;
    ``sampler``/``lam_schedule``/``generator`` for the conditional baseline);
    ``sampling`` (:class:`ReverseSampling`) says how generation and super-resolution sample, and
    optionally ``score`` (a kind of :func:`~pdd_core.apps.inference.tasks.run_score`, default ``auto``) and
    ``prior`` (the generation prior, default the run's data marginal). ``sr_simulation``:
    the settings of the coarse rollout that ``super-resolve`` refines, e.g.
    ``integrator=EulerMaruyama(), noise=True, generator=g`` for a stochastic one; None reuses the
    deterministic ``simulation`` rollout. ``ensemble_simulation``: the settings of the stochastic
    members the CRPS and spread-skill score (``settings.ensemble`` per reference path; None: no
    ensemble scores for ``simulate``). ``stochastic_simulation``: the settings of a stochastic rollout
    (``noise=True``: the increment noise the run's path density models) whose climate is measured
    against the truth's *noisy* path law at λ, C_λ u0 + sqrt(Σ_λ) ε (Eq. 3), beside the deterministic
    rollout's against C_λ u0 (``climate_stochastic``, and ``long_rollout_stochastic`` with
    ``long_steps``); None: none.
    """
    from pdd_core.apps import plots

    simulation = simulation_settings(simulation, "simulation")
    sr_simulation, ensemble_simulation = simulation_settings(sr_simulation, "sr_simulation"), simulation_settings(ensemble_simulation, "ensemble_simulation")
    stochastic_simulation = simulation_settings(stochastic_simulation, "stochastic_simulation")
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        raise bad_argument("tasks", ",".join(tasks), f"unknown task(s) {unknown}", f"use a comma-separated subset of {','.join(TASKS)}", kind=ConfigError)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reference = read_paths(run, reference_file, split=settings.split, n=settings.n_paths).u.to(run.dtype)
    frames, window = reference.shape[1], run.config.resolved_window
    context = run.objective.context_frames(window)
    if frames <= context + settings.l2_step:
        raise bad_argument("l2_step", settings.l2_step, f"the reference paths have {frames} frames, fewer than the {context} initial + l2_step", "use longer reference paths or a smaller l2_step")
    if not isinstance(settings.long_steps, int) or isinstance(settings.long_steps, bool) or settings.long_steps < 0:
        raise bad_argument("long_steps", settings.long_steps, "must be an integer >= 0", "pass 0 (no long rollout) or e.g. 10000", kind=ConfigError)
    if settings.batch_size is not None and (not isinstance(settings.batch_size, int) or isinstance(settings.batch_size, bool) or settings.batch_size < 1):
        raise bad_argument("batch_size", settings.batch_size, "must be an integer >= 1", "pass e.g. batch_size=16, or None for one batch", kind=ConfigError)
    if settings.ensemble == 1 or settings.ensemble < 0:
        raise bad_argument("ensemble", settings.ensemble, "an ensemble needs 0 (none) or >= 2 members", "pass ensemble=0 or ensemble >= 2", kind=ConfigError)
    for lam in (*settings.lambdas, settings.sr_lambda):
        check_lambda(run, lam, "lambdas")  # bad settings fail up front, not as a task "failure"
    supported = supported_tasks(run.objective)
    metrics: dict[str, Any] = {
        "run": str(run.run_dir),
        "objective": run.objective.name,
        "reference": {"file": str(reference_file), "split": settings.split, "paths": reference.shape[0], "frames": frames},
        "settings": attrs.asdict(settings),
        "sampling": sampling.description,
        "units": "standardised with the training data's per-channel mean and std (shared by reference and surrogate, PDD B.5)",
    }
    statistics = run.data or read_metadata(reference_file)  # what read_paths standardised with
    physical = (np.asarray(statistics.mean), np.asarray(statistics.std))
    count = reference.shape[0]
    compared = (count * settings.keep_segments, settings.n_generate or count, settings.n_super_resolve or count * settings.keep_segments)
    pool = TruthPool.read(run, reference_file, settings.split, frames, count + max(compared))
    job = _Tasks(run, reference, context, settings, simulation, sampling, generator, out, _channel_names(run), sr_simulation, progress, pool, physical=physical, ensemble_simulation=ensemble_simulation, stochastic_simulation=stochastic_simulation)
    figures = job.figures
    for task in tqdm(tasks, desc="evaluate", disable=not progress):
        key = task.replace("-", "_")
        if task not in supported:
            metrics[key] = {"skipped": f"a {run.objective.name!r} run does not support {task} (PDD B.4)"}
            continue
        try:
            metrics.update(getattr(job, key)())
        except PDDError as failure:  # a diverged rollout or sampler is a result to report, not a crash
            metrics[key] = {"failed": str(failure)}
    log = run.run_dir / "log.jsonl"
    if log.is_file():
        records = read_log(log)
        if records:
            figures.append(str(plots.plot_training_curve(records, out / "training_loss.png")))
    metrics["figures"] = figures
    noise_level = None if stochastic_simulation is None else stochastic_simulation.noise_level
    if "rollout_noise" in metrics["sampling"] and hasattr(noise_level, "describe"):  # the rounds a fitted closure kept per λ are known only now
        metrics["sampling"]["rollout_noise"] = noise_level.describe()
    write_json_atomically(out / "metrics.json", metrics)  # a NaN metric is written as null and listed under "non_finite"
    return metrics


@attrs.define
class _Tasks:
    """The evaluation tasks of one run against one reference, sharing their inputs and figure list.

    ``coarse_inputs`` keeps the deterministic long rollouts of ``simulate`` per λ, which
    ``super_resolve`` refines when no stochastic ``sr_simulation`` is asked for.
    """

    run: TrainedRun
    reference: torch.Tensor
    context: int
    settings: EvaluationSettings
    simulation: SimulationSettings
    sampling: ReverseSampling
    generator: torch.Generator
    out: Path
    channel_names: list[str] | None
    sr_simulation: SimulationSettings | None
    progress: bool
    pool: TruthPool
    physical: tuple[np.ndarray, np.ndarray] = (np.zeros(1), np.ones(1))
    ensemble_simulation: SimulationSettings | None = None
    stochastic_simulation: SimulationSettings | None = None
    figures: list[str] = attrs.Factory(list)
    coarse_inputs: dict[float, torch.Tensor] = attrs.Factory(dict)
    floor_generator: np.random.Generator = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.floor_generator = np.random.default_rng(self.settings.floor_seed)

    def _floor(self, lam: float, n_prediction: int, truth: torch.Tensor | None = None) -> dict[str, Any]:
        return self.pool.floor(self.run, lam, self.reference.shape[0], n_prediction, self.floor_generator, truth=truth)

    @property
    def initial(self) -> torch.Tensor:
        return self.reference[:, : self.context]

    def simulate(self) -> dict[str, Any]:
        """L2 error at ``l2_step`` (Eq. 63) and the spectral error of long rollouts (Eq. 64) per λ."""
        from pdd_core.apps import plots

        run, settings, frames, context = self.run, self.settings, self.reference.shape[1], self.context
        by_lambda = {}
        for lam in settings.lambdas:
            target = run.scheme.coarse_grain(self.reference, run.grid, lam) if lam > 0 else self.reference
            short = simulate_run(run, self.initial, lam, frames - context, progress=False, **self.simulation.keywords())
            l2 = relative_l2_error(target[:, context:], short[:, context:])
            long = _long_rollout(run, self.initial, lam, frames, settings, self.simulation, self.progress)
            self.coarse_inputs[lam] = long
            entry = {"lambda": lam, "l2": float(l2[settings.l2_step - 1]), "l2_curve": [float(value) for value in l2], "spectral_error": relative_spectral_error(target, long)}
            truth = self.pool.at(run, lam)
            by_lambda[f"{lam:g}"] = with_floor(entry, self._floor(lam, long.shape[0], truth))
            entry["climate"] = {**climate(long, truth, channel_names=self.names), "truth": {"split": self.pool.split, "paths": truth.shape[0]}}
            if settings.long_steps > 0:
                entry["long_rollout"] = self._long_rollout(lam, truth, self.simulation)
            if self.stochastic_simulation is not None:
                self._stochastic_climate(entry, lam, frames)
            by_lambda[f"{lam:g}"]["well"] = well_scores(self._physical(target[:, context:]), self._physical(short[:, context:]), settings.l2_step, self.names)
            if self.ensemble_simulation is not None and settings.ensemble > 0:
                by_lambda[f"{lam:g}"]["ensemble"] = self._ensemble_scores(lam, target[:, context:])
            with_registered_metrics(by_lambda[f"{lam:g}"], "simulate", target[:, context:], short[:, context:])
            panels = {"reference": target[0], "surrogate": short[0]}
            title = f"simulation at λ = {lam:g}"
            self.figures.append(str(plots.plot_spatiotemporal_panels(panels, self.out / f"simulate_lambda{lam:g}.png", channel_names=self.channel_names, frame=context + settings.l2_step, dt=run.dt, title=title)))
            psds = {"reference": time_averaged_spatial_psd(target), "surrogate": time_averaged_spatial_psd(long)}
            self.figures.append(str(plots.plot_psd_comparison(psds, self.out / f"simulate_psd_lambda{lam:g}.png", channel_names=self.channel_names, title=f"time-averaged spatial PSD, λ = {lam:g}")))
        if len(settings.lambdas) >= 3:
            rows = list(by_lambda.values())
            self.figures.append(str(plots.plot_error_vs_lambda([r["lambda"] for r in rows], [r["l2"] for r in rows], [r["spectral_error"] for r in rows], self.out / "error_vs_lambda.png")))
        first = by_lambda[f"{settings.lambdas[0]:g}"]
        headline = {"vrmse": first["well"]["vrmse"], **{key: first.get("ensemble", {}).get(key) for key in ("crps", "spread_skill")}}
        spectral = {key: first[key] for key in ("spectral_error", "spectral_error_floor", "floor_ratio")}
        result = {"lambda": settings.lambdas[0], "l2": first["l2"], **spectral, **headline, "l2_step": settings.l2_step, "by_lambda": by_lambda}
        return {"simulate": with_entries(result, {name: first[name] for name in metric_names("simulate")}, "simulate")}

    def _stochastic_climate(self, entry: dict[str, Any], lam: float, frames: int) -> None:
        """The climate of a stochastic rollout (as long as the spectral error's) against the truth's noisy path law at λ."""
        noisy = self.pool.noisy_at(self.run, lam, self.settings.floor_seed)
        try:
            rollout = _long_rollout(self.run, self.initial, lam, frames, self.settings, self.stochastic_simulation, self.progress)
        except DivergenceError as failure:
            entry["climate_stochastic"] = {"failed": str(failure), "blow_up_step": failure.step}
        else:
            entry["climate_stochastic"] = {**climate(rollout, noisy, channel_names=self.names), "truth": {"split": self.pool.split, "paths": noisy.shape[0], "law": "C_λ u0 + sqrt(Σ_λ) ε"}}
            # The spatiotemporal spectrum (ω, k) against the reference's noisy paths: a check of the
            # temporal correlations that the per-mode statistics above do not see.
            reference = with_noise(self.run, self.reference, lam, self.settings.floor_seed + 1)
            spectral = {"spectral_error": relative_spectral_error(reference, rollout)}
            floor = self._floor(lam, rollout.shape[0], noisy)
            entry["climate_stochastic"].update(with_floor(spectral, floor))
        if self.settings.long_steps > 0:
            entry["long_rollout_stochastic"] = self._long_rollout(lam, noisy, self.stochastic_simulation, "_stochastic")

    def _long_rollout(self, lam: float, truth: torch.Tensor, simulation: SimulationSettings, suffix: str = "") -> dict[str, Any]:
        """A ``long_steps`` rollout at λ: its climate after the burn-in, blow-up step, collapse; the running-climate figure."""
        from pdd_core.apps import plots

        frames, steps = self.reference.shape[1], self.settings.long_steps
        burn_in = min(self.settings.discard_segments * frames, steps // 2)
        record, rollout = long_rollout(self.run, self.initial, lam, steps, burn_in, truth, simulation, self.names, self.progress)
        if rollout is not None:
            running = running_climate(rollout, min(frames, rollout.shape[1]))
            band = truth_band(truth, self.initial.shape[0])
            out = self.out / f"climate_lambda{lam:g}{suffix}.png"
            kind = "stochastic" if suffix else "deterministic"
            title = f"{kind} long rollout at λ = {lam:g}: block mean and std against the truth's range"
            self.figures.append(str(plots.plot_running_climate(running, band, out, dt=self.run.dt, channel_names=self.channel_names, title=title)))
            record.update(running=running, truth_band=band)
        return record

    @property
    def names(self) -> list[str]:
        return self.channel_names or [f"c{channel}" for channel in range(self.run.grid.channels)]

    def _physical(self, u: torch.Tensor) -> np.ndarray:
        """Standardised paths back in the data's units, u · std_c + mean_c (The Well scores physical fields)."""
        mean, std = self.physical
        shape = (1, 1, -1) + (1,) * (u.ndim - 3)
        return u.detach().cpu().double().numpy() * std.reshape(shape) + mean.reshape(shape)

    def _ensemble_scores(self, lam: float, target: torch.Tensor) -> dict[str, Any]:
        """CRPS and spread-skill of ``settings.ensemble`` stochastic rollouts per reference path, from its initial frames."""
        members, count = self.settings.ensemble, self.initial.shape[0]
        initial = self.initial.repeat(members, *([1] * (self.initial.ndim - 1)))  # member-major: row m·B + b
        noisy = self.ensemble_simulation.noise
        kind = "stochastic rollouts (Euler-Maruyama with σ_λ of Eq. 58)" if noisy else "independent rollouts of the stochastic simulation"
        try:
            paths = simulate_run(self.run, initial, lam, target.shape[1], progress=self.progress, **self.ensemble_simulation.keywords())
        except PDDError as failure:  # a diverged member is a result to report, next to the deterministic metrics
            return {"failed": str(failure), "members": members}
        paths = paths[:, self.context :].reshape(members, count, *target.shape[1:])
        return ensemble_scores(target.detach().cpu().numpy(), paths.detach().cpu().numpy(), self.settings.l2_step, self.names, kind + " from the reference's initial frames")

    def generate(self) -> dict[str, Any]:
        """The spectral error (Eq. 64) of unconditional generation against the reference."""
        from pdd_core.apps import plots

        run, reference, sampling = self.run, self.reference, self.sampling
        count = self.settings.n_generate or reference.shape[0]
        options = {"score": sampling.score, "prior": sampling.prior, "batch_size": self.settings.batch_size, "progress": self.progress}
        generated = generate_run(run, count, reference.shape[1], sampler=sampling.sampler, lam_schedule=sampling.schedule_from(run.config.lam_max), generator=self.generator, **options)
        panels = {"reference": reference[0], "generated": generated[0]}
        self.figures.append(str(plots.plot_spatiotemporal_panels(panels, self.out / "generate.png", channel_names=self.channel_names, dt=run.dt, title="unconditional generation")))
        psds = {"reference": time_averaged_spatial_psd(reference), "generated": time_averaged_spatial_psd(generated)}
        self.figures.append(str(plots.plot_psd_comparison(psds, self.out / "generate_psd.png", channel_names=self.channel_names)))
        # The mean field over paths and frames: what a forcing pins in place (Kolmogorov flow's bands), one frame each.
        means = {"reference": reference.mean(dim=(0, 1))[None], "generated": generated.mean(dim=(0, 1))[None]}
        self.figures.append(str(plots.plot_spatiotemporal_panels(means, self.out / "generate_mean.png", channel_names=self.channel_names, title="mean over paths and frames")))
        result = with_floor({"spectral_error": relative_spectral_error(reference, generated), "paths": count}, self._floor(0.0, count))
        result["climate"] = climate(generated, reference, channel_names=self.names)  # variance, mean and PSD per channel
        if count >= 2:  # an ensemble needs two members (the fair CRPS and the spread divide by M - 1)
            scores = ensemble_scores(reference.cpu().numpy(), generated[:, None].cpu().numpy(), None, self.names, "the generated paths, as one ensemble for every reference path")
            result.update(crps=scores["crps_all"], spread_skill=scores["spread_skill_all"], ensemble=scores)
        else:  # said, not silently dropped
            result["ensemble"] = {"skipped": "one generated path: the ensemble scores (CRPS, spread-skill) need n_generate >= 2"}
        return {"generate": with_registered_metrics(result, "generate", reference, generated)}

    def super_resolve(self) -> dict[str, Any]:
        """The spectral error of refined coarse rollouts from ``sr_lambda``, next to the unrefined (low-resolution) one."""
        from pdd_core.apps import plots

        run, settings, reference = self.run, self.settings, self.reference
        lam = settings.sr_lambda
        coarse = self.coarse_inputs.get(lam) if self.sr_simulation is None else None
        if coarse is None:
            coarse = _long_rollout(run, self.initial, lam, reference.shape[1], settings, self.sr_simulation or self.simulation, self.progress)
        coarse = coarse[: settings.n_super_resolve or coarse.shape[0]].to(run.dtype)
        coarse_kind = "stochastic" if self.sr_simulation is not None and self.sr_simulation.noise else "deterministic"
        input_noise = _noise_kind(self.sr_simulation) if coarse_kind == "stochastic" else "none"
        floor = self._floor(0.0, coarse.shape[0])  # both compare paths at λ = 0 with the reference
        low_resolution = with_floor({"lambda": lam, "input": coarse_kind, "input_noise": input_noise, "spectral_error": relative_spectral_error(reference, coarse), "paths": coarse.shape[0]}, floor)
        low_resolution["climate"] = climate(coarse, reference, channel_names=self.names)
        with_registered_metrics(low_resolution, "low_resolution", reference, coarse)
        try:
            sampling = self.sampling
            refined = super_resolve_run(
                run, coarse, sampler=sampling.sampler, lam_schedule=sampling.schedule_from(lam), generator=self.generator, score=sampling.score, batch_size=settings.batch_size, progress=self.progress
            )
        except PDDError as failure:  # the low-resolution baseline stands without the refinement
            return {"super_resolve": {"failed": str(failure)}, "low_resolution": low_resolution}
        self.figures.append(str(plots.plot_super_resolution(coarse, refined, reference, self.out / "super_resolve.png", channel_names=self.channel_names, dt=run.dt)))
        refined_entry = {"from_lambda": lam, "input": coarse_kind, "input_noise": input_noise, "spectral_error": relative_spectral_error(reference, refined), "paths": coarse.shape[0]}
        refined_entry["climate"] = climate(refined, reference, channel_names=self.names)  # the variance and PSD refinement gives back
        refined_entry = with_registered_metrics(with_floor(refined_entry, floor), "super_resolve", reference, refined)
        return {"super_resolve": refined_entry, "low_resolution": low_resolution}


def _noise_kind(simulation: SimulationSettings) -> str:
    """The kind of increment noise of a stochastic rollout: ``model`` (the path density's σ_λ), its noise level's (``residual``, ``climate``) or ``custom``."""
    level = simulation.noise_level
    if level is None:
        return "model"
    return level.describe()["kind"] if hasattr(level, "describe") else "custom"


def metric_names(task: str) -> list[str]:
    """The registered metrics (``METRICS``) that take part in ``task``."""
    return [name for name in METRICS.names() if task in METRICS.get(name).tasks]


def with_entries(entry: dict[str, Any], values: dict[str, Any], task: str) -> dict[str, Any]:
    """``entry`` with ``values`` added; a registered metric never overwrites a built-in entry of metrics.json."""
    for name, value in values.items():
        if name in entry:
            raise bad_argument("metric", name, f"clashes with the built-in entry {name!r} of {task} in metrics.json", "register the metric under another name", kind=ConfigError)
        entry[name] = value
    return entry


def with_registered_metrics(entry: dict[str, Any], task: str, reference: torch.Tensor, prediction: torch.Tensor) -> dict[str, Any]:
    """``entry`` with the value of every registered metric of ``task`` between ``reference`` and ``prediction``."""
    return with_entries(entry, {name: METRICS.get(name).compute(reference, prediction) for name in metric_names(task)}, task)


def _channel_names(run: TrainedRun) -> list[str] | None:
    """The channel labels the run's system declares (``channel_names``), for figures; None if unknown."""
    if run.data is None or run.data.system not in SYSTEMS.names():
        return None
    names = getattr(SYSTEMS.get(run.data.system), "channel_names", None)
    return list(names) if names is not None and len(names) == run.grid.channels else None


__all__ = ["EvaluationSettings", "ReverseSampling", "TASKS", "evaluate_run"]
