"""The options every inference command shares (``pdd generate``, ``simulate``, ``super-resolve``,
``evaluate``): the run, seed, device and output, the λ-sampler by name with its options and schedule,
the score, the prior; and the provenance they record."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from pdd_core.apps.cli.choices import LAMBDA_SCHEDULES, SCORE_KINDS, choose
from pdd_core.apps.cli.main import add_no_verify_argument
from pdd_core.apps.cli.request_costs import check_schedule
from pdd_core.apps.inference.file_io import check_output_path
from pdd_core.apps.inference.residual_noise import ResidualNoise, StationaryNoise, calibrated_score_kind
from pdd_core.apps.inference.runs import PathScoreKind, TrainedRun, default_score_kind
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.files import OutputLock
from pdd_core.registry import SAMPLERS
from pdd_core.sampler_recipe import OPTION_FLAGS, SamplerOptions
from pdd_core.score.gaussian_marginal import GaussianMarginal

DEFAULT_SAMPLER = "gpc"
# The path score's increment variance (--path-noise): the model's Σ̃_λ or calibrated on the drift's residuals.
# auto: residual for a drift's path score (measured in docs/results.md, "Where the variance goes"),
# nothing to calibrate for a network's noise prediction.
PATH_NOISE = ("auto", "model", "residual", "stationary")
DEFAULT_PATH_NOISE = "auto"
# Measured in docs/results.md ("Few-step sampling on learned models"): 25 steps of gpc (50 score
# calls) match or beat the paper's 1000-step pc on the L96 and Kolmogorov runs and the DDPM baseline.
GAUSSIAN_SAMPLER_STEPS = 25
# PDD B.3: λ in [0, 1] discretised into 1000 steps (Δλ = 1e-3).
PAPER_DELTA_LAMBDA = 1e-3
DEFAULT_SAMPLER_STEPS = 1000
PRIORS = ("data", "noise")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN_DIR, --out, --seed, --device, --batch-size, --overwrite, --no-progress, --no-verify."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `pdd train`")
    parser.add_argument("--out", required=True, metavar="FILE.h5", help="output file in the dataset layout (docs/data_format.md)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw; the output is a function of it (default: 0)")
    parser.add_argument("--device", default="cpu", metavar="DEVICE", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--batch-size", type=int, metavar="B", help="paths per batch (default: all at once)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
    add_no_verify_argument(parser)


def add_score_argument(parser: argparse.ArgumentParser) -> None:
    """``--score``: which score of the run drives the reverse-λ sampler (:func:`run_score`)."""
    parser.add_argument(
        "--score",
        default="auto",
        metavar="KIND",
        help=f"score: {', '.join(SCORE_KINDS)} (path = autograd path score of the drift, Eq. 36; path-per-mode = "
        "with the per-mode increment variance instead of Eq. 58's scalar; path-per-mode-r = that plus the Gaussian "
        "initial density r_λ; default: auto, the score the run was trained for)",
    )
    parser.add_argument(
        "--path-noise",
        default=DEFAULT_PATH_NOISE,
        metavar="KIND",
        help="increment variance of the path score: model (the coarse-graining noise Σ̃_λ, PDD A.7), residual (at least the variance "
        'the drift leaves on the training data, per mode and λ; docs/results.md, "Where the variance goes"), stationary (at least '
        "the data's next-frame power less the drift prediction's, which keeps each mode's variance through a step) or auto (residual for a "
        f"drift's path score, none for a noise head); default: {DEFAULT_PATH_NOISE}",
    )


def build_score_kind(args: argparse.Namespace, trained: TrainedRun):
    """The score kind of ``--score`` with the increment noise of ``--path-noise``, each checked in one line."""
    kind = choose(SCORE_KINDS, "--score", args.score, "score kind")
    path_noise = choose({name: name for name in PATH_NOISE}, "--path-noise", args.path_noise, "path noise")
    if path_noise == "auto":
        path_noise = "residual" if isinstance(default_score_kind(trained) if kind is None else kind, PathScoreKind) else "model"
    args.path_noise = path_noise  # the provenance records what was used, not "auto"
    calibrations = {"residual": ResidualNoise, "stationary": StationaryNoise}
    return calibrated_score_kind(trained, kind, seed=args.seed, calibration=calibrations[path_noise]) if path_noise in calibrations else kind


def add_sampler_arguments(parser: argparse.ArgumentParser, steps_flag: str, steps_help: str, default: str = DEFAULT_SAMPLER) -> None:
    """--sampler, the steps flag, --grid, --snr, --corrector-steps, --step-size (defaults None: filled by :func:`build_sampler`)."""
    parser.add_argument("--sampler", metavar="NAME", help=f"λ-sampler, from the SAMPLERS registry: {', '.join(SAMPLERS.names())} (default: {default})")
    parser.add_argument(steps_flag, type=int, dest="sampler_steps", metavar="K", help=steps_help)
    parser.set_defaults(sampler_steps_flag=steps_flag)  # so that a schedule too long to hold is refused under its own name
    parser.add_argument(
        "--grid",
        dest="lambda_grid",
        metavar="KIND",
        help=f"λ schedule: {', '.join(LAMBDA_SCHEDULES)} (power: uniform in sqrt(λ); default: power for gpc/gpf/gsde, else uniform)",
    )
    parser.add_argument("--snr", type=float, help="Langevin signal-to-noise κ of pc (PDD B.6: 0.7 for L96, 0.3 for KF; default: 0.7)")
    parser.add_argument("--corrector-steps", type=int, metavar="M", help="Langevin steps per predictor step of pc (default: 3, PDD B.6) and gpc (default: 1)")
    parser.add_argument("--step-size", type=float, metavar="H", help="Langevin time h of gpc's per-mode corrector (default: 3 for a drift's path score, 1 for a denoiser's score)")


def sampler_options_given(args: argparse.Namespace) -> list[str]:
    """The sampler flags set on the command line (for commands where they may not apply)."""
    flags = {
        "sampler": "--sampler",
        "sampler_steps": "--lambda-steps",
        "lambda_grid": "--grid",
        "snr": "--snr",
        "corrector_steps": "--corrector-steps",
        "step_size": "--step-size",
    }
    return [flag for key, flag in flags.items() if getattr(args, key, None) is not None]


def sampler_name(args: argparse.Namespace, default: str = DEFAULT_SAMPLER) -> str:
    """The ``--sampler`` name, checked against the ``SAMPLERS`` registry."""
    name = args.sampler or default
    if name not in SAMPLERS.names():
        raise bad_argument("--sampler", name, "unknown sampler", f"use one of {SAMPLERS.names()}", kind=ConfigError)
    return name


def uses_marginal(name: str) -> bool:
    """Whether the sampler ``name`` is built around the Gaussian marginal of the run's data."""
    return SAMPLERS.get(name).marginal


def build_sampler(args: argparse.Namespace, reference: GaussianMarginal | None = None, default: str = DEFAULT_SAMPLER, *, path_score: bool = False):
    """``(name, sampler)``: the registered recipe of ``--sampler`` built with the options given.

    ``reference``: the Gaussian marginal of the run's data for the paths to sample
    (:func:`~pdd_core.apps.inference.tasks.run_marginal`), which gpc/gpf/gsde are built around;
    ``path_score``: the score sampled is a drift's path score (gpc's default corrector step
    differs). An option the recipe does not read is refused, naming the samplers that do.
    """
    name = sampler_name(args, default)
    recipe = SAMPLERS.get(name)
    if recipe.marginal and reference is None:
        plain = [other for other in SAMPLERS.names() if not SAMPLERS.get(other).marginal]
        raise bad_argument("--sampler", name, "is built around the Gaussian marginal of whole paths, which this command does not sample", f"use one of {plain}")
    for option, flag in OPTION_FLAGS.items():
        value = getattr(args, option, None)
        if value is not None and option not in recipe.options:
            readers = [other for other in SAMPLERS.names() if option in SAMPLERS.get(other).options]
            raise bad_argument(
                flag, value, f"does not apply to {name} (the samplers that read it: {', '.join(readers)})", f"use --sampler {readers[0]}, or drop {flag}"
            )
    options = SamplerOptions(reference, *(getattr(args, option, None) for option in OPTION_FLAGS), path_score=path_score)
    return name, recipe.build(options)


def build_lambda_schedule(args: argparse.Namespace, lam_start: float, lam_end: float, default_steps: int, name: str = DEFAULT_SAMPLER) -> torch.Tensor:
    """The λ schedule of ``--steps``/``--grid``; the Gaussian samplers default to 25 steps on the power grid."""
    gaussian = uses_marginal(name)
    steps = (GAUSSIAN_SAMPLER_STEPS if gaussian else default_steps) if args.sampler_steps is None else args.sampler_steps
    schedule = choose(LAMBDA_SCHEDULES, "--grid", args.lambda_grid or ("power" if gaussian else "uniform"), "λ schedule")
    check_schedule(steps, args.sampler_steps_flag)
    return schedule(lam_start, lam_end, steps)


def add_prior_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prior",
        default="data",
        metavar="KIND",
        help="generation prior at λ_max: data (N(0, C̃²G + Σ̃) of the training data, the default) or noise (N(0, Σ̃), the paper's Algorithm 3)",
    )


def build_prior(args: argparse.Namespace, reference: GaussianMarginal | None) -> GaussianMarginal:
    """The prior named by ``--prior``."""
    if args.prior not in PRIORS:
        raise bad_argument("--prior", args.prior, "unknown prior", f"use one of {list(PRIORS)}", kind=ConfigError)
    return GaussianMarginal() if args.prior == "noise" else reference


def check_count(flag: str, value: int | None, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise bad_argument(flag, value, f"must be an integer >= {minimum}", f"pass {flag} >= {minimum}", kind=ConfigError)


def check_common(args: argparse.Namespace) -> None:
    check_count("--seed", args.seed, 0)
    check_count("--batch-size", args.batch_size)


def generator_for(run: TrainedRun, seed: int) -> torch.Generator:
    """One generator on the run's device for every draw (prior, sampler noise)."""
    return torch.Generator(device=run.device).manual_seed(seed)


def sampler_settings(args: argparse.Namespace, name: str, sampler, lam_schedule: torch.Tensor) -> dict[str, Any]:
    """The sampler, its λ schedule and its cost in score (network) calls, for metrics and provenance."""
    steps = lam_schedule.numel() - 1
    settings: dict[str, Any] = {"sampler": name, "sampler_steps": steps, "network_calls": steps * sampler.evaluations_per_step}
    settings["lambda_grid"] = args.lambda_grid or ("power" if uses_marginal(name) else "uniform")
    settings["lambda_start"], settings["lambda_end"] = float(lam_schedule[0]), float(lam_schedule[-1])
    settings.update(SAMPLERS.get(name).provenance(sampler))
    return settings


@contextlib.contextmanager
def locked_output(args: argparse.Namespace) -> Iterator[Path]:
    """The checked ``--out``, locked against a second writer until the command ends (``FILE.lock``)."""
    out = check_output_path(args.out, args.overwrite)
    with OutputLock.for_file(out):
        yield check_output_path(args.out, args.overwrite)  # another process may have written it meanwhile


def common_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"run_dir": str(Path(args.run_dir).resolve()), "seed": args.seed, "device": args.device, "batch_size": args.batch_size}


def report(out: Path, paths: torch.Tensor, what: str, started: float) -> None:
    shape = "x".join(str(n) for n in paths.shape)
    print(f"{what}: [{shape}] in {time.perf_counter() - started:.1f} s")
    print(f"wrote {out.resolve()} (paths in the 'train' split, standardised units)")


__all__ = [
    "DEFAULT_PATH_NOISE",
    "DEFAULT_SAMPLER",
    "DEFAULT_SAMPLER_STEPS",
    "GAUSSIAN_SAMPLER_STEPS",
    "PAPER_DELTA_LAMBDA",
    "PATH_NOISE",
    "PRIORS",
    "add_common_arguments",
    "add_prior_argument",
    "add_sampler_arguments",
    "add_score_argument",
    "build_lambda_schedule",
    "build_prior",
    "build_sampler",
    "build_score_kind",
    "check_common",
    "check_count",
    "common_settings",
    "generator_for",
    "locked_output",
    "report",
    "sampler_name",
    "sampler_options_given",
    "sampler_settings",
    "uses_marginal",
]
