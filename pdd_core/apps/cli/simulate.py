"""``pdd simulate``: roll a trained run out in physical time at fixed λ (PDD Algorithm 2; the B.4 baseline)."""

from __future__ import annotations

import argparse
import sys
import time

from pdd_core.apps.cli.inference_options import (
    DEFAULT_SAMPLER_STEPS,
    add_common_arguments,
    add_sampler_arguments,
    build_lambda_schedule,
    build_sampler,
    check_common,
    check_count,
    common_settings,
    generator_for,
    locked_output,
    report,
    sampler_options_given,
    sampler_settings,
)
from pdd_core.apps.cli.main import COMMANDS
from pdd_core.apps.cli.request_costs import check_simulation
from pdd_core.apps.cli.rollout_options import (
    add_integrator_option_argument,
    add_rollout_noise_argument,
    add_thermalizer_arguments,
    build_integrator,
    build_noise_level,
    build_thermalizer,
    noise_settings,
    stochastic_options,
    thermalizer_settings,
)
from pdd_core.apps.inference.file_io import read_paths, write_inference_file
from pdd_core.apps.inference.partial_rollout import PartialRollout
from pdd_core.apps.inference.runs import check_lambda, load_run
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.apps.trainer.checkpoint import checkpoint_identity
from pdd_core.divergence import ROLLOUT_BAND
from pdd_core.errors import ConfigError, DataError, bad_argument
from pdd_core.registry import INTEGRATORS

HELP = "simulate a trained run in physical time at fixed λ (PDD Algorithm 2)"

EPILOG = f"""\
Takes the first --history frames (default 1) of --n paths of the data (default: the run's
training file, split test), coarse-grains them to λ, u_λ(t0) = C_λ u0(t0), and integrates
u_{{n+1}} = u_n + f_λ(window) Δt [+ σ_λ ξ Δt] for --steps steps of the run's Δt. States
before t0 are zeros in the drift's window (PDD B.2). Deterministic Euler (σ = 0, the
evaluation setting of PDD B.5) unless --noise adds σ_λ of PDD Eq. 58 (Euler-Maruyama, D.1).

A conditional-denoising run (the DDPM simulation baseline of PDD B.4) samples every
standardised increment by reverse-λ integration from N(0, Σ_λmax) with --sampler (default pc,
{DEFAULT_SAMPLER_STEPS} λ steps per physical step: --lambda-steps), then u_{{n+1}} = u_n + s δ;
it simulates at λ = 0 only.

The output holds [n, history + steps/save_every, C, *space] in the 'train' split, in the
standardised space of the run's training data (source_mean/source_std attributes give
u = u_std * source_std + source_mean), with dt = Δt * save_every. Progress goes to stderr.

With --noise the increments draw noise calibrated on the drift's residuals on the training data,
per channel and Fourier mode, with a per-mode damping and a constant of the drift fitted so that
calibration rollouts keep the training data's variance and spatial mean (--rollout-noise climate,
the default; --closure-rounds rounds per λ), the residual noise alone (--rollout-noise residual),
or the noise the run's path density models (--rollout-noise model: Σ̃_λ(k) per mode for a per-mode
run, Eq. 58's σ_λ for the paper's loss); docs/results.md, "Rollout climate". At λ = 0 every new
state of a system that declares a constraint on its fine-scale states (Lorenz-96's X, held J times)
is projected onto it.

--thermalize M pulls the rollout back onto the run's own path law every M steps: the drift's
window is pushed to λ + δ (--thermalize-push) with the exact RG transition and sampled back to λ
with gpc and the run's path score (--thermalize-steps steps, 2 network calls each); the frame
saved at such a step is the one before (docs/results.md, "Rollout climate").

Crash safety: every ~100 steps the finished segment goes to FILE.h5.partial/; re-running the
same command after an interruption (even kill -9) resumes there and gives the same paths. A
rollout that leaves the energy band (--energy-band) or turns NaN stops with an error that keeps
those segments. A second process writing the same --out is refused (FILE.h5.lock).

examples:
  pdd simulate runs/l96 --lambda 0 --steps 1000 --out sim.h5
  pdd simulate runs/l96 --lambda 0.2 --steps 1000 --n 100 --out sim_lr.h5
  pdd simulate runs/l96 --lambda 0.2 --steps 5000 --noise --save-every 10 --out sim_noise.h5 --seed 3
  pdd simulate runs/l96 --lambda 0.2 --steps 10000 --thermalize 20 --out sim_thermalized.h5
  pdd simulate runs/kf --lambda 0 --steps 200 --data kf_test.h5 --split test --history 5 --out kf_sim.h5
  pdd simulate runs/l96_conditional --lambda 0 --steps 100 --sampler pc --lambda-steps 1000 --out baseline.h5
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_common_arguments(parser)
    parser.add_argument("--lambda", dest="lam", type=float, required=True, metavar="L", help="the fixed diffusion scale λ (within the run's training range)")
    parser.add_argument("--steps", type=int, required=True, metavar="N", help="number of Δt steps")
    parser.add_argument("--data", metavar="FILE.h5", help="initial conditions (default: the run's training file)")
    parser.add_argument("--split", metavar="SPLIT", help="split of --data (default: test; train for a λ = 0 pdd output)")
    parser.add_argument("--n", type=int, metavar="N", help="number of initial conditions: the first N paths (default: all)")
    parser.add_argument("--history", type=int, default=1, metavar="T0", help="frames of each data path used as the initial history (default: 1)")
    parser.add_argument("--noise", action="store_true", help="add the model noise σ_λ (Euler-Maruyama, PDD D.1); default σ = 0")
    parser.add_argument(
        "--integrator",
        metavar="NAME",
        help=f"time integrator of a drift run, from the INTEGRATORS registry ({', '.join(INTEGRATORS.names())}); default: euler, or euler-maruyama with --noise",
    )
    add_integrator_option_argument(parser)
    parser.add_argument("--save-every", type=int, default=1, metavar="K", help="keep every K-th state (default: 1)")
    parser.add_argument(
        "--energy-band",
        type=float,
        default=ROLLOUT_BAND,
        metavar="E",
        help=f"stop when a path's mean square (standardised units) exceeds E (default: {ROLLOUT_BAND:g}, an RMS of 100 std; 0 disables)",
    )
    add_rollout_noise_argument(parser)
    add_thermalizer_arguments(parser.add_argument_group("thermalizer (drift runs)"))
    group = parser.add_argument_group("conditional baseline (conditional-denoising runs only)")
    add_sampler_arguments(group, "--lambda-steps", f"λ steps per physical step (default: {DEFAULT_SAMPLER_STEPS})", default="pc")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_common(args)
    check_count("--steps", args.steps)
    check_count("--n", args.n)
    check_count("--history", args.history)
    check_count("--save-every", args.save_every)
    if not (args.energy_band >= 0 and args.energy_band < float("inf")):
        raise bad_argument("--energy-band", args.energy_band, "must be a finite number >= 0", "pass e.g. --energy-band 1e4, or 0 to disable it", kind=ConfigError)
    if args.steps % args.save_every:
        raise bad_argument(
            "--save-every",
            args.save_every,
            f"must divide --steps ({args.steps})",
            "choose --steps as a multiple of --save-every",
            kind=ConfigError,
        )
    if args.save_every > 1 and args.history > 1:
        raise bad_argument(
            "--history",
            args.history,
            "with --save-every > 1 the saved frames would not be evenly spaced",
            "use --history 1 or --save-every 1",
            kind=ConfigError,
        )
    trained = load_run(args.run_dir, device=args.device)
    lam = check_lambda(trained, args.lam, "--lambda")
    baseline = trained.objective.samples_increments
    if args.integrator is not None:
        if baseline:
            raise bad_argument("--integrator", args.integrator, "the conditional baseline's integrator is conditional-increment, built from --sampler", "drop --integrator", kind=ConfigError)
        if args.integrator not in INTEGRATORS.names():
            raise bad_argument("--integrator", args.integrator, "unknown time integrator", f"use one of {INTEGRATORS.names()}", kind=ConfigError)
        if getattr(INTEGRATORS.get(args.integrator), "samples_increments", False):
            raise bad_argument("--integrator", args.integrator, "samples the increments of a conditional-denoising run; this run has a drift", "use euler or euler-maruyama", kind=ConfigError)
    if args.integrator_set and baseline:
        raise bad_argument("--integrator-set", " ".join(args.integrator_set), "the conditional baseline's integrator is built from --sampler and its options", "drop --integrator-set", kind=ConfigError)
    integrator = None if baseline else build_integrator(args.integrator or ("euler-maruyama" if args.noise else "euler"), args.integrator_set)
    given = sampler_options_given(args)
    if given and not baseline:
        raise bad_argument(
            given[0],
            "given",
            f"sampler options apply to conditional-denoising runs; this run's objective is {trained.objective.name!r}",
            "drop them",
            kind=ConfigError,
        )
    thermalizer = build_thermalizer(args, trained)
    if thermalizer is not None and thermalizer.every % args.save_every:
        raise bad_argument("--thermalize", args.thermalize, f"must be a multiple of --save-every ({args.save_every})", "choose --thermalize as a multiple of --save-every", kind=ConfigError)
    data = args.data or trained.data_path
    if data is None:
        raise bad_argument("--data", None, f"the run's training file ({trained.config.data}) was not found", "pass --data FILE.h5", kind=DataError)
    inputs = read_paths(trained, data, args.split, args.n, args.history)
    check_simulation(trained.grid, inputs.u.shape[0], args.history, args.steps, args.save_every, args.batch_size, trained.config.resolved_window)  # before the rollout allocates
    if inputs.lam not in (None, 0.0):
        raise bad_argument(
            "--data",
            str(data),
            f"holds paths at λ = {inputs.lam:g}; initial conditions are λ = 0 data (Algorithm 2)",
            "pass a dataset file",
            kind=DataError,
        )
    with locked_output(args) as out:
        return _simulate(args, trained, inputs, data, lam, integrator, thermalizer, out, started)


def _simulate(args: argparse.Namespace, trained, inputs, data, lam: float, integrator: tuple | None, thermalizer, out, started: float) -> int:
    """Roll out and write the output; ``integrator`` is ``(object, its options)`` for a drift run, None for the conditional baseline."""
    settings = {**common_settings(args), "lambda": lam, "steps": args.steps, "data": str(data), "split": inputs.split, "n": inputs.u.shape[0]}
    settings.update(history=args.history, save_every=args.save_every, noise=args.noise, objective=trained.objective.name, **thermalizer_settings(thermalizer))
    options = {"generator": generator_for(trained, args.seed), "noise": args.noise, "save_every": args.save_every, "batch_size": args.batch_size, "thermalizer": thermalizer}
    options["progress"] = not args.no_progress
    if integrator is None:
        # The baseline samples single increments given clean states: no data marginal to build around.
        name, sampler = build_sampler(args, default="pc")
        lam_schedule = build_lambda_schedule(args, trained.config.lam_max, trained.config.lam_min, DEFAULT_SAMPLER_STEPS, name)
        settings.update(sampler_settings(args, name, sampler, lam_schedule))
        options.update(sampler=sampler, lam_schedule=lam_schedule)
        method = f"the conditional baseline with {name} ({lam_schedule.numel() - 1} λ steps per step)"
    else:
        name = args.integrator or ("euler-maruyama" if args.noise else "euler")
        options["integrator"], integrator_options = integrator
        settings["integrator"] = name
        if integrator_options:  # recorded only when given, so outputs without options read as before
            settings["integrator_options"] = integrator_options
        if args.noise:
            noise_level = build_noise_level(args, trained)
            options.update(stochastic_options(noise_level))
            settings.update(noise_settings(noise_level))
        method = f"{name} at λ = {lam:g}"
    if not args.no_progress:
        print(f"simulating {inputs.u.shape[0]} paths for {args.steps} steps with {method}", file=sys.stderr)
    settings["energy_band"] = energy_band = None if args.energy_band == 0 else args.energy_band
    partial = PartialRollout.beside(out, {**settings, "checkpoint": checkpoint_identity(trained.run_dir)})
    if partial.open(args.overwrite) and not args.no_progress:
        print(f"resuming from {partial.directory} ({partial.finished_steps()} steps of the paths in progress done)", file=sys.stderr)
    paths = simulate_run(trained, inputs.u, lam, args.steps, energy_band=energy_band, partial=partial, **options)
    if "noise_level" in options:  # a fitted closure's rounds kept are known only now (the partial rollout's identity above has the settings before)
        settings.update(noise_settings(options["noise_level"]))
    provenance = {"command": "simulate", "lam": lam, "sampler": name, "steps": args.steps, "settings": settings, "seed": args.seed}
    write_inference_file(out, paths, run=trained, dt=trained.dt * args.save_every, overwrite=args.overwrite, **provenance)
    partial.remove()
    report(out, paths, f"simulated {paths.shape[0]} paths with {method}", started)
    return 0


COMMANDS["simulate"] = (HELP, add_arguments, run)

__all__ = ["run"]
