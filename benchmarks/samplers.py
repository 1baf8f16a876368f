"""λ-sampler benchmark: accuracy per score evaluation, and sampler overhead.

1. Exact Gaussian case (the solver comparison to cite): a stationary linear Gaussian field on
   32 points x 8 frames under the L96 scheme (Carosso α = 0.1, β = √2). Every sampler starts
   from exact samples at λ = 1 and integrates to λ = 0; the error is the relative Frobenius
   error of the per-mode time covariance against the exact K_0 (Monte Carlo floor reported).
   Recorded against the number of score evaluations and against wall time; PNG plot.
2. A trained model (``--run RUN_DIR`` of ``pdd train``): the share of sampling time spent
   outside score evaluations (target < 10%) for each sampler at the paper's 1000 steps.
3. A trained model on its data (``--learned RUN_DIR --data FILE.h5``): the spectral
   error (PDD Eq. 64) of generation and super-resolution from λ = 0.2 against network calls and
   wall time, for the default gpc/gpf/gsde at 10-100 calls and, with ``--paper``, the paper's
   ``pc`` at 1000 steps (1 corrector step) as the reference. Each task draws its inputs from its
   own seeded generator, so every sampler refines the same coarse rollouts.

    python benchmarks/samplers.py --json OUT.json --png OUT.png [--run RUN_DIR]
    python benchmarks/samplers.py --learned RUN_DIR --data FILE.h5 --paper --json OUT.json
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import os
import time

import attrs
import torch

import solvers  # noqa: F401  (registers the named samplers)
from benchmarks.output import emit
from pdd_core import SAMPLERS, Grid, PathScore, PDDError
from pdd_core.sampler_recipe import SamplerOptions
from pdd_core.sampling import extrapolate_t0, sample
from pdd_core.schedules import power_schedule, uniform_schedule
from pdd_core.score import GaussianPathScore
from schemes import Carosso
from systems.linear_field import LinearGaussianField

GRID = Grid((32,))
FRAMES, DT = 8, 0.05
SCHEME = Carosso(alpha=0.1, beta=2**0.5, zero_mode="keep")


def samplers(snr: float = 0.7) -> dict:
    """Name -> (sampler, λ schedule family), built by the ``SAMPLERS`` registry as ``pdd generate`` builds
    them. ``pc`` is the paper's ETD + 3 Langevin steps (B.6)."""
    options = SamplerOptions(snr=snr)
    families = {"em": uniform_schedule, "etd": uniform_schedule, "pc": uniform_schedule, "pf": power_schedule, "eab2": power_schedule}
    return {name: (SAMPLERS.get(name).build(options), family) for name, family in families.items()}


def gaussian_score() -> GaussianPathScore:
    covariance = LinearGaussianField(shape=GRID.shape, nu=0.05, gamma=0.5, s=1.0, dt=DT).path_covariance(FRAMES)  # r = 0.05|k|² + 0.5
    return GaussianPathScore(covariance, SCHEME, GRID)


def covariance_error(u: torch.Tensor, covariance: torch.Tensor) -> float:
    u_hat = torch.fft.rfft(u.to(torch.float64), norm="ortho").movedim(1, -1)[:, 0]
    estimate = torch.einsum("bki,bkj->kij", u_hat, u_hat.conj()).real / u.shape[0]
    return float((estimate - covariance).norm() / covariance.norm())


class CountingScore:
    """Wraps a score and accumulates the number of calls and the seconds spent inside."""

    def __init__(self, score) -> None:
        self.score, self.calls, self.seconds = score, 0, 0.0

    def __call__(self, u, lam):
        start = time.perf_counter()
        result = self.score(u, lam)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return result


def gaussian_comparison(samples: int, step_counts: tuple[int, ...]) -> dict:
    score = gaussian_score()
    start_samples = score.exact_sample(1.0, samples, torch.Generator().manual_seed(0))
    floor = covariance_error(score.exact_sample(0.0, samples, torch.Generator().manual_seed(1)), score.covariance)
    results = {}
    for name, (sampler, family) in samplers(snr=0.05).items():
        rows = []
        for steps in step_counts:
            counting = CountingScore(score)
            started = time.perf_counter()
            try:
                out = sample(counting, SCHEME, GRID, sampler, family(1.0, 0.0, steps), generator=torch.Generator().manual_seed(2), u_init=start_samples)
                error = covariance_error(out, score.covariance)
            except Exception as failure:  # an unstable step count is a result, not a crash
                error = float("nan")
                print(f"{name} at {steps} steps: {failure}")
            rows.append({"steps": steps, "score_evaluations": counting.calls, "seconds": time.perf_counter() - started, "covariance_error": error})
        results[name] = rows
    return {"monte_carlo_floor": floor, "samples": samples, "grid": "32 points x 8 frames", "scheme": "Carosso alpha=0.1 beta=sqrt(2)", "samplers": results}


def trained_overhead(run_dir: str, steps: int, batch: int) -> dict:
    from pdd_core.apps.trainer.checkpoint import load_trained_model

    model, config, grid, dt = load_trained_model(run_dir)
    scheme = config.scheme
    frames = config.frames or 16
    rows = {}
    for name, (sampler, family) in samplers().items():
        counting = CountingScore(PathScore(model, scheme, grid, dt))
        started = time.perf_counter()
        outcome = "finished"
        try:
            with torch.no_grad():
                sample(counting, scheme, grid, sampler, family(1.0, 0.0, steps), generator=torch.Generator().manual_seed(3), shape=(batch, frames, grid.channels, *grid.shape), boundary=extrapolate_t0)
        except PDDError as failure:  # the overhead share up to a divergence is still a measurement
            outcome = f"diverged: {failure}"
        total = time.perf_counter() - started
        rows[name] = {"seconds": total, "score_seconds": counting.seconds, "score_evaluations": counting.calls, "outside_score_share": 1 - counting.seconds / total, "outcome": outcome}
    return {"run": run_dir, "steps": steps, "batch": batch, "frames": frames, "target_outside_share": 0.10, "samplers": rows}


def learned_configs(reference, calls: tuple[int, ...], paper: bool, snr: float) -> list[tuple[str, int, object, object]]:
    """(name, network calls, sampler, λ schedule for a start λ) for the learned-model comparison."""
    options = SamplerOptions(reference=reference, snr=snr)
    rows = []
    for count in calls:
        rows.append(("gpc", count, SAMPLERS.get("gpc").build(options), lambda start, steps=count // 2: power_schedule(start, 0.0, steps)))
        rows.append(("gpf", count, SAMPLERS.get("gpf").build(options), lambda start, steps=count: power_schedule(start, 0.0, steps)))
    if paper:  # PDD B.3/B.6 with one corrector step: 1000 steps per unit λ (200 from λ = 0.2)
        pc = SAMPLERS.get("pc").build(attrs.evolve(options, corrector_steps=1))
        rows.append(("pc", 2000, pc, lambda start: uniform_schedule(start, 0.0, max(int(round(1000 * start)), 10))))
    return rows


def learned_comparison(run_dir: str, data: str, calls: tuple[int, ...], paper: bool, snr: float, n_paths: int, n_generate: int, n_super_resolve: int, out_dir: str) -> dict:
    import schemes  # noqa: F401  (registers the schemes the run names)
    from pdd_core.apps.evaluation.run_metrics import EvaluationSettings, ReverseSampling, evaluate_run
    from pdd_core.apps.inference.runs import load_run, run_marginal
    from pdd_core.data.hdf5_reader import read_metadata
    from solvers import Euler, EulerMaruyama

    run = load_run(run_dir)
    reference = run_marginal(run, read_metadata(data).splits["test"][1])
    settings = EvaluationSettings(lambdas=(0.0,), n_paths=n_paths, keep_segments=max(1, -(-n_super_resolve // n_paths)), n_generate=n_generate, n_super_resolve=n_super_resolve)
    tasks = ("generate",) if not run.objective.trains_drift else ("generate", "super-resolve")
    rows = []
    for name, count, sampler, grid_for in learned_configs(reference, calls, paper, snr):
        row = {"sampler": name, "network_calls": count}
        for task in tasks:
            generator = torch.Generator().manual_seed(0)  # the same coarse inputs for every sampler
            sampling = ReverseSampling(sampler, grid_for, prior=reference)
            started = time.perf_counter()
            metrics = evaluate_run(
                run, data, os.path.join(out_dir, f"{name}_{count}"), tasks=(task,), settings=settings, simulation={"integrator": Euler()},
                sampling=sampling, generator=generator, sr_simulation={"integrator": EulerMaruyama(), "noise": True, "generator": generator}, progress=False,
            )
            key = task.replace("-", "_")
            row[key] = metrics[key].get("spectral_error", metrics[key].get("failed"))
            row[f"{key}_seconds"] = time.perf_counter() - started
            if task == "super-resolve":
                row["low_resolution"] = metrics["low_resolution"]["spectral_error"]
        print(row, flush=True)
        rows.append(row)
    return {"run": run_dir, "data": data, "objective": run.objective.name, "paths": {"reference": n_paths, "generate": n_generate, "super_resolve": n_super_resolve}, "rows": rows}


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in results["samplers"].items():
        evaluations = [row["score_evaluations"] for row in rows]
        errors = [row["covariance_error"] for row in rows]
        axes[0].loglog(evaluations, errors, "o-", label=name)
        axes[1].loglog([row["seconds"] for row in rows], errors, "o-", label=name)
    for axis, label in zip(axes, ("score evaluations", "wall time [s]")):
        axis.axhline(results["monte_carlo_floor"], color="gray", linestyle="--", label="Monte Carlo floor")
        axis.set_xlabel(label)
        axis.set_ylabel("relative covariance error")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    figure.suptitle("Reverse-λ samplers on the exact Gaussian path distribution")
    figure.tight_layout()
    figure.savefig(path + ".tmp.png", dpi=120)
    plt.close(figure)
    os.replace(path + ".tmp.png", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 100, 200, 500, 1000])
    parser.add_argument("--run", help="RUN_DIR of a trained model for the overhead measurement")
    parser.add_argument("--run-steps", type=int, default=1000)
    parser.add_argument("--run-batch", type=int, default=4)
    parser.add_argument("--learned", metavar="RUN_DIR", help="a trained run for the learned-model comparison (with --data)")
    parser.add_argument("--data", metavar="FILE.h5", help="the run's dataset file (test split: reference, initial conditions)")
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 20, 50, 100], help="network-call budgets of the few-step samplers")
    parser.add_argument("--paper", action="store_true", help="also run the paper's pc at 1000 steps (slow: 2000 calls)")
    parser.add_argument("--snr", type=float, default=0.7, help="pc's Langevin snr (PDD B.6: 0.7 for L96, 0.3 for KF)")
    parser.add_argument("--n-paths", type=int, default=8)
    parser.add_argument("--n-generate", type=int, default=8)
    parser.add_argument("--n-super-resolve", type=int, default=4)
    parser.add_argument("--out-dir", default="benchmark_samplers", help="evaluation figures of the learned comparison")
    parser.add_argument("--json", metavar="OUT.json")
    parser.add_argument("--png", metavar="OUT.png")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.learned:
        if not args.data:
            parser.error("--learned needs --data FILE.h5")
        learned = learned_comparison(args.learned, args.data, tuple(args.calls), args.paper, args.snr, args.n_paths, args.n_generate, args.n_super_resolve, args.out_dir)
        emit({"benchmark": "samplers-learned", "learned": learned}, args.json)
        return
    results = {"benchmark": "samplers", "gaussian": gaussian_comparison(args.samples, tuple(args.steps))}
    if args.run:
        results["trained"] = trained_overhead(args.run, args.run_steps, args.run_batch)
    emit(results, args.json)
    if args.png:
        plot(results["gaussian"], args.png)


if __name__ == "__main__":
    main()
