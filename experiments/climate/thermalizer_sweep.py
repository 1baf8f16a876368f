"""Choose the thermalizer's settings by measurement: the climate of long rollouts of trained runs,
thermalized with several (every, push, steps), against the same rollouts without it.

    python experiments/climate/thermalizer_sweep.py RUN_DIR [RUN_DIR ...] --out sweep.json
        [--lambdas 0,0.2] [--steps 2000] [--settings 20:0.05:10,20:0.2:10,100:0.2:10]

Per run and λ: the first --n test paths of the run's training file, coarse-grained to λ, rolled
out deterministically (σ = 0, the evaluation setting) for --steps steps; the climate
(pdd_core.metrics.climate) of the frames after the burn-in against the training split at λ, the L2
error at step 6 (the short-term skill), and the network calls the thermalizer added.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import solvers  # noqa: F401  (registers the samplers and integrators)
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import load_run, run_marginal
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.files import write_bytes_atomically
from pdd_core.metrics import climate, relative_l2_error
from pdd_core.registry import INTEGRATORS, SAMPLERS
from pdd_core.sampler_recipe import SamplerOptions
from pdd_core.thermalizer import Thermalizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--lambdas", default="0,0.2")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--burn-in", type=int, default=640)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--settings", default="20:0.05:10,20:0.2:10,100:0.2:10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sampler", default="gpc", help="λ-sampler of the pull-back (gpc, etd, ...)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = [None] + [tuple(float(x) for x in part.split(":")) for part in args.settings.split(",")]
    results = []
    for run_dir in args.runs:
        run = load_run(run_dir)
        test = read_paths(run, run.config.data, split="test", n=args.n).u.to(run.dtype)
        pool = read_paths(run, run.config.data, split="train", n=128, frames=test.shape[1]).u.to(run.dtype)
        window = run.model.window
        sampler = SAMPLERS.get(args.sampler).build(SamplerOptions(run_marginal(run, window)))
        for lam in (float(x) for x in args.lambdas.split(",")):
            truth = run.scheme.coarse_grain(pool, run.grid, lam) if lam > 0 else pool
            target = run.scheme.coarse_grain(test, run.grid, lam) if lam > 0 else test
            for setting in settings:
                thermalizer = None if setting is None else Thermalizer(every=int(setting[0]), push=setting[1], steps=int(setting[2]), sampler=sampler)
                generator = torch.Generator().manual_seed(args.seed)
                started = time.perf_counter()
                row = {"run": run_dir, "sampler": args.sampler, "lambda": lam, "every": None if setting is None else int(setting[0]), "push": None if setting is None else setting[1], "sampler_steps": None if setting is None else int(setting[2])}
                try:
                    path = simulate_run(run, test[:, :window], lam, args.steps, integrator=INTEGRATORS.get("euler")(), generator=generator, thermalizer=thermalizer)
                except Exception as failure:  # noqa: BLE001  (a blow-up is a result of the sweep)
                    row.update(failed=str(failure)[:300], blow_up_step=getattr(failure, "step", None))
                    results.append(row)
                    print(json.dumps(row), flush=True)
                    continue
                rollout = path[:, window:]
                measured = climate(rollout[:, args.burn_in :], truth)
                l2 = relative_l2_error(target[:, window:], path[:, window : test.shape[1]])
                calls = 0 if thermalizer is None else (args.steps // thermalizer.every) * thermalizer.network_calls
                row.update(
                    seconds=round(time.perf_counter() - started, 1),
                    l2_step6=float(l2[5]),
                    network_calls_per_path_step=calls / args.steps,
                    **{key: measured[key] for key in ("max_abs_mean_offset", "max_std_error", "max_speed_error", "psd_ratio_min", "psd_ratio_max", "collapsed")},
                    channels={name: {k: v for k, v in c.items() if k in ("mean_offset", "std_ratio", "speed_ratio", "psd_ratio_min", "psd_ratio_max")} for name, c in measured["channels"].items()},
                )
                results.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "channels"}), flush=True)
                write_bytes_atomically(args.out, (json.dumps(results, indent=1) + "\n").encode())
    write_bytes_atomically(args.out, (json.dumps(results, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
