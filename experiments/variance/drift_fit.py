"""How well a run's drift fits, on the training paths and on paths it never saw.

    python experiments/variance/drift_fit.py DATA.h5 RUN_DIR [RUN_DIR ...] [--batches 32] [--paths 16]

Per run, two numbers (docs/results.md, "A medium CPU budget", the Kolmogorov flow):

* the training objective of the sampling (EMA) and raw networks on windows of the ``train`` and
  ``test`` splits of DATA.h5, with the same λ and forward noise for both (``--batches`` batches of
  8 windows of the run's frames): a test loss above the training loss is overfitting;
* the residual variance of the drift, E|r̂(k)|² summed over modes, r = u_{n+1} - u_n - f_λ Δt, against
  the data's variance Σ_k E|û(k)|² at λ = 0, 0.05 and 0.2 (the first ``--paths`` training paths,
  coarse-grained with the residual noise's seed): the share of the variance the drift leaves to
  the path density's increment noise (``--path-noise residual``, the default of generation).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from pdd_core.apps.datasets.path_dataset import PathDataset
from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.trainer.batches import draw_lambda
from pdd_core.apps.trainer.checkpoint import checkpoint_path, load_checkpoint, model_from_record
from pdd_core.apps.trainer.network_view import NetworkView, TrainingNetwork
from pdd_core.spectral import rfft

BATCH = 8
RESIDUAL_LAMBDAS = (0.0, 0.05, 0.2)


@torch.no_grad()
def split_losses(run_dir: str, data: str, batches: int) -> dict[str, float]:
    """Mean training objective per (network, split); the draws of λ, noise and windows are the same for both splits."""
    record = load_checkpoint(checkpoint_path(run_dir))
    losses = {}
    for ema in (True, False):
        network, config, grid, dt = model_from_record(record, ema=ema)
        network.eval()
        objective = config.objective.build(config.scheme, grid, dt)
        view = NetworkView(TrainingNetwork(network, False), config.window)
        for split in ("train", "test"):
            paths = PathDataset(data, split, window=config.frames)
            rows = np.random.default_rng(1)
            values = []
            for batch in range(batches):
                paths.set_epoch(batch)  # the windows' start frames
                u0 = torch.stack([paths[int(i)] for i in rows.choice(len(paths), BATCH, replace=len(paths) < BATCH)]).to(torch.float32)
                lam = draw_lambda(BATCH, torch.Generator().manual_seed(100 + batch), config.lam_min, config.lam_max, config.lam_power)
                corrupted = objective.corrupt(u0, lam, torch.Generator().manual_seed(200 + batch))
                values.append(float(objective.loss(view, corrupted, lam)))
            losses[f"{'ema' if ema else 'raw'}_{split}"] = float(np.mean(values))
    return losses


def residual_shares(run_dir: str, data: str, paths: int) -> dict[str, float]:
    """Σ_k (residual variance) / Σ_k (data variance) of the drift at each λ of RESIDUAL_LAMBDAS."""
    run = load_run(run_dir)
    residual = ResidualNoise(run, data, paths=paths)
    shares = {}
    for lam in RESIDUAL_LAMBDAS:
        increments = residual(lam)[0].double().pow(2) * run.dt
        variance = rfft(residual.paths_at(lam).double(), run.grid.ndim).abs().pow(2).mean(dim=(0, 1))
        shares[f"lambda {lam:g}"] = float(increments.sum() / variance.sum())
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--batches", type=int, default=32)
    parser.add_argument("--paths", type=int, default=16)
    args = parser.parse_args()
    for run_dir in args.runs:
        result = {"run": run_dir, "loss": split_losses(run_dir, args.data, args.batches), "residual_share": residual_shares(run_dir, args.data, args.paths)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
