"""The climate of a `pdd simulate` output against the truth, for rollouts too long to keep every frame.

    python experiments/climate/climate_of_file.py SIM.h5 RUN_DIR [--burn-in FRAMES] [--split train] [--paths 128]

SIM.h5 holds standardised frames every `save_every` steps (its dt); the truth is the run's
training file (split --split), standardised the same way, coarse-grained to the output's λ (with
its noise when the output is a stochastic rollout) and subsampled to the same frame interval, so
that the speed compares increments over the same time. Prints the climate block as JSON.
"""

from __future__ import annotations

import argparse
import json

import h5py
import torch

import solvers  # noqa: F401  (registers the integrators a run's config may name)
from pdd_core.apps.evaluation.rollout_climate import with_noise
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import load_run
from pdd_core.metrics import climate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("simulation")
    parser.add_argument("run")
    parser.add_argument("--burn-in", type=int, default=64, help="saved frames dropped at the start (default: 64)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--paths", type=int, default=128)
    args = parser.parse_args()
    run = load_run(args.run)
    with h5py.File(args.simulation) as file:
        rollout = torch.as_tensor(file["train"][:, args.burn_in :])
        dt, lam = float(file.attrs["dt"]), float(file.attrs.get("lambda", 0.0))
        noisy = json.loads(file.attrs["settings"]).get("noise", False)
    stride = round(dt / run.dt)
    truth = read_paths(run, run.config.data, split=args.split, n=args.paths).u.to(run.dtype)
    truth = with_noise(run, truth, lam, 0) if noisy else (run.scheme.coarse_grain(truth, run.grid, lam) if lam > 0 else truth)
    names = [f"c{c}" for c in range(run.grid.channels)]
    result = climate(rollout, truth[:, ::stride], channel_names=names)
    print(json.dumps({"frames": rollout.shape[1], "paths": rollout.shape[0], "frame_interval": dt, "lambda": lam, "stochastic": noisy, **result}, indent=1))


if __name__ == "__main__":
    main()
