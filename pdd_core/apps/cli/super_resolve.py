"""``pdd super-resolve``: refine coarse paths at λ_from down to λ = 0 (PDD Algorithm 3, Sec. 4.3)."""

from __future__ import annotations

import argparse
import math
import sys
import time

from pdd_core.apps.cli.choices import BOUNDARIES, choose
from pdd_core.apps.cli.inference_options import (
    PAPER_DELTA_LAMBDA,
    add_common_arguments,
    add_sampler_arguments,
    add_score_argument,
    build_lambda_schedule,
    build_sampler,
    build_score_kind,
    check_common,
    check_count,
    common_settings,
    generator_for,
    locked_output,
    report,
    sampler_name,
    sampler_settings,
    uses_marginal,
)
from pdd_core.apps.cli.main import COMMANDS
from pdd_core.apps.cli.request_costs import check_super_resolution
from pdd_core.apps.inference.file_io import read_paths, write_inference_file
from pdd_core.apps.inference.runs import check_lambda, load_run, run_boundary, run_marginal, run_score
from pdd_core.apps.inference.tasks import super_resolve_run
from pdd_core.errors import ConfigError, DataError, bad_argument
from pdd_core.score import PathScore

HELP = "super-resolve coarse paths at λ_from to λ = 0 with a trained run (PDD Algorithm 3)"

EPILOG = """\
Starts the reverse RG flow from the coarse paths of --input at λ_from and integrates down to
the run's λ_min (0 by default): the super-resolution of PDD Sec. 4.3, which refines a
coarse-grained simulation at λ = 0.2. The input is either the output of `pdd simulate` (its λ
is recorded, so --from-lambda may be omitted; its paths are read from the 'train' split) or a
dataset file of λ = 0 data together with --coarse-grain, which first applies C_λ to it (the
noise-free coarse reference of PDD B.5; split test by default). The frames must be the run's
Δt apart (simulate with --save-every 1). The default sampler gpc takes 25 steps on the power
grid (50 score calls); the others default to Δλ = 1e-3 of PDD B.3 (200 steps from λ = 0.2).
Paths refined to λ = 0 are projected onto the training system's state space where it declares
one (Lorenz-96: each block of X's J copies set to its mean), as rollouts are. Outputs are in the
run's standardised space, like the input.

examples:
  pdd simulate runs/l96 --lambda 0.2 --steps 1000 --n 100 --out lr.h5
  pdd super-resolve runs/l96 --input lr.h5 --out sr.h5
  pdd super-resolve runs/l96 --input lr.h5 --sampler pc --steps 200 --snr 0.7 --out sr_paper.h5
  pdd super-resolve runs/l96 --input l96.h5 --split test --from-lambda 0.2 --coarse-grain --out sr_exact.h5
  pdd super-resolve runs/kf --input kf_lr.h5 --steps 50 --out kf_sr.h5
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_common_arguments(parser)
    parser.add_argument("--input", required=True, metavar="FILE.h5", help="coarse paths: a `pdd simulate` output, or λ = 0 data with --coarse-grain")
    parser.add_argument("--split", metavar="SPLIT", help="split of --input (default: train for pdd outputs, test for dataset files)")
    parser.add_argument("--n", type=int, metavar="N", help="super-resolve the first N paths (default: all)")
    parser.add_argument("--from-lambda", type=float, metavar="L", help="λ of the input (default: the λ recorded in a pdd output)")
    parser.add_argument("--coarse-grain", action="store_true", help="coarse-grain λ = 0 input data to --from-lambda first (u = C_λ u0)")
    add_sampler_arguments(parser, "--steps", "number of λ steps (default: 25 for gpc/gpf/gsde, else (λ_from - λ_min) / 1e-3, PDD B.3)")
    add_score_argument(parser)
    parser.add_argument(
        "--boundary",
        default="auto",
        metavar="RULE",
        help=f"t0 rule: {', '.join(BOUNDARIES)} (default: auto = extrapolate for path scores with T >= 3)",
    )


def starting_lambda(args: argparse.Namespace, recorded: float | None) -> float:
    """λ_from from the flag and/or the input file, which must agree."""
    if args.coarse_grain:
        if recorded not in (None, 0.0):
            raise bad_argument("--coarse-grain", True, f"the input is already at λ = {recorded:g}", "drop --coarse-grain", kind=ConfigError)
        if args.from_lambda is None:
            raise bad_argument("--from-lambda", None, "--coarse-grain needs the λ to coarse-grain to", "pass e.g. --from-lambda 0.2", kind=ConfigError)
        return args.from_lambda
    if recorded is None:
        raise bad_argument(
            "--input",
            args.input,
            "is a dataset file of λ = 0 data",
            "pass --coarse-grain --from-lambda L to super-resolve C_λ u0, or a `pdd simulate` output",
            kind=DataError,
        )
    if args.from_lambda is not None and not math.isclose(args.from_lambda, recorded, rel_tol=1e-9, abs_tol=1e-12):
        raise bad_argument(
            "--from-lambda",
            args.from_lambda,
            f"differs from the λ = {recorded:g} recorded in {args.input}",
            "omit --from-lambda",
            kind=ConfigError,
        )
    return recorded


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_common(args)
    check_count("--n", args.n)
    name = sampler_name(args)
    trained = load_run(args.run_dir, device=args.device)
    inputs = read_paths(trained, args.input, args.split, args.n)
    kind, boundary = build_score_kind(args, trained), choose(BOUNDARIES, "--boundary", args.boundary, "boundary rule")
    score = run_score(trained, kind)
    network = trained.config if isinstance(score, PathScore) else None  # a path score keeps the network's activations for its gradient
    check_super_resolution(trained.grid, inputs.u.shape[0], inputs.u.shape[1], args.batch_size, marginal=uses_marginal(name), network=network)  # before the sampler's copies of them
    lam_from = check_lambda(trained, starting_lambda(args, inputs.lam), "--from-lambda")
    lam_end = trained.config.lam_min
    if lam_from <= lam_end:
        raise bad_argument(
            "--from-lambda",
            lam_from,
            f"must exceed the run's lam_min ({lam_end:g}), where refinement ends",
            "pass a coarser λ, e.g. 0.2",
            kind=ConfigError,
        )
    if not math.isclose(inputs.metadata.dt, trained.dt, rel_tol=1e-9):
        raise bad_argument(
            "--input", args.input, f"has frames {inputs.metadata.dt:g} apart, the run's Δt is {trained.dt:g}", "simulate with --save-every 1", kind=DataError
        )
    coarse = trained.scheme.coarse_grain(inputs.u, trained.grid, lam_from) if args.coarse_grain else inputs.u
    lam_schedule = build_lambda_schedule(args, lam_from, lam_end, max(1, round((lam_from - lam_end) / PAPER_DELTA_LAMBDA)), name)
    name, sampler = build_sampler(args, run_marginal(trained, coarse.shape[1]) if uses_marginal(name) else None, path_score=isinstance(score, PathScore))
    rule = run_boundary(boundary, score, coarse.shape[1])
    with locked_output(args) as out:
        if not args.no_progress:
            method = f"{name} ({lam_schedule.numel() - 1} λ steps, {type(score).__name__})"
            print(f"super-resolving {coarse.shape[0]} paths from λ = {lam_from:g} with {method}", file=sys.stderr)
        paths = super_resolve_run(
            trained,
            coarse,
            sampler=sampler,
            lam_schedule=lam_schedule,
            generator=generator_for(trained, args.seed),
            score=kind,
            boundary=boundary,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
        settings = {**common_settings(args), **sampler_settings(args, name, sampler, lam_schedule), "input": args.input, "split": inputs.split, "n": coarse.shape[0]}
        settings.update(from_lambda=lam_from, coarse_grain=args.coarse_grain, score=type(score).__name__, path_noise=args.path_noise, boundary="extrapolate" if rule is not None else "none")
        steps = lam_schedule.numel() - 1
        provenance = {"command": "super-resolve", "lam": lam_end, "sampler": name, "steps": steps, "settings": settings, "seed": args.seed}
        write_inference_file(out, paths, run=trained, dt=trained.dt, overwrite=args.overwrite, **provenance)
        report(out, paths, f"super-resolved {paths.shape[0]} paths from λ = {lam_from:g} with {name}", started)
        return 0


COMMANDS["super-resolve"] = (HELP, add_arguments, run)

__all__ = ["run", "starting_lambda"]
