"""Where generation loses a forced mode's mean: the ensemble mean of the mode along the reverse flow.

    python experiments/variance/mean_by_lambda.py RUN_DIR TRUTH.h5 OUT.json [--paths 8] [--frames 16] [--step-size 1]

The mode is the one whose mean over the truth's paths and frames holds the most power (k ≠ 0; on
the Kolmogorov flow the forcing's k_x = 4). At every λ of gpc's grid (50 network calls) three
ensemble means of that mode, each as a complex ratio to the marginal's mean m_λ = C_λ ū of the run
(docs/results.md, "The data's mean in the marginal"):

* ``truth``: the truth's paths forward-sampled to λ (PDD Eq. 3): about 1 (the check of m_λ);
* ``flow``: one generation from the data prior at λ = 1, saved at every λ: where the ratio falls
  below 1 is where the reverse flow loses the mean;
* ``one_step``: the truth forward-sampled to λ_i and moved one gpc step to λ_(i+1): a ratio below 1
  here is the learned score's own pull at that λ, apart from what earlier steps left.

Also the ratio of each set's power in the mode about its mean to the truth's (``fluctuation``), and
what the drift alone implies (``drift``, on the ``--drift-paths`` first training paths forward-sampled
to λ): the mode's one-step map fitted as F = ρ̂ x + b on the drift's prediction F = x + f_λ Δt, the
fixed point b / (1 - ρ̂) of that chain as a ratio to m_λ, and the same fitted on the data's next
frame (ρ, its fixed point): a drift whose fixed point sits below the data's pulls the mean in.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.runs import load_run, run_boundary, run_marginal, run_score
from pdd_core.drifts.windows import drift_on_path
from pdd_core.sampling import sample_at
from pdd_core.schedules import power_schedule
from pdd_core.spectral import rfft
from solvers import GaussianExponential, GaussianLangevin, PredictorCorrector


def forced_mode(truth_hat: torch.Tensor) -> tuple[int, ...]:
    """Index (channel, *rfft) of the mode whose ensemble mean has the most power, k = 0 left out."""
    power = truth_hat.mean(dim=(0, 1)).abs().pow(2)
    power.reshape(power.shape[0], -1)[:, 0] = 0.0
    return tuple(int(i) for i in torch.unravel_index(power.argmax(), power.shape))


def mode_stats(u: torch.Tensor, run, mode: tuple[int, ...], reference: complex) -> dict[str, float]:
    """Ensemble mean of the mode as a ratio to ``reference`` (|ratio|, phase) and its power about that mean."""
    z = rfft(u.to(torch.float64), run.grid.ndim)[(slice(None), slice(None), *mode)]
    mean = z.mean()
    ratio = complex(mean) / reference
    return {"ratio": abs(ratio), "phase": float(torch.angle(torch.tensor(ratio))), "fluctuation": float((z - mean).abs().pow(2).mean())}


def one_step_fit(x: torch.Tensor, y: torch.Tensor, reference: complex) -> dict[str, float]:
    """y ≈ ρ x + b over paths and frames (complex least squares): ρ and the fixed point b / (1 - ρ) as a ratio to ``reference``."""
    dx, dy = x - x.mean(), y - y.mean()
    rho = complex((dx.conj() * dy).sum() / dx.abs().pow(2).sum())
    b = complex(y.mean()) - rho * complex(x.mean())
    return {"rho": abs(rho), "fixed_point": abs(b / (1 - rho) / reference)}


@torch.no_grad()
def drift_fixed_points(run, paths: ResidualNoise, mode: tuple[int, ...], lam: float, reference: complex) -> dict[str, dict[str, float]]:
    """The mode's one-step map of the drift (F = x + f_λ Δt) and of the data (the next frame) at λ, fitted on ``paths``."""
    u = paths.paths_at(lam)
    step = drift_on_path(run.model, u, torch.full((u.shape[0],), lam, dtype=torch.float64)) * run.dt
    def at(v):
        return rfft(v.to(torch.float64), run.grid.ndim)[(slice(None), slice(None), *mode)]
    x, y, prediction = at(u[:, :-1]), at(u[:, 1:]), at(u[:, :-1] + step)
    return {"drift": one_step_fit(x, prediction, reference), "data": one_step_fit(x, y, reference)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("truth")
    parser.add_argument("out")
    parser.add_argument("--paths", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--step-size", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drift-paths", type=int, default=16)
    args = parser.parse_args()
    run = load_run(args.run)
    truth = read_paths(run, Path(args.truth), split="test", n=args.paths).u[:, : args.frames].to(run.dtype)
    reference = run_marginal(run, args.frames)
    mode = forced_mode(rfft(truth.to(torch.float64), run.grid.ndim))
    score = run_score(run)
    boundary = run_boundary(None, score, args.frames)
    sampler = PredictorCorrector(GaussianExponential(reference), GaussianLangevin(reference, step_size=args.step_size), 1)
    grid_points = power_schedule(1.0, 0.0, 25)
    calibration = ResidualNoise(run, args.truth, paths=args.drift_paths)
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.paths, args.frames, run.grid.channels, *run.grid.shape)
    start = reference.sample(shape, run.scheme, run.grid, 1.0, generator, dtype=run.dtype)
    with torch.no_grad():  # the path score takes its own gradients
        flow = sample_at(score, run.scheme, run.grid, sampler, grid_points, grid_points.tolist(), generator=generator, u_init=start, boundary=boundary)
    rows = []
    for i, lam in enumerate(grid_points.tolist()):
        m = complex(rfft(reference.mean_at(run.scheme, run.grid, lam), run.grid.ndim)[(0, 0, *mode)])
        lam_batch = torch.full((args.paths,), lam, dtype=torch.float64)
        noised = truth if lam == 0.0 else run.scheme.forward_sample(truth, run.grid, lam_batch, generator)
        truth_stats = mode_stats(noised, run, mode, m)
        row = {"lambda": lam, "m_abs": abs(m), "truth": truth_stats, "flow": mode_stats(flow[lam], run, mode, m)}
        row.update(drift_fixed_points(run, calibration, mode, lam, m))
        if i > 0:  # one gpc step from the truth at the previous λ to this one
            previous = grid_points[i - 1 : i + 1]
            start_i = run.scheme.forward_sample(truth, run.grid, torch.full((args.paths,), float(previous[0]), dtype=torch.float64), generator)
            with torch.no_grad():
                stepped = sample_at(score, run.scheme, run.grid, sampler, previous, [lam], generator=generator, u_init=start_i, boundary=boundary)[lam]
            row["one_step"] = mode_stats(stepped, run, mode, m)
        for key in ("flow", "one_step"):
            if key in row:
                row[key]["fluctuation"] /= truth_stats["fluctuation"]
        rows.append(row)
        one = row.get("one_step", {"ratio": float("nan"), "fluctuation": float("nan")})
        print(f"λ={lam:.4f} |m|={abs(m):.3f} truth {truth_stats['ratio']:.2f} flow {row['flow']['ratio']:.2f} (phase {row['flow']['phase']:+.2f}, fluct {row['flow']['fluctuation']:.2f}) one-step {one['ratio']:.2f} (fluct {one['fluctuation']:.2f}) fixed point: drift {row['drift']['fixed_point']:.2f} (ρ̂ {row['drift']['rho']:.3f}), data {row['data']['fixed_point']:.2f} (ρ {row['data']['rho']:.3f})", flush=True)
    Path(args.out).write_text(json.dumps({"run": args.run, "truth": args.truth, "mode": mode, "paths": args.paths, "frames": args.frames, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
