"""λ-sampler benchmark of issue 5: accuracy per score evaluation, and sampler overhead.

1. Exact Gaussian case (the solver comparison to cite): a stationary linear Gaussian field on
   32 points x 8 frames under the L96 scheme (Carosso α = 0.1, β = √2). Every sampler starts
   from exact samples at λ = 1 and integrates to λ = 0; the error is the relative Frobenius
   error of the per-mode time covariance against the exact K_0 (Monte Carlo floor reported).
   Recorded against the number of score evaluations and against wall time; PNG plot.
2. A trained model (``--run RUN_DIR`` of ``pdd train``): the share of sampling time spent
   outside score evaluations (target < 10%) for each sampler at the paper's 1000 steps.

    python benchmarks/samplers.py --json OUT.json --png OUT.png [--run RUN_DIR]
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import os
import time

import torch

from benchmarks.output import emit
from pdd_core import Grid, PathScore, PDDError
from pdd_core.sampling import extrapolate_t0, sample
from pdd_core.schedules import power_grid, uniform_grid
from pdd_core.score import GaussianPathScore
from schemes import Carosso
from solvers import ETDPredictor, ExponentialMultistep, LangevinCorrector, PredictorCorrector, ProbabilityFlowHeun, ReverseEulerMaruyama

GRID = Grid((32,))
FRAMES, DT = 8, 0.05
SCHEME = Carosso(alpha=0.1, beta=2**0.5, zero_mode="keep")


def samplers(snr: float = 0.7) -> dict:
    """Name -> (sampler, λ grid family). ``pc`` is the paper's ETD + 3 Langevin steps (B.6)."""
    return {
        "em": (ReverseEulerMaruyama(), uniform_grid),
        "etd": (ETDPredictor(), uniform_grid),
        "pc": (PredictorCorrector(ETDPredictor(), LangevinCorrector(snr), 3), uniform_grid),
        "pf": (ProbabilityFlowHeun(), power_grid),
        "eab2": (ExponentialMultistep(), power_grid),
    }


def gaussian_score() -> GaussianPathScore:
    rate = 0.05 * GRID.k2() + 0.5
    lags = torch.arange(FRAMES, dtype=torch.float64)
    covariance = (1 / (2 * rate))[..., None, None] * torch.exp(-rate[..., None, None] * (lags[:, None] - lags[None, :]).abs() * DT)
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
    from pdd_core.training.checkpoint import load_trained_model

    model, config, grid, dt = load_trained_model(run_dir)
    from pdd_core.config import from_tagged
    from pdd_core.registry import SCHEMES

    scheme = from_tagged(config.scheme, SCHEMES)
    frames = config.frames or 16
    rows = {}
    for name, (sampler, family) in samplers().items():
        counting = CountingScore(PathScore(model, scheme, grid, dt))
        started = time.perf_counter()
        outcome = "finished"
        try:
            sample(counting, scheme, grid, sampler, family(1.0, 0.0, steps), generator=torch.Generator().manual_seed(3), shape=(batch, frames, grid.channels, *grid.shape), boundary=extrapolate_t0)
        except PDDError as failure:  # the overhead share up to a divergence is still a measurement
            outcome = f"diverged: {failure}"
        total = time.perf_counter() - started
        rows[name] = {"seconds": total, "score_seconds": counting.seconds, "score_evaluations": counting.calls, "outside_score_share": 1 - counting.seconds / total, "outcome": outcome}
    return {"run": run_dir, "steps": steps, "batch": batch, "frames": frames, "target_outside_share": 0.10, "samplers": rows}


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
    parser.add_argument("--json", metavar="OUT.json")
    parser.add_argument("--png", metavar="OUT.png")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {"benchmark": "samplers", "gaussian": gaussian_comparison(args.samples, tuple(args.steps))}
    if args.run:
        results["trained"] = trained_overhead(args.run, args.run_steps, args.run_batch)
    emit(results, args.json)
    if args.png:
        plot(results["gaussian"], args.png)


if __name__ == "__main__":
    main()
