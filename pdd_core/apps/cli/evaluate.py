"""``pdd evaluate``: metrics and figures of a trained run against reference data (PDD Sec. 4, B.5)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pdd_core.apps.cli.inference_options import (
    DEFAULT_SAMPLER,
    add_prior_argument,
    add_sampler_arguments,
    add_score_argument,
    build_lambda_schedule,
    build_prior,
    build_sampler,
    build_score_kind,
    generator_for,
    sampler_name,
    sampler_settings,
    uses_marginal,
)
from pdd_core.apps.cli.main import COMMANDS, add_no_verify_argument
from pdd_core.apps.cli.request_costs import check_evaluation
from pdd_core.apps.cli.rollout_options import (
    add_integrator_choice_arguments,
    add_rollout_noise_argument,
    add_thermalizer_arguments,
    build_drift_integrator,
    build_noise_level,
    build_thermalizer,
    noise_settings,
    stochastic_options,
    thermalizer_settings,
)
from pdd_core.apps.evaluation.rollout_climate import climate_summary
from pdd_core.apps.evaluation.run_metrics import TASKS, EvaluationSettings, ReverseSampling, evaluate_run
from pdd_core.apps.inference.runs import load_run, run_marginal, run_score
from pdd_core.apps.inference.simulation_settings import SimulationSettings
from pdd_core.data.hdf5_reader import read_metadata, verify_split
from pdd_core.errors import ConfigError, DataError, bad_argument
from pdd_core.files import json_record, locked_directory
from pdd_core.registry import METRICS
from pdd_core.score import PathScore

# The coarse rollouts super-resolution refines: σ_λ > 0 samples the path density the reverse flow follows.
SR_INPUTS = ("stochastic", "deterministic")
# The spawn key of the ensemble members' random stream under --seed.
ENSEMBLE_STREAM = 17
# The spawn key of the stochastic climate rollouts' random stream under --seed.
CLIMATE_STREAM = 31
# The spawn key of the thermalizer's random stream under --seed.
THERMALIZER_STREAM = 29
HELP = "evaluate a trained run: L2 and spectral errors of simulation, generation and super-resolution, with figures"

EPILOG = """\
Writes DIR/metrics.json (keyed by task: simulate, generate, super_resolve, low_resolution; and by
metric: l2, spectral_error, and The Well's vrmse/nrmse/binned spectral MSE and the ensemble scores
crps/spread_skill; every number with its settings) and PNG figures (spatiotemporal
panels, spatial PSDs, super-resolution, error vs λ when >= 3 λs are given, the training loss).
Metrics follow PDD B.5: the relative L2 error (Eq. 63) at step --l2-step (the paper reports the
sixth), and the spectral error (Eq. 64) of a long rollout whose first --discard segments (of the
reference's length) are dropped. Reference data at λ > 0 is C_λ u0 without noise, and the simulate
task's rollouts are deterministic (σ = 0). Super-resolution refines stochastic rollouts at
--sr-lambda (with --rollout-noise's increments: samples of the path density it follows back;
--sr-input deterministic for σ = 0 ones). Generation and super-resolution use the sampler options
(default: gpc, 25 steps on the power grid, 50 score calls, from the data-informed prior; the paper:
--sampler pc --lambda-steps 1000 --snr 0.7 --corrector-steps 3 --prior noise). metrics.json records
the sampler, its steps and network calls under "sampling". The simulate task also scores --ensemble
stochastic rollouts per reference path (Euler-Maruyama with --rollout-noise's increments; the
conditional baseline's own sampler) by the fair CRPS and the spread-skill ratio; generate scores
the generated set as an ensemble (needs --n-generate >= 2).

Every spectral error has its floor beside it (spectral_error_floor, and floor_ratio = error /
floor): the median of Eq. 64 between two disjoint random sets of true paths of the same sizes over
20 splits (from --split when it holds enough paths, else from the largest split; metrics.json says
which). Each simulated λ gets a climate block: per-channel mean offset and std ratio (in units of
the truth's std at that λ), the speed ratio mean|Δu| / truth's, the min and max of the
time-averaged spatial PSD ratio over k <= N/2, and whether the variance collapsed under half the
truth's. --long-steps N adds an N-step rollout per λ with the same block after the burn-in, the
step of any blow-up, and a figure of its running mean and std against the truth's range.
Drift runs also get climate_stochastic per λ: the climate of a stochastic rollout against the
truth's noisy path law C_λ u0 + sqrt(Σ_λ) ε, the law the model is trained on (and
long_rollout_stochastic with --long-steps). Stochastic rollouts (climate_stochastic and the ensemble
members) draw noise calibrated on the drift's residuals with the climate closure (--rollout-noise
climate, the default), the residuals alone (--rollout-noise residual) or the path density's
(--rollout-noise model); so does the stochastic coarse input of super-resolution (--sr-input
stochastic, the default; metrics.json records its input_noise).
--thermalize M thermalizes the simulate task's deterministic rollouts every M steps with the run's
own path score (see `pdd simulate --help`); "sampling" in metrics.json records its settings and
network calls.

examples:
  pdd evaluate runs/l96 --data l96.h5 --out eval/l96
  pdd evaluate runs/l96 --data l96.h5 --tasks simulate --lambdas 0,0.05,0.1,0.15,0.2 --out eval/fig7
  pdd evaluate runs/l96 --data l96.h5 --tasks simulate --lambdas 0,0.1,0.2 --long-steps 10000 --ensemble 0 --out eval/climate
  pdd evaluate runs/l96 --data l96.h5 --tasks generate,super-resolve --sampler pc --lambda-steps 1000 --out eval/paper_sampler
  pdd evaluate runs/ddpm_sim --data l96.h5 --tasks simulate --lambdas 0 --sampler eab2 --lambda-steps 50 --grid power --out eval/ddpm
"""


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise bad_argument("--lambdas", text, "expected comma-separated numbers", "pass e.g. --lambdas 0,0.2", kind=ConfigError) from None
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `pdd train`")
    parser.add_argument("--data", required=True, metavar="FILE.h5", help="reference data in the dataset layout (its --split is used)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory for metrics.json and the figures")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {','.join(TASKS)} (default: all the run supports)")
    parser.add_argument("--split", default="test", help="split of --data (default: test)")
    parser.add_argument("--n", type=int, metavar="N", help="reference paths to use (default: the whole split)")
    parser.add_argument("--lambdas", default="0,0.2", help="λs of the simulate task (default: 0,0.2)")
    parser.add_argument("--l2-step", type=int, default=6, help="step whose L2 error is reported (default: 6, PDD Table 1)")
    parser.add_argument("--discard", type=int, default=10, help="long-rollout segments discarded before spectra (default: 10, PDD B.5)")
    parser.add_argument("--segments", type=int, default=2, help="long-rollout segments kept for spectra (default: 2)")
    parser.add_argument("--n-generate", type=int, metavar="N", help="generated paths (default: as many as reference paths)")
    parser.add_argument("--batch-size", type=int, metavar="B", help="paths per batch of generation and super-resolution (default: all at once; a smaller batch bounds the memory)")
    parser.add_argument("--ensemble", type=int, default=8, metavar="M", help="stochastic rollouts per reference path scored by CRPS and spread-skill (0: none; default: 8)")
    parser.add_argument(
        "--long-steps",
        type=int,
        default=0,
        metavar="N",
        help="also roll out N steps at each λ of the simulate task and report their climate, any blow-up step and any collapse (0: none; default: 0)",
    )
    parser.add_argument("--sr-lambda", type=float, default=0.2, help="λ of the coarse simulations to super-resolve (default: 0.2, PDD Table 3)")
    parser.add_argument("--n-super-resolve", type=int, metavar="N", help="coarse segments to super-resolve (default: all kept)")
    parser.add_argument(
        "--sr-input", default="stochastic", metavar="KIND", help="coarse rollout to super-resolve: stochastic (the --rollout-noise increments) or deterministic (σ = 0) (default: stochastic)"
    )
    add_sampler_arguments(
        parser, "--lambda-steps", "λ steps of generation, super-resolution and the conditional baseline (default: 25 for gpc/gpf/gsde, 1000 for the others, PDD B.3)"
    )
    add_prior_argument(parser)
    add_score_argument(parser)
    add_rollout_noise_argument(parser)
    add_integrator_choice_arguments(parser)
    add_thermalizer_arguments(parser.add_argument_group("thermalizer of the simulate task's rollouts (drift runs)"))
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
    add_no_verify_argument(parser)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    counts = (("--seed", args.seed, 0), ("--l2-step", args.l2_step, 1), ("--discard", args.discard, 0), ("--segments", args.segments, 1))
    counts += (("--n", args.n, 1), ("--n-generate", args.n_generate, 1), ("--n-super-resolve", args.n_super_resolve, 1), ("--ensemble", args.ensemble, 0), ("--long-steps", args.long_steps, 0), ("--batch-size", args.batch_size, 1))
    for flag, value, minimum in counts:
        if value is not None and value < minimum:  # a negative count would silently slice paths away
            raise bad_argument(flag, value, f"must be >= {minimum}", f"pass {flag} >= {minimum}", kind=ConfigError)
    if args.n_generate == 1:  # generate also scores its paths as one ensemble, whose fair CRPS and spread divide by M - 1
        raise bad_argument("--n-generate", 1, "the generate task scores its paths as an ensemble too (CRPS, spread-skill), which needs two or more", "pass --n-generate 2 or more", kind=ConfigError)
    if not [task for task in args.tasks.split(",") if task.strip()]:
        raise bad_argument("--tasks", args.tasks, "names no task", f"pass a comma-separated subset of {','.join(TASKS)}", kind=ConfigError)
    if args.sr_input not in SR_INPUTS:
        raise bad_argument("--sr-input", args.sr_input, "unknown coarse input", f"use one of {', '.join(SR_INPUTS)}", kind=ConfigError)
    trained = load_run(args.run_dir)
    kind = build_score_kind(args, trained)
    if kind is not None:
        run_score(trained, kind)  # a kind the run lacks fails before any work
    tasks = tuple(task.strip() for task in args.tasks.split(",") if task.strip())
    settings = EvaluationSettings(
        lambdas=_floats(args.lambdas),
        n_paths=args.n,
        split=args.split,
        l2_step=args.l2_step,
        discard_segments=args.discard,
        keep_segments=args.segments,
        n_generate=args.n_generate,
        sr_lambda=args.sr_lambda,
        n_super_resolve=args.n_super_resolve,
        ensemble=args.ensemble,
        long_steps=args.long_steps,
        floor_seed=args.seed,
        batch_size=args.batch_size,
    )
    generator = generator_for(trained, args.seed)
    name = sampler_name(args, "pc" if trained.objective.samples_increments else DEFAULT_SAMPLER)
    verify_split(args.data, args.split)  # unknown or damaged reference data is refused before any work (the readers reuse this check)
    frames = read_metadata(args.data).splits[args.split][1]  # generation and super-resolution sample whole reference-length paths
    needs_marginal = not trained.objective.samples_increments and (uses_marginal(name) or args.prior == "data")
    available = read_metadata(args.data).splits[args.split][0]
    path_score = not trained.objective.samples_increments and isinstance(run_score(trained, kind), PathScore)
    check_evaluation(trained.grid, min(args.n or available, available), frames, settings, marginal=needs_marginal, network=trained.config if path_score else None, tasks=tasks)
    reference = run_marginal(trained, frames) if needs_marginal else None
    name, sampler = build_sampler(args, reference, default=name, path_score=path_score)
    grid_for = lambda start: build_lambda_schedule(args, start, trained.config.lam_min, 1000, name)  # noqa: E731
    full_grid = grid_for(trained.config.lam_max)
    description = {"score": args.score, "path_noise": args.path_noise, "seed": args.seed, "prior": args.prior, **sampler_settings(args, name, sampler, full_grid)}
    sampling = ReverseSampling(sampler, grid_for, score=kind, prior=build_prior(args, reference), description=description)
    if trained.objective.samples_increments:
        simulation = SimulationSettings(sampler=sampler, lam_schedule=full_grid, generator=generator)
    else:
        simulation = SimulationSettings(integrator=build_drift_integrator(args.integrator, "--integrator"))
        description.update(integrator=args.integrator, stochastic_integrator=args.stochastic_integrator)
        thermalizer = build_thermalizer(args, trained)
        if thermalizer is not None:  # its own random stream: generation and super-resolution draw what they drew without it
            thermalizer_stream = int(np.random.SeedSequence((args.seed, THERMALIZER_STREAM)).generate_state(1)[0])
            simulation = SimulationSettings(integrator=simulation.integrator, thermalizer=thermalizer, generator=generator_for(trained, thermalizer_stream))
        description.update(thermalizer_settings(thermalizer))
    stochastic_integrator = None if trained.objective.samples_increments else build_drift_integrator(args.stochastic_integrator, "--stochastic-integrator")
    if args.ensemble == 1:
        raise bad_argument("--ensemble", 1, "an ensemble needs at least 2 members", "pass --ensemble 0 (none) or >= 2", kind=ConfigError)
    # Members of a drift run add σ_λ noise (Eq. 58); the conditional baseline samples every step anyway.
    # They draw from their own stream, so generation and super-resolution draw what they drew without them.
    members = generator_for(trained, int(np.random.SeedSequence((args.seed, ENSEMBLE_STREAM)).generate_state(1)[0]))
    noise_level = build_noise_level(args, trained)
    description.update(noise_settings(noise_level))
    stochastic = SimulationSettings(integrator=stochastic_integrator, noise=True, **stochastic_options(noise_level))
    # The coarse input of super-resolution samples p_λ with the stochastic rollouts' noise (--rollout-noise).
    sr_simulation = stochastic.drawing_from(generator) if args.sr_input == "stochastic" else None
    ensemble_simulation = (simulation if simulation.samples_increments else stochastic).drawing_from(members)
    with locked_directory(args.out) as out:
        options = {"tasks": tasks, "settings": settings, "simulation": simulation, "sampling": sampling, "generator": generator, "sr_simulation": sr_simulation}
        options["ensemble_simulation"] = ensemble_simulation
        if not simulation.samples_increments:  # a drift run: its stochastic rollouts sample the path law the score models
            climate_stream = int(np.random.SeedSequence((args.seed, CLIMATE_STREAM)).generate_state(1)[0])
            options["stochastic_simulation"] = stochastic.drawing_from(generator_for(trained, climate_stream))
        metrics = evaluate_run(trained, args.data, out, progress=not args.no_progress, **options)
    shown = ("l2", "spectral_error", "spectral_error_floor", "floor_ratio", "vrmse", "crps", "spread_skill", "skipped", *METRICS.names())
    summary = {key: {k: v for k, v in value.items() if k in shown} for key, value in metrics.items() if isinstance(value, dict) and key in ("simulate", "generate", "super_resolve", "low_resolution")}
    for lam, entry in metrics.get("simulate", {}).get("by_lambda", {}).items():
        summary[f"climate_lambda{lam}"] = climate_summary(entry)
    print(json.dumps(json_record(summary), indent=2))
    written = Path(args.out).resolve() / "metrics.json"
    print(f"evaluated in {time.perf_counter() - started:.1f} s; wrote {written} and {len(metrics['figures'])} figures")
    check_tasks_succeeded(metrics, written)
    return 0


def failed_tasks(metrics: dict[str, Any]) -> dict[str, str]:
    """The error message of every task of ``evaluate_run``'s metrics that failed, by task."""
    return {key: value["failed"] for key, value in metrics.items() if isinstance(value, dict) and "failed" in value}


def check_tasks_succeeded(metrics: dict[str, Any], written: Path, flag: str = "--tasks") -> None:
    """Fail the command (exit 2) when a requested task failed; call it after what succeeded is written to ``written``."""
    failed = failed_tasks(metrics)
    if failed:
        first = next(iter(failed.values())).split(". Fix:")[0]
        raise bad_argument(
            flag, ",".join(failed), f"{len(failed)} task(s) failed ({first}); the others are in {written}", f"see 'failed' in {written.name} for each task's error and fix", kind=DataError
        )


COMMANDS["evaluate"] = (HELP, add_arguments, run)
