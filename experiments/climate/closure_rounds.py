"""How many calibration rounds the climate closure needs: python experiments/climate/closure_rounds.py RUN_DIR --lam 0 --rounds 2 4 6

For each number of rounds, fits :class:`ClimateClosure` at λ on the run's training file (the
library's calibration sizes), then runs a fresh stochastic rollout with it (other noise, 16
paths x 2000 steps after 250) and prints, per channel, the rollout's std and the range over
Fourier modes of its variance against the training data's (modes the data leave empty excluded) (the quantity the closure fits; the
time-averaged PSD ratio of evaluation is the same against the test paths). JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from pdd_core.apps.inference.climate_closure import ClimateClosure, mode_variance
from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.registry import INTEGRATORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--lam", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-response", type=float, default=None, help="ClimateClosure's min_response (default: the library's; 1: the linear rule)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.run_dir)
    residual = ResidualNoise(run, run.data_path, split=run.config.split, seed=args.seed)
    target = mode_variance(residual.paths_at(args.lam), run.grid.ndim)
    for rounds in args.rounds:
        started = time.process_time()
        closure = ClimateClosure(residual, iterations=rounds, **({} if args.min_response is None else {"min_response": args.min_response}))
        sigma, correction = closure(args.lam), closure.correction(args.lam)
        fitted = time.process_time() - started
        with torch.no_grad():
            path = simulate_run(
                run, residual.data[16:32, : run.model.window], args.lam, args.steps, generator=torch.Generator().manual_seed(args.seed + 1000),
                integrator=INTEGRATORS.get("euler-maruyama")(), noise=True, noise_level=lambda _lam: sigma, drift_correction=lambda _lam: correction,
            )
        kept = path[:, run.model.window + 250 :].double()
        ratio = mode_variance(kept, run.grid.ndim) / target
        ratio = torch.where(target > 1e-8 * target.amax(), ratio, torch.nan)  # modes the data leave empty (X's k = N/4, N/2) have no ratio
        channels = {}
        for index, name in enumerate(run.grid.channel_names if hasattr(run.grid, "channel_names") else range(run.grid.channels)):
            channels[str(name)] = {"std": float(kept[:, :, index].std()), "variance_ratio_min": float(ratio[index].nan_to_num(float("inf")).min()), "variance_ratio_max": float(ratio[index].nan_to_num(0.0).max()), "worst_modes": ratio[index].nan_to_num(1.0).reshape(-1).argsort()[[0, 1, -2, -1]].tolist()}
        print(json.dumps({"rounds": rounds, "min_response": closure.plan(args.lam)[1], "kept": closure.rounds[args.lam], "lam": args.lam, "fit_cpu_s": round(fitted, 1), "channels": channels}), flush=True)


if __name__ == "__main__":
    main()
