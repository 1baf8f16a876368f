"""``pdd generate``: unconditional generation of spatiotemporal paths from a trained run (PDD Algorithm 3).

The options it shares with the other inference commands are in :mod:`pdd_core.apps.cli.inference_options`.
"""

from __future__ import annotations

import argparse
import sys
import time

from pdd_core.apps.cli.choices import BOUNDARIES, choose
from pdd_core.apps.cli.inference_options import (
    DEFAULT_SAMPLER_STEPS,
    GAUSSIAN_SAMPLER_STEPS,
    add_common_arguments,
    add_prior_argument,
    add_sampler_arguments,
    add_score_argument,
    build_lambda_schedule,
    build_prior,
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
from pdd_core.apps.cli.request_costs import check_generation
from pdd_core.apps.inference.file_io import write_inference_file
from pdd_core.apps.inference.runs import check_lambda, load_run, run_boundary, run_marginal, run_score
from pdd_core.apps.inference.tasks import generate_run
from pdd_core.errors import bad_argument
from pdd_core.registry import SAMPLERS
from pdd_core.score import PathScore

HELP = "generate paths from a trained run by reverse-λ sampling from the prior (PDD Algorithm 3)"

EPILOG = (
    """\
Draws u(λ_max) from the prior and integrates the reverse RG flow down to the run's λ_min (0 by
default) with the chosen sampler. The default prior (--prior data) is the Gaussian marginal
N(0, C̃²G + Σ̃) of the coarse-grained training data, with G its temporal covariance per mode
(stored in the checkpoint); --prior noise is the paper's N(0, Σ_λmax) per time step, which
leaves the least-forgotten scales too narrow. The default sampler gpc takes 25 steps on the
power grid (50 score calls); --sampler pc --steps 1000 is the paper's. The score follows the run's
objective: the autograd path score of the drift (pdd; --score path for sa-pdd), the noise head
(sa-pdd) or the denoiser (denoising; the DDPM baseline of PDD B.4). For path scores the t0
boundary rule of PDD B.6 (u(t0) <- 2u(t1) - u(t2) after every update) is on by default
(--boundary auto; it needs --frames >= 3). Paths that end at λ = 0 are projected onto the
training system's state space where it declares one (Lorenz-96: each block of X's J copies set to
its mean), as rollouts are. Paths are in the standardised space of the run's
training data; the file records the run's mean/std as source_mean/source_std
(u = u_std * source_std + source_mean). Progress goes to stderr.

samplers (the SAMPLERS registry; a plug-in's registered sampler works here too):
"""
    + "".join(f"  {name:<5} {SAMPLERS.get(name).summary}\n" for name in SAMPLERS.names())
    + """
examples:
  pdd generate runs/l96 --n 100 --frames 64 --out gen.h5
  pdd generate runs/l96 --n 100 --frames 64 --sampler pc --steps 1000 --snr 0.7 --corrector-steps 3 --prior noise --out gen_paper.h5
  pdd generate runs/kf --n 16 --frames 32 --sampler gpc --steps 50 --out gen_more_steps.h5 --seed 1
  pdd generate runs/ddpm --n 100 --frames 64 --out ddpm.h5
"""
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_common_arguments(parser)
    parser.add_argument("--n", type=int, required=True, metavar="N", help="number of paths")
    parser.add_argument("--frames", type=int, required=True, metavar="T", help="frames per path (Δt apart, the run's Δt)")
    add_sampler_arguments(
        parser, "--steps", f"number of λ steps (default: {GAUSSIAN_SAMPLER_STEPS} for gpc/gpf/gsde, {DEFAULT_SAMPLER_STEPS} for the others, PDD B.3)"
    )
    add_prior_argument(parser)
    parser.add_argument("--lambda-max", type=float, metavar="L", help="λ of the prior (default: the run's lam_max, 1 in PDD B.3)")
    add_score_argument(parser)
    parser.add_argument(
        "--boundary",
        default="auto",
        metavar="RULE",
        help=f"t0 rule: {', '.join(BOUNDARIES)} (default: auto = extrapolate for path scores with T >= 3)",
    )


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_common(args)
    check_count("--n", args.n)
    check_count("--frames", args.frames)
    name = sampler_name(args)
    trained = load_run(args.run_dir, device=args.device)
    lam_max = check_lambda(trained, trained.config.lam_max if args.lambda_max is None else args.lambda_max, "--lambda-max")
    lam_end = trained.config.lam_min
    if lam_max <= lam_end:
        raise bad_argument("--lambda-max", lam_max, f"must exceed the run's lam_min ({lam_end:g}), where sampling ends", "pass a larger --lambda-max")
    lam_schedule = build_lambda_schedule(args, lam_max, lam_end, DEFAULT_SAMPLER_STEPS, name)
    kind, boundary = build_score_kind(args, trained), choose(BOUNDARIES, "--boundary", args.boundary, "boundary rule")
    score = run_score(trained, kind)
    network = trained.config if isinstance(score, PathScore) else None  # a path score keeps the network's activations for its gradient
    check_generation(trained.grid, args.n, args.frames, args.batch_size, marginal=uses_marginal(name) or args.prior == "data", network=network)
    rule = run_boundary(boundary, score, args.frames)
    reference = run_marginal(trained, args.frames) if uses_marginal(name) or args.prior == "data" else None
    name, sampler = build_sampler(args, reference, path_score=isinstance(score, PathScore))
    prior = build_prior(args, reference)
    with locked_output(args) as out:
        if not args.no_progress:
            calls = (lam_schedule.numel() - 1) * sampler.evaluations_per_step
            print(
                f"generating {args.n} paths of {args.frames} frames with {name} ({lam_schedule.numel() - 1} λ steps, {calls} score calls, {type(score).__name__}, {args.prior} prior)",
                file=sys.stderr,
            )
        paths = generate_run(
            trained,
            args.n,
            args.frames,
            sampler=sampler,
            lam_schedule=lam_schedule,
            generator=generator_for(trained, args.seed),
            score=kind,
            boundary=boundary,
            prior=prior,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
        settings = {
            **common_settings(args),
            **sampler_settings(args, name, sampler, lam_schedule),
            "n": args.n,
            "frames": args.frames,
            "score": type(score).__name__,
            "path_noise": args.path_noise,
            "boundary": "extrapolate" if rule is not None else "none",
            "prior": args.prior,
        }
        steps = lam_schedule.numel() - 1
        provenance = {"command": "generate", "lam": lam_end, "sampler": name, "steps": steps, "settings": settings, "seed": args.seed}
        write_inference_file(out, paths, run=trained, dt=trained.dt, overwrite=args.overwrite, **provenance)
        report(out, paths, f"generated {args.n} paths with {name}", started)
        return 0


COMMANDS["generate"] = (HELP, add_arguments, run)

__all__ = ["add_arguments", "run"]
