"""Where generation loses variance: per mode and channel, the generated variance against the truth's along λ.

    python experiments/variance/variance_by_lambda.py RUN_DIR TRUTH.h5 OUT.json [--paths 64] [--frames 16] [--samplers gpc50,gpc100,gpc400,gpc50-ungated,pc1000]

Each sampler generates from the run's data prior at λ = 1 and stops at λ_end ∈ {0.5, 0.2, 0.1, 0}.
The target at λ_end is the truth's marginal per mode, C̃_λ² G(k) + Σ̃_λ(k) (PDD Eq. 3), with G the
power spectrum of the truth's paths (standardised with the run's statistics). The ratio
generated/target per channel and wavenumber says at which λ and on which modes the variance goes
missing: a deficit already at λ = 0.5 is born in the prior or the first steps, one that appears
below 0.2 in the drift's small-λ dynamics; gated against ungated isolates the gate; 50 against 400
calls the discretisation. The k = 0 row is the spatial mean (docs/results.md, "Where the variance goes").
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch

from pdd_core import PathScore
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.runs import load_run, run_boundary, run_marginal, run_score
from pdd_core.errors import PDDError
from pdd_core.sampling import sample_at
from pdd_core.schedules import power_schedule, uniform_schedule
from pdd_core.score import data_power
from solvers import ETDPredictor, GaussianExponential, GaussianLangevin, LangevinCorrector, PredictorCorrector

LAMBDA_ENDS = (0.5, 0.2, 0.1, 0.0)


def build(name: str, reference):
    """(sampler, schedule(λ_end), network calls per path): gpcN = gpc with N calls, -ungated without the gate, pcN the paper's pc."""
    match = re.fullmatch(r"(gpc|pc)(\d+)(-ungated|-gate[\d.]+)?(-calibrated)?", name)
    if match is None:
        raise SystemExit(f"--samplers: unknown entry {name!r}; use gpcN or pcN (N network calls), optionally -ungated or -gateG, and -calibrated")
    kind, calls, gate = match.group(1), int(match.group(2)), 1.0 if not match.group(3) else 0.0 if match.group(3) == "-ungated" else float(match.group(3)[5:])
    if kind == "gpc":
        sampler = PredictorCorrector(GaussianExponential(reference, gate=gate), GaussianLangevin(reference, gate=gate), 1)
        return sampler, lambda end: power_schedule(1.0, end, calls // 2), calls
    sampler = PredictorCorrector(ETDPredictor(), LangevinCorrector(snr=0.7), 1)
    return sampler, lambda end: uniform_schedule(1.0, end, calls // 2), calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("truth")
    parser.add_argument("out")
    parser.add_argument("--paths", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--split", default="test")
    parser.add_argument("--samplers", default="gpc50,gpc100,gpc400,gpc50-ungated,pc1000")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = load_run(args.run)
    truth = read_paths(run, Path(args.truth), split=args.split, n=args.paths).u[:, : args.frames]
    power = data_power(truth, run.grid)
    reference = run_marginal(run, args.frames)
    score = run_score(run)
    boundary = run_boundary(None, score, args.frames)
    results = {"run": args.run, "truth": args.truth, "paths": args.paths, "frames": args.frames, "samplers": {}}
    calibrated = None
    for name in args.samplers.split(","):
        sampler, schedule, calls = build(name, reference)
        if name.endswith("-calibrated"):  # the path density with the increment variance its drift leaves on data
            if calibrated is None:
                nodes = power_schedule(1.0, 0.0, 16).flip(0)
                calibrated = PathScore(run.model, run.scheme, run.grid, run.dt, delta_lambda=run.delta_lambda, noise_model=ResidualNoise(run, run.data_path).path_noise(nodes), initial=score.initial)
        active_score = calibrated if name.endswith("-calibrated") else score
        # One integration from λ = 1 to 0 saves every λ_end: the λ_ends are added to the grid.
        grid_points = torch.cat([schedule(0.0), torch.tensor(LAMBDA_ENDS, dtype=torch.float64)]).unique().flip(0)
        entry = results["samplers"][name] = {"calls": calls, "lambda_steps": grid_points.numel() - 1, "by_lambda": {}}
        generator = torch.Generator().manual_seed(args.seed)
        shape = (args.paths, args.frames, run.grid.channels, *run.grid.shape)
        started = time.perf_counter()
        start = reference.sample(shape, run.scheme, run.grid, 1.0, generator, dtype=run.dtype)
        try:
            with torch.no_grad():
                saved = sample_at(active_score, run.scheme, run.grid, sampler, grid_points, LAMBDA_ENDS, generator=generator, u_init=start, boundary=boundary)
        except PDDError as error:  # a sampler that diverges is a result too
            entry["diverged"] = str(error).split(". Fix:")[0]
            print(f"{name:>16} diverged: {entry['diverged']}", flush=True)
            continue
        entry["seconds"] = time.perf_counter() - started
        for end, out in saved.items():
            marginal = run.scheme.marginal(run.grid, torch.tensor([end], dtype=torch.float64))
            target = (marginal.damping.pow(2) * power + marginal.variance).reshape(power.shape)
            # Modes without truth power (L96's X at |k| = 32, 64 at λ = 0) have no ratio.
            ratio = torch.where(target > 1e-8 * target.amax(), data_power(out, run.grid) / target, torch.nan)
            entry["by_lambda"][str(end)] = {"ratio": [[None if v != v else v for v in row] for row in ratio.tolist()]}
            low, high = ratio.nan_to_num(1.0).amin(-1).tolist(), ratio.nan_to_num(1.0).amax(-1).tolist()
            bands = [(1, 4), (4, 16), (16, 32), (32, ratio.shape[-1])]  # median ratio per band of |k|, per channel
            banded = [[round(float(ratio[c, a:b].nanmedian()), 2) for a, b in bands] for c in range(ratio.shape[0])]
            print(f"{name:>20} λ_end={end:<4} min {[round(v, 2) for v in low]} max {[round(v, 2) for v in high]} k=0 {[round(v, 2) for v in ratio[:, 0].tolist()]} medians k∈{bands}: {banded}", flush=True)
    Path(args.out).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
