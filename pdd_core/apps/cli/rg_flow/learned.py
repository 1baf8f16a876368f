"""``pdd rg-flow phi4 --learn``: train the inverse RG on HMC samples and compare its flow with the exact one
(RDM 5.23-5.25, Figs. 7-8); with ``--hmc-study``, also start HMC chains from the learned t = 0 samples
and compare them with plain HMC at equal cost (RDM 1.2, 5.4). Its arguments are declared here."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pdd_core.apps.cli.rg_flow.options import default
from pdd_core.apps.cli.rg_flow.output import record_header, save_figure, save_json
from pdd_core.apps.lattice import flow_estimators, flow_samples
from pdd_core.apps.lattice.hmc_comparison import MIN_MEASURED
from pdd_core.apps.lattice.inverse_rg import TrainingSettings, choose_times, compare_learned_flow, difference_figure, summary_lines, train_inverse_rg
from pdd_core.apps.lattice.plots import fields_figure, flow_figure
from pdd_core.apps.lattice.warm_start import WarmStartStudy, warm_start_study
from pdd_core.config import tagged, to_dict
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.metrics.chain_statistics import DEFAULT_HOLD
from pdd_core.registry import SAMPLERS, SCHEMES
from pdd_core.sampler_recipe import SamplerOptions
from pdd_core.validation import check_positive


def lattice_sampler_names() -> list[str]:
    """The registered λ-samplers that need no Gaussian marginal of training paths (the lattice has none)."""
    import solvers  # noqa: F401  (registers the named samplers)

    return [name for name in SAMPLERS.names() if not SAMPLERS.get(name).marginal]

# Fixed stream ids of the learned run: training, sampling and the exact flow draw independent noise.
TRUE_FLOW_STREAM, SAMPLING_STREAM, HMC_STUDY_STREAM = 1, 4, 5
CONVENTIONS = (
    "difference_in_sigma = (learned - true) / sqrt(error_learned^2 + error_true^2); relative_difference = (learned - true) / |true|; "
    "estimators and units as in flows.json (docs/rg_flows.md)"
)


def add_learn_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of --learn and --hmc-study, in their own group of ``pdd rg-flow --help``."""
    learn = parser.add_argument_group("learned inverse RG (--learn; RDM 5.23-5.25, Figs. 7-8)")
    learn.add_argument("--learn", action="store_true", help="train a denoising model of the Carosso flow and compare its flow with the exact one")
    learn.add_argument("--train-steps", type=int, metavar="S", help=f"training steps of the lattice model (default: {default('train_steps')}, as RDM)")
    learn.add_argument("--zero-mode-train-steps", type=int, metavar="S", help=f"training steps of the zero-mode model (default: {default('zero_mode_train_steps')})")
    learn.add_argument("--batch-size", type=int, metavar="B", help=f"training batch size (default: {default('batch_size')})")
    learn.add_argument("--lr", type=float, help=f"Adam learning rate (default: {default('lr'):g})")
    learn.add_argument("--preset", choices=("tiny", "small"), help=f"U-Net size preset (default: {default('preset')})")
    learn.add_argument("--n-learned", type=int, metavar="N", help=f"reverse-SDE samples of the learned flow (default: {default('n_learned')})")
    learn.add_argument("--sampler", choices=lattice_sampler_names(), help=f"a registered λ-sampler of the reverse SDE (default: {default('sampler')}, PDD Eq. 66)")
    learn.add_argument("--stiffness", type=float, metavar="Z", help=f"κ_max Δt of the lattice stage (default: {default('stiffness')})")
    learn.add_argument("--zero-mode-sampler-steps", type=int, metavar="S", help=f"reverse-SDE steps of the zero mode over [t_split, t_max] (default: {default('zero_mode_sampler_steps')})")
    learn.add_argument("--split-tolerance", type=float, metavar="R", help=f"data left in non-zero modes at t_split, in noise units (default: {default('split_tolerance')})")
    learn.add_argument("--prior-tolerance", type=float, metavar="R", help=f"data left in any mode at t_max, in noise units (default: {default('prior_tolerance')})")
    learn.add_argument("--threads", type=int, metavar="N", help=f"torch threads of --learn, --flow and --flow-sampler (default: {default('threads')})")
    study_help = "also start one HMC chain from each learned t = 0 sample and compare τ_int, burn-in and effective samples with plain HMC at equal cost (RDM 1.2, 5.4)"
    learn.add_argument("--hmc-study", action="store_true", help=study_help)
    learn.add_argument("--hmc-trajectories", type=int, metavar="T", help=f"plain-HMC production trajectories per chain of --hmc-study (default: {default('hmc_trajectories')})")


def check_learn_args(args: argparse.Namespace) -> None:
    """--learn flows with the Carosso scheme only (RDM trains on 5.20) and needs positive counts."""
    if args.compare or (args.scheme and list(args.scheme) != ["carosso"]):
        problem = "the learned inverse RG is trained on the Carosso flow (RDM 5.20)"
        raise bad_argument("--learn", True, problem, "drop --compare and --scheme, or pass --scheme carosso", kind=ConfigError)
    for flag, value, minimum in (
        ("--train-steps", args.train_steps, 1),
        ("--zero-mode-train-steps", args.zero_mode_train_steps, 1),
        ("--batch-size", args.batch_size, 1),
        ("--n-learned", args.n_learned, 2),
        ("--zero-mode-sampler-steps", args.zero_mode_sampler_steps, 1),
        ("--threads", args.threads, 1),
        ("--hmc-trajectories", args.hmc_trajectories, max(MIN_MEASURED, DEFAULT_HOLD)),
    ):
        if value < minimum:
            raise bad_argument(flag, value, f"must be >= {minimum}", f"pass {flag} {minimum} or more", kind=ConfigError)
    if args.hmc_study and args.ts is not None and 0.0 not in args.ts:
        raise bad_argument("--ts", args.ts, "--hmc-study starts HMC chains from the learned samples at t = 0", "add 0 to --ts", kind=ConfigError)
    for flag, value in (("--lr", args.lr), ("--stiffness", args.stiffness), ("--split-tolerance", args.split_tolerance), ("--prior-tolerance", args.prior_tolerance)):
        check_positive(flag, value)


def warm_start_lines(study: WarmStartStudy) -> list[str]:
    """τ_int, measured burn-in and the warm/plain ratios of effective samples, one line each."""
    names = {"abs_magnetisation": "|M|", "action": "S"}

    def run_line(label: str, report: Any, note: str) -> str:
        taus = "  ".join(f"τ_int({names[name]})={stats.tau.tau:.3g}±{stats.tau.error:.2g}" for name, stats in report.observables.items())
        burn = "/".join("never" if burn.steps is None else str(burn.steps) for burn in report.burn_in.values())
        return f"  {label:<6} {taus} per trajectory; burn-in of |M|/S {burn} trajectories ({note})"

    def show(ratio: float | None) -> str:
        return "n/a" if ratio is None else f"{ratio:.3g}"

    ratios = "  ".join(f"{names[name]}: {show(by_unit['per_trajectory'])} per trajectory, {show(by_unit['per_second'])} per second" for name, by_unit in study.ratios.items())
    return [
        run_line("plain", study.plain, f"{study.plain.discarded_steps} discarded"),
        run_line("warm", study.warm, f"{study.warm.discarded_steps} discarded, generation {study.generation_seconds:.0f} s charged"),
        f"  effective samples warm/plain at equal cost: {ratios}" + ("" if study.equal_cost else " (NOT equal cost: generation exceeded the plain run)"),
    ]


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, stream]).generate_state(1)[0]))


def run_learned(
    args: argparse.Namespace,
    system: Any,
    scheme: Any,
    ts: list[float],
    snapshots: list[float],
    samples: np.ndarray,
    hmc: dict[str, Any],
    resampler: Any,
    out: Path,
) -> int:
    """Train on ``samples``, sample the learned flow at ``ts``, compare with the exact flow; write DIR and print a summary."""
    grid, progress = system.grid, not args.no_progress
    times = choose_times(samples, grid, scheme, prior_tolerance=args.prior_tolerance, split_tolerance=args.split_tolerance)
    settings = TrainingSettings(lattice_steps=args.train_steps, zero_mode_steps=args.zero_mode_train_steps, batch_size=args.batch_size, lr=args.lr, preset=args.preset, seed=args.seed)
    print(f"inverse RG: zero mode on [{times.t_split:.4g}, {times.t_max:.4g}], lattice on [0, {times.t_split:.4g}]", file=sys.stderr)
    started = time.perf_counter()
    model = train_inverse_rg(samples, grid, scheme, out / "model", times, settings, progress=progress)
    training_seconds = time.perf_counter() - started
    sampler = SAMPLERS.get(args.sampler).build(SamplerOptions())
    print(f"sampling {args.n_learned} learned paths ({model.lattice_steps(args.stiffness)} lattice steps over [0, t_split])", file=sys.stderr)
    generator = _generator(args.seed, SAMPLING_STREAM)
    learned = model.sample_flow(args.n_learned, ts, sampler, generator, stiffness=args.stiffness, zero_mode_steps=args.zero_mode_sampler_steps, progress=progress)
    true = flow_samples(samples, scheme, grid, ts, _generator(args.seed, TRUE_FLOW_STREAM))
    bar = tqdm(total=2, desc="estimators", file=sys.stderr, disable=not progress)
    estimators = {}
    for name, flow in (("true (exact flow of HMC samples)", true), ("learned (reverse SDE)", learned.samples)):
        estimators[name] = flow_estimators(flow, grid, args.mass, resampler)
        bar.update(1)
    bar.close()
    true_points, learned_points = estimators.values()
    comparison = compare_learned_flow(learned_points, true_points)
    study = None
    if args.hmc_study:
        print(f"HMC warm-start study: {args.n_learned} chains from the learned t = 0 samples against plain HMC", file=sys.stderr)
        rng = np.random.default_rng([args.seed, HMC_STUDY_STREAM])
        # The t = 0 samples cost the whole reverse path; recording the other ts on the way is nearly free.
        study = warm_start_study(system, learned.samples[0.0], learned.seconds, rng, production_trajectories=args.hmc_trajectories)

    record = _record(args, system, scheme, ts, samples, hmc, resampler, times, settings, training_seconds, out, learned, true_points, learned_points, comparison)
    if study is not None:
        start = {"start_fields": "learned reverse-SDE samples at t = 0", "training_seconds_not_charged": training_seconds}
        record["hmc_warm_start"] = {**start, **study.to_json()}
    save_json(out / "learned_flow.json", record)
    theory = f"phi4 L={system.L:g} N={system.N} m²={system.m2:g} λ={system.lam:g}, M={args.mass:g}"
    save_figure(out / "learned_flow.png", flow_figure(estimators, f"learned vs exact Carosso flow, {theory}"))
    fields = {"true": {t: true[t][0] for t in snapshots}, "learned": {t: learned.samples[t][0] for t in snapshots}}
    save_figure(out / "learned_fields.png", fields_figure(fields, snapshots, f"one sample along the exact and the learned flow ({theory})"))
    save_figure(out / "learned_difference.png", difference_figure(comparison, f"learned − exact, {theory}"))

    _print_summary(args, samples, hmc, training_seconds, learned, comparison, study, out)
    return 0


def _record(args, system, scheme, ts, samples, hmc, resampler, times, settings, training_seconds, out: Path, learned, true_points, learned_points, comparison) -> dict[str, Any]:
    """The JSON record of a learned flow (learned_flow.json)."""
    return {
        **record_header("pdd rg-flow --learn", args, system, system.grid),
        "scheme": tagged(scheme, SCHEMES),
        "mass_M": args.mass,
        "ts": ts,
        "n_train": int(samples.shape[0]),
        "n_learned": args.n_learned,
        "hmc": hmc,
        "resampling": resampler.describe(),
        "times": to_dict(times),
        "training": {**to_dict(settings), "seconds": training_seconds, "model_dir": str((out / "model").resolve())},
        "sampling": {
            "sampler": args.sampler,
            "stiffness": args.stiffness,
            "zero_mode_sampler_steps": args.zero_mode_sampler_steps,
            "score_evaluations_per_sample": learned.score_evaluations,
            "seconds": learned.seconds,
        },
        "conventions": CONVENTIONS,
        "true_flow": [point.to_json() for point in true_points],
        "learned_flow": [point.to_json() for point in learned_points],
        "comparison": comparison,
    }


def _print_summary(args, samples, hmc, training_seconds: float, learned, comparison, study, out: Path) -> None:
    """The few lines a user reads after the run."""
    print(f"HMC: {samples.shape[0]} training samples, acceptance {hmc['acceptance_rate']:.3f}; trained in {training_seconds:.0f} s, sampled {args.n_learned} in {learned.seconds:.0f} s")
    print("learned vs exact Carosso flow (RDM 5.20), value±error, difference in combined σ:")
    print("\n".join(summary_lines(comparison)))
    if study is not None:
        print(f"HMC from the {args.n_learned} learned samples (warm) against plain HMC at equal wall time (RDM 1.2, 5.4; training not charged):")
        print("\n".join(warm_start_lines(study)))
    print(f"wrote {(out / 'learned_flow.json').resolve()} and the plots in {out.resolve()}")


__all__ = ["add_learn_arguments", "check_learn_args", "lattice_sampler_names", "run_learned", "warm_start_lines"]
