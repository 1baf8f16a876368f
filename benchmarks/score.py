"""Path-score benchmark (PDD B.7): the cost of a score against one drift forward.

For the ``paper`` 1D U-Net on Lorenz-96-shaped paths (B = 8, T = 64, C = 2, 128 points):

* ``PathScore`` (one forward + one backward over all T-1 windows) / one drift forward over the
  same windows, target <= 3.0;
* the SA-PDD score (noise head, no autograd) / the same forward;
* peak memory of a ``PathScore`` call as T grows (each T in a fresh child process; the
  target is linear growth in T);
* PDD training steps per second on the same shapes (batch 8);
* the cost of the linear part (the default of new runs): forward, path score and training step
  with it against without it.

Single-threaded, medians of ``--repeats``; ratios are taken within the same run.

    python benchmarks/score.py --json OUT.json [--preset paper|small] [--repeats 3]
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import os
import subprocess

import torch

from benchmarks.output import emit
from benchmarks.timing import median_seconds
from pdd_core import Grid, PathScore, SAPDDScore
from pdd_core.drifts import UNet, drift_on_path, drift_preset
from pdd_core.training import PDDObjective, sample_lambda
from schemes import Carosso

GRID = Grid((128,), channels=2)
SCHEME = Carosso(alpha=0.1, beta=2**0.5)  # PDD B.3, Lorenz-96
DT = 0.05

MEMORY_CHILD = """
import sys, torch
torch.set_num_threads(1)
from benchmarks.score import DT, GRID, SCHEME, build, paths, resident_peak_kib
from pdd_core import PathScore
preset, frames = sys.argv[1], int(sys.argv[2])
network = build(preset, noise_head=False)
u, lam = paths(frames)
with open("/proc/self/clear_refs", "w") as handle:  # reset the high-water mark VmHWM
    handle.write("5")
before = resident_peak_kib()
PathScore(network, SCHEME, GRID, DT)(u, lam)
print(resident_peak_kib() - before)
"""


def resident_peak_kib() -> int:
    """VmHWM of this process in KiB (Linux)."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM"))


def build(preset: str, noise_head: bool, linear_part: bool = False) -> UNet:
    torch.manual_seed(0)
    network = UNet(channels=2, window=5, noise_head=noise_head, linear_part=linear_part, **drift_preset("unet", 1, preset))
    # Untrained heads start at zero; perturb every parameter so the timings see real numbers.
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(1e-2 * torch.randn_like(parameter))
    return network.eval()


def paths(frames: int, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, frames, 2, 128, generator=generator), torch.rand(batch, generator=generator, dtype=torch.float64)


def score_ratios(preset: str, repeats: int) -> dict:
    drift, both = build(preset, noise_head=False), build(preset, noise_head=True)
    u, lam = paths(64)
    with torch.no_grad():
        forward = median_seconds(lambda: drift_on_path(drift, u, lam), repeats)
    path_score = median_seconds(lambda: PathScore(drift, SCHEME, GRID, DT)(u, lam), repeats)
    with torch.no_grad():
        sa_pdd = median_seconds(lambda: SAPDDScore(both, SCHEME, GRID)(u, lam), repeats)
    return {
        "drift_forward_seconds": forward,
        "path_score_seconds": path_score,
        "sa_pdd_score_seconds": sa_pdd,
        "path_score_over_forward": path_score / forward,
        "sa_pdd_over_forward": sa_pdd / forward,
        "target_path_score_over_forward": 3.0,
        "met": path_score / forward <= 3.0,
        "note": "SA-PDD evaluates the network on all T windows (one more than the drift's T-1)",
    }


def memory_growth(preset: str, frames_list: tuple[int, ...]) -> dict:
    root = str(pathlib.Path(__file__).resolve().parents[1])
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    peaks = {}
    for frames in frames_list:
        result = subprocess.run([sys.executable, "-c", MEMORY_CHILD, preset, str(frames)], capture_output=True, text=True, env=environment, check=True)
        peaks[frames] = int(result.stdout.split()[-1]) * 1024
    slopes = [(peaks[b] - peaks[a]) / (b - a) for a, b in zip(frames_list, frames_list[1:])]
    return {
        "frames": list(frames_list),
        "peak_rss_increase_bytes": [peaks[f] for f in frames_list],
        "bytes_per_frame_between_sizes": slopes,
        "slope_spread": max(slopes) / min(slopes) if min(slopes) > 0 else None,
        "note": "linear in T means a constant bytes-per-frame slope",
    }


def training_speed(preset: str, repeats: int, linear_part: bool = False) -> dict:
    drift = build(preset, noise_head=False, linear_part=linear_part).train()
    optimizer = torch.optim.Adam(drift.parameters(), lr=2e-4)
    objective = PDDObjective(SCHEME, GRID, DT)
    u, _ = paths(64)
    generator = torch.Generator().manual_seed(2)

    def step() -> None:
        lam = sample_lambda(u.shape[0], generator)
        loss = objective.loss(drift, objective.corrupt(u, lam, generator), lam)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    seconds = median_seconds(step, repeats)
    return {"seconds_per_step": seconds, "steps_per_second": 1.0 / seconds, "batch": u.shape[0], "frames": u.shape[1]}


def linear_part_cost(preset: str, repeats: int) -> dict:
    """The drift forward, the path score and a training step with the linear part against without it (the default of new runs)."""
    u, lam = paths(64)
    timings = {}
    for linear_part in (False, True):
        drift = build(preset, noise_head=False, linear_part=linear_part)
        with torch.no_grad():
            forward = median_seconds(lambda: drift_on_path(drift, u, lam), repeats)
        score = median_seconds(lambda: PathScore(drift, SCHEME, GRID, DT)(u, lam), repeats)
        step = training_speed(preset, repeats, linear_part)["seconds_per_step"]
        timings[linear_part] = (forward, score, step)
    (forward, score, step), (forward_l, score_l, step_l) = timings[False], timings[True]
    return {"forward_ratio": forward_l / forward, "path_score_ratio": score_l / score, "training_step_ratio": step_l / step, "note": "with / without the linear part, same run"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", choices=("paper", "small", "tiny"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="OUT.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {
        "benchmark": "score",
        "model": f"UNet 1D preset={args.preset}, W=5, B=8, T=64, C=2, N=128, single thread",
        "scores": score_ratios(args.preset, args.repeats),
        "memory": memory_growth(args.preset, (8, 16, 32, 64)),
        "training": training_speed(args.preset, args.repeats),
        "linear_part": linear_part_cost(args.preset, args.repeats),
    }
    emit(results, args.json)


if __name__ == "__main__":
    main()
