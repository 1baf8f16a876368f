"""``pdd demo``: the main job. Data, training, simulation, generation, super-resolution, evaluation."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from pdd_core.apps.cli.evaluate import check_tasks_succeeded, failed_tasks
from pdd_core.apps.cli.main import COMMANDS, add_no_verify_argument
from pdd_core.apps.cli.request_costs import check_data_generation, check_evaluation, check_training
from pdd_core.apps.cli.rollout_options import add_thermalizer_arguments, build_thermalizer, noise_settings, stochastic_options, thermalizer_settings
from pdd_core.apps.datasets import generate_dataset
from pdd_core.apps.datasets.generation import configure_system, resolve_preset, stored_frames
from pdd_core.apps.evaluation.rollout_climate import climate_summary
from pdd_core.apps.evaluation.run_metrics import EvaluationSettings, ReverseSampling, evaluate_run
from pdd_core.apps.inference.climate_closure import ClimateClosure
from pdd_core.apps.inference.closure_cache import ClosureCache
from pdd_core.apps.inference.residual_noise import ResidualNoise, calibrated_score_kind
from pdd_core.apps.inference.runs import load_run, run_marginal
from pdd_core.apps.inference.simulation_settings import SimulationSettings
from pdd_core.apps.trainer import train
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.files import json_record, locked_directory, write_json_atomically
from pdd_core.registry import INTEGRATORS, SAMPLERS, SYSTEMS
from pdd_core.sampler_recipe import SamplerOptions
from pdd_core.schedules import power_schedule
from pdd_core.score.path_density import NOISE_MODELS
from pdd_core.training import ModelConfig, PDDObjectiveConfig, TrainConfig

HELP = "run the whole pipeline on a small problem and write metrics and figures (the main job)"

# Per system: data sizes, the PDD scheme of B.3, network, training and sampler settings that
# fit a few minutes on a 2-core CPU. The sampler is gpc: the exponential predictor around the
# data's Gaussian marginal with the per-mode Gaussian Langevin corrector, 25 steps on the power
# grid (50 score calls), from the data-informed prior; it matches the paper's 1000-step ETD +
# Langevin sampler at 1/20-1/40 of the cost (docs/results.md, "Few-step sampling"), and the time
# saved goes to training and to more generated and super-resolved paths. The loss weights residuals per mode by default (objective.noise_model = "per-mode"): with Eq. 9's
# scalar weight the reverse-λ flow of the learned drift diverges on these grids, so generation and
# super-resolution would end in NaN (docs/results.md, "Reverse sampling with a path score").
# The default sampler of the `pdd` commands (gpc, 25 power-grid steps = 50 network calls, docs/results.md).
SAMPLER = "gpc"
SAMPLER_STEPS = 25
# The thermalizer's generator is seeded with the demo's seed plus this offset (a stream of its own).
THERMALIZER_SEED_OFFSET = 7919
# ... and the stochastic rollouts whose climate is measured with this one.
CLIMATE_SEED_OFFSET = 7927
DEMOS = {
    "lorenz96": {
        "data": {"n_train": 200, "n_valid": 8, "n_test": 8},
        "settings": {},
        "scheme": {"name": "carosso", "alpha": 0.1, "beta": math.sqrt(2)},
        "model": ModelConfig(name="unet", preset="tiny"),
        "train": {"frames": 16, "batch_size": 16, "lr": 1e-3, "ema_decay": 0.99},
        # 3600 steps: the climate and generation of 3 seeds against 1200 (docs/results.md, "The levers, measured on three seeds")
        "steps": 3600,
        "evaluate": {"n_paths": 8, "keep_segments": 1, "n_generate": 16, "n_super_resolve": 8},
        "climate_closure": {},  # the default calibration
    },
    "kolmogorov": {
        "data": {"n_train": 24, "n_valid": 4, "n_test": 4},
        # The paper's 40² (simulated on 64²). Its evaluation is the demo's cost: every path-score call
        # is a forward and a backward pass through the network over every frame (two thirds of it the
        # backward), so the demo generates 8 paths and super-resolves 4 (16 and 8 took 10.6-11.3 min
        # on 2 cores; docs/results.md, "The demo").
        "settings": {"n_sim": 64, "n_out": 40, "burn_in": 10.0},
        "scheme": {"name": "carosso", "alpha": 0.3, "beta": math.sqrt(6)},
        "model": ModelConfig(name="unet", preset="tiny", overrides={"linear_part": True, "conserve_mean": True, "forcing_part": True}),  # the mean vorticity is conserved; the forcing is a fixed field
        "train": {"frames": 12, "batch_size": 8, "lr": 1e-3, "ema_decay": 0.99},
        "steps": 300,
        "evaluate": {"n_paths": 4, "keep_segments": 2, "n_generate": 8, "n_super_resolve": 4},
        "climate_closure": {"paths": 8, "steps": 400, "burn_in": 100},  # a 40² rollout step costs ~20x Lorenz-96's
    },
}

EPILOG = """\
Generates a small dataset of the system, trains a PDD drift (PDD Algorithm 1) for --steps steps
(with the per-mode weighting of the loss unless --noise-model scalar, the paper's Eq. 9), simulates at λ = 0 and λ = 0.2, generates paths from noise, super-resolves λ = 0.2 simulations,
evaluates everything against the test split (PDD B.5 metrics) and writes:

  DIR/data.h5               the dataset (docs/data_format.md)
  DIR/run/                  the trained run (checkpoint.pt, config.json, log.jsonl)
  DIR/evaluation/           metrics.json and the figures (PNG)
  DIR/summary.json          timings and the headline numbers

Sizes are scaled down so the whole job takes minutes on a 2-core CPU; the numbers show the
pipeline working, not the paper's accuracy (docs/results.md has the experiments).

examples:
  pdd demo --out demo
  pdd demo --system kolmogorov --out demo_kf
  pdd demo --out demo --steps 3000 --seed 1
  pdd demo --out demo_paper --noise-model scalar     # the paper's loss: its generation diverges here
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created; an existing DIR is reused)")
    parser.add_argument("--system", default="lorenz96", help=f"one of {', '.join(DEMOS)} (default: lorenz96)")
    parser.add_argument("--steps", type=int, metavar="N", help="training steps (default: 3600 for lorenz96, 300 for kolmogorov)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, training and sampling (default: 0)")
    parser.add_argument(
        "--noise-model",
        default="per-mode",
        help="loss weighting: per-mode (1/Σ̃_λ(k), the extension that generates stably) or scalar (Eq. 9, the paper); default: per-mode",
    )
    add_thermalizer_arguments(parser)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1; more can be slower on a shared machine)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
    add_no_verify_argument(parser)


def _stage(name: str, started: float, timings: dict[str, float]) -> float:
    now = time.perf_counter()
    timings[name] = round(now - started, 1)
    print(f"[demo] {name}: {timings[name]:.1f} s", flush=True)
    return now


def run(args: argparse.Namespace) -> int:
    if args.system not in DEMOS:
        raise bad_argument("--system", args.system, "no demo for this system", f"use one of {list(DEMOS)}", kind=ConfigError)
    if args.steps is not None and args.steps < 1:
        raise bad_argument("--steps", args.steps, "must be >= 1", "pass e.g. --steps 3600", kind=ConfigError)
    if args.noise_model not in NOISE_MODELS:
        raise bad_argument("--noise-model", args.noise_model, "unknown noise model", f"use one of {list(NOISE_MODELS)}", kind=ConfigError)
    if args.seed < 0 or args.threads < 1:
        raise bad_argument("--seed", args.seed, "seed must be >= 0 and --threads >= 1", "pass --seed 0 --threads 1", kind=ConfigError)
    torch.set_num_threads(args.threads)
    demo = DEMOS[args.system]
    with locked_directory(args.out) as out:
        return _run(args, demo, out)


def check_demo_memory(name: str, demo: dict, system: Any, config: TrainConfig, settings: EvaluationSettings) -> None:
    """The demo's sizes through the memory checks of `pdd data generate`, `pdd train` and `pdd evaluate`, before any work.

    Evaluation samples test-length paths with the data-informed prior, so its marginal is counted.
    """
    preset = resolve_preset(type(system), "small")[1]
    sizes = demo["data"]
    check_data_generation(system, preset, (sizes["n_train"], sizes["n_valid"], sizes["n_test"]), None, setting=("--system", name))
    frames = stored_frames(system, preset.n_frames)
    check_training(config, system.grid, frames)
    check_evaluation(system.grid, min(settings.n_paths or sizes["n_test"], sizes["n_test"]), frames, settings, marginal=True, network=config)


def _run(args: argparse.Namespace, demo: dict, out: Path) -> int:
    progress = not args.no_progress
    timings: dict[str, float] = {}
    started = begin = time.perf_counter()

    data = out / "data.h5"
    system = configure_system(SYSTEMS.get(args.system), "small", demo["settings"])
    steps = args.steps or demo["steps"]
    objective = PDDObjectiveConfig(noise_model=args.noise_model)
    config = TrainConfig(
        data=str(data.resolve()), model=demo["model"], scheme=demo["scheme"], objective=objective, steps=steps, seed=args.seed, checkpoint_every=max(steps // 4, 1), **demo["train"]
    )
    settings = EvaluationSettings(lambdas=(0.0, 0.2), **demo["evaluate"])
    check_demo_memory(args.system, demo, system, config, settings)
    if not data.exists():
        generate_dataset(system, "small", data, args.seed, progress=progress, **demo["data"])
    started = _stage("data", started, timings)

    run_dir = out / "run"
    resume = (run_dir / "checkpoint.pt").exists()
    if not resume:
        # A demo killed before its first checkpoint left only its config and log (the demo's
        # directory is locked, so no one else is writing them): nothing to resume, start again.
        for name in ("config.json", "log.jsonl"):
            (run_dir / name).unlink(missing_ok=True)
    train(config, run_dir, resume=resume, progress=progress)  # a rerun continues an interrupted demo
    started = _stage("train", started, timings)

    trained = load_run(run_dir)
    generator = torch.Generator().manual_seed(args.seed)
    reference = run_marginal(trained, read_metadata(data).splits["test"][1])  # generation and SR sample test-length paths
    recipe = SAMPLERS.get(SAMPLER)
    sampler = recipe.build(SamplerOptions(reference, path_score=True))  # the demo trains a drift: its path score
    description = {"sampler": SAMPLER, "sampler_steps": SAMPLER_STEPS, "network_calls": SAMPLER_STEPS * sampler.evaluations_per_step, "lambda_grid": "power", "prior": "data"}
    # Generation and super-resolution score paths with the increment variance the drift leaves on
    # the data (docs/results.md, "Where the variance goes").
    score = calibrated_score_kind(trained, None, seed=args.seed)
    description["path_noise"] = "residual"
    sampling = ReverseSampling(sampler, lambda start: power_schedule(start, 0.0, SAMPLER_STEPS), score=score, prior=reference, description={**description, **recipe.provenance(sampler)})
    deterministic = SimulationSettings(integrator=INTEGRATORS.get("euler")())
    thermalizer = build_thermalizer(args, trained)
    if thermalizer is not None:  # its own stream, so that generation and super-resolution draw what they drew without it
        deterministic = SimulationSettings(integrator=deterministic.integrator, thermalizer=thermalizer, generator=torch.Generator().manual_seed(args.seed + THERMALIZER_SEED_OFFSET))
    sampling.description.update(thermalizer_settings(thermalizer))
    # Stochastic rollouts keep the climate with noise calibrated on the residuals and a per-mode
    # damping fitted on calibration rollouts (docs/results.md, "Rollout climate").
    noise_level = ClimateClosure(ResidualNoise(trained, data, seed=args.seed), cache=ClosureCache.of_run(run_dir), **demo["climate_closure"])
    climate = SimulationSettings(integrator=INTEGRATORS.get("euler-maruyama")(), noise=True, generator=torch.Generator().manual_seed(args.seed + CLIMATE_SEED_OFFSET), **stochastic_options(noise_level))
    stochastic = climate.drawing_from(generator)  # super-resolution input: samples of p_λ with the climate rollouts' noise
    sampling.description.update(noise_settings(noise_level))
    options = {"sr_simulation": stochastic, "stochastic_simulation": climate, "progress": progress}
    metrics = evaluate_run(trained, data, out / "evaluation", settings=settings, simulation=deterministic, sampling=sampling, generator=generator, **options)
    _stage("simulate, generate, super-resolve, evaluate", started, timings)

    by_lambda = metrics.get("simulate", {}).get("by_lambda", {})
    headline = {
        "simulate_l2_step6_lambda0": by_lambda.get("0", {}).get("l2"),
        "simulate_spectral_error_lambda0": by_lambda.get("0", {}).get("spectral_error"),
        "simulate_l2_step6_lambda0.2": by_lambda.get("0.2", {}).get("l2"),
        "simulate_spectral_error_lambda0.2": by_lambda.get("0.2", {}).get("spectral_error"),
        **{f"{task}_spectral_error": metrics[task].get("spectral_error") for task in ("generate", "super_resolve", "low_resolution")},  # None if it failed
    }
    floors = {f"simulate_lambda{lam}": entry.get("spectral_error_floor") for lam, entry in by_lambda.items()}
    floors.update({task: metrics[task].get("spectral_error_floor") for task in ("generate", "super_resolve", "low_resolution")})
    climate_by_lambda = {f"lambda{lam}": climate_summary(entry) for lam, entry in by_lambda.items()}
    sampled = ("max_abs_mean_offset", "max_std_error", "psd_ratio_min", "psd_ratio_max")  # what generation and refinement give back
    climate_by_lambda.update({task: {key: metrics[task]["climate"][key] for key in sampled} for task in ("generate", "super_resolve", "low_resolution") if "climate" in metrics[task]})
    summary = {"system": args.system, "seed": args.seed, "training_steps": steps, "noise_model": args.noise_model, "seconds": timings, "total_seconds": round(time.perf_counter() - begin, 1), "metrics": headline}
    summary.update(spectral_error_floors=floors, climate=climate_by_lambda, failed=failed_tasks(metrics))
    write_json_atomically(out / "summary.json", summary)  # a NaN metric is written as null and listed under "non_finite"
    print(json.dumps(json_record({**headline, "spectral_error_floors": floors}), indent=2))
    print(f"[demo] done in {summary['total_seconds']:.0f} s")
    print(f"[demo] metrics: {(out / 'evaluation' / 'metrics.json').resolve()}")
    print(f"[demo] figures: {(out / 'evaluation').resolve()}/*.png")
    print(f"[demo] summary: {(out / 'summary.json').resolve()}")
    check_tasks_succeeded(metrics, (out / "summary.json").resolve(), "task")  # a failed task fails the demo, after the rest is written
    return 0


COMMANDS["demo"] = (HELP, add_arguments, run)
