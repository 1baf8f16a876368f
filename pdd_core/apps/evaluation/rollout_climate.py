"""What evaluation measures beside the paper's metrics: the floor of every spectral error and the
climate of long rollouts (docs/results.md, "Rollout climate").

* The **floor** of a spectral error (Eq. 64) is the same metric between two disjoint sets of *true*
  paths of the same sizes; it comes from a pool of true paths of the reference file (the evaluated
  split when it holds enough paths for a disjoint split, else the largest other split), cut to the
  reference's length and coarse-grained to the task's λ.
* The **climate** of a rollout at λ: per-channel mean and std, the speed of the dynamics and the
  time-averaged PSD per shell, against the pool coarse-grained to λ (:func:`pdd_core.metrics.climate`).
* A **long rollout** runs far past the paper's 12 segments and reports the climate of what
  follows the burn-in, the step of any blow-up and any collapse.
"""

from __future__ import annotations

import os
import time
from typing import Any

import attrs
import numpy as np
import torch

from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import TrainedRun
from pdd_core.apps.inference.simulation_settings import SimulationSettings
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.errors import DivergenceError
from pdd_core.metrics import channel_stats, climate, running_statistics, spectral_error_floor

# At most this many true paths are read for floors and climates (a 64-vs-64 floor needs 128).
POOL_PATHS = 256
# Random disjoint splits whose median is the floor.
FLOOR_SPLITS = 20
# The spawn key of the floors' random splits under the evaluation seed.
FLOOR_STREAM = 23


@attrs.frozen(eq=False)
class TruthPool:
    """True paths ``u`` (standardised, the reference's length) from ``split`` of the reference file."""

    u: torch.Tensor
    split: str

    @classmethod
    def read(cls, run: TrainedRun, reference_file: str | os.PathLike, split: str, frames: int, needed: int) -> TruthPool:
        """The evaluated ``split`` when it holds ``needed`` paths, else the largest split of at least ``frames`` frames."""
        splits = read_metadata(reference_file).splits
        usable = {name: shape[0] for name, shape in splits.items() if shape[1] >= frames and shape[0] > 0}
        chosen = split if usable.get(split, 0) >= needed or not usable else max(usable, key=usable.get)
        count = min(splits[chosen][0], POOL_PATHS)
        return cls(read_paths(run, reference_file, split=chosen, n=count, frames=frames).u.to(run.dtype), chosen)

    def at(self, run: TrainedRun, lam: float) -> torch.Tensor:
        """The pool coarse-grained to λ without noise, C_λ u0 (the reference of B.5 at λ > 0)."""
        return run.scheme.coarse_grain(self.u, run.grid, lam) if lam > 0 else self.u

    def noisy_at(self, run: TrainedRun, lam: float, seed: int) -> torch.Tensor:
        """The pool's path law at λ with its coarse-graining noise, C_λ u0 + sqrt(Σ_λ) ε (PDD Eq. 3), drawn with ``seed``."""
        return with_noise(run, self.u, lam, seed)

    def floor(self, run: TrainedRun, lam: float, n_reference: int, n_prediction: int, generator: np.random.Generator, truth: torch.Tensor | None = None) -> dict[str, Any]:
        """The spectral error between disjoint true sets of ``n_reference`` and ``n_prediction`` paths at λ
        (of ``truth``, the pool at λ in one of its forms; default C_λ u0)."""
        available = self.u.shape[0]
        if available < n_reference + n_prediction:
            return {"floor": None, "why": f"the {self.split} split holds {available} paths, fewer than {n_reference} + {n_prediction} for a disjoint split"}
        truth = self.at(run, lam) if truth is None else truth
        result = spectral_error_floor(truth, n_reference, n_prediction, generator=generator, splits=FLOOR_SPLITS)
        return {**result, "split": self.split, "pool_paths": available}


def with_noise(run: TrainedRun, u0: torch.Tensor, lam: float, seed: int) -> torch.Tensor:
    """C_λ u0 + sqrt(Σ_λ) ε (PDD Eq. 3) with the noise drawn from ``seed``; u0 itself at λ = 0."""
    if lam == 0:
        return u0
    lam_t = torch.full((u0.shape[0],), lam, dtype=torch.float64)
    return run.scheme.forward_sample(u0, run.grid, lam_t, torch.Generator(device=u0.device).manual_seed(seed))


def with_floor(entry: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """``entry`` (holding ``spectral_error``) with its floor and the ratio beside it."""
    value = floor.get("floor")
    entry["spectral_error_floor"] = value
    entry["floor_ratio"] = None if value is None else entry["spectral_error"] / value
    entry["floor"] = floor
    return entry


def truth_band(truth: torch.Tensor, paths: int) -> dict[str, list[float]]:
    """Per-channel range of the mean and std over disjoint groups of ``paths`` true paths: the spread
    a rollout's block statistics would have if it were the truth (the band of the running-statistics figure)."""
    groups = max(truth.shape[0] // max(paths, 1), 1)
    stats = [channel_stats(truth[index * paths : (index + 1) * paths]) for index in range(groups)]
    means, stds = np.asarray([s[0] for s in stats]), np.asarray([s[1] for s in stats])
    return {"mean_low": means.min(0).tolist(), "mean_high": means.max(0).tolist(), "std_low": stds.min(0).tolist(), "std_high": stds.max(0).tolist(), "groups": groups}


def long_rollout(
    run: TrainedRun,
    initial: torch.Tensor,
    lam: float,
    steps: int,
    burn_in: int,
    truth: torch.Tensor,
    simulation: SimulationSettings,
    names: list[str],
    progress: bool,
) -> tuple[dict[str, Any], torch.Tensor | None]:
    """Roll ``steps`` steps out at λ and measure the climate of the frames after ``burn_in``.

    Returns the record (``blow_up_step`` None when the rollout stayed in its energy band, ``collapsed``,
    ``climate``, seconds) and the rollout after the initial frames (None when it blew up).
    """
    started = time.perf_counter()
    record: dict[str, Any] = {"lambda": lam, "steps": steps, "burn_in": burn_in, "paths": initial.shape[0]}
    try:
        path = simulate_run(run, initial, lam, steps, progress=progress, **simulation.keywords())
    except DivergenceError as failure:
        record.update(blow_up_step=failure.step, collapsed=None, climate=None, error=str(failure), seconds=round(time.perf_counter() - started, 1))
        return record, None
    rollout = path[:, initial.shape[1] :]
    kept = rollout[:, burn_in:]
    measured = climate(kept, truth, channel_names=names)
    record.update(blow_up_step=None, collapsed=measured["collapsed"], climate=measured, seconds=round(time.perf_counter() - started, 1))
    return record, rollout


def running_climate(rollout: torch.Tensor, block: int) -> dict[str, Any]:
    """The rollout's per-channel mean and std in consecutive blocks of ``block`` frames (for the figure)."""
    starts, means, stds = running_statistics(rollout, block)
    return {"block": block, "start_frames": starts.tolist(), "mean": means.tolist(), "std": stds.tolist()}


def climate_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """The worst per-channel climate numbers of one λ (kept segments, and the long rollout when run)."""
    keys = ("max_abs_mean_offset", "max_std_error", "max_speed_error", "psd_ratio_min", "psd_ratio_max", "collapsed")
    summary = {key: entry["climate"][key] for key in keys}
    stochastic = entry.get("climate_stochastic")
    if stochastic is not None:
        summary["stochastic"] = {key: stochastic.get(key) for key in (*keys, "spectral_error", "spectral_error_floor", "blow_up_step") if key in stochastic}
    for name in ("long_rollout", "long_rollout_stochastic"):
        long = entry.get(name)
        if long is not None:
            summary[name] = {"steps": long["steps"], "blow_up_step": long["blow_up_step"], **({key: long["climate"][key] for key in keys} if long["climate"] else {})}
    return summary


__all__ = ["TruthPool", "climate_summary", "with_noise", "long_rollout", "running_climate", "truth_band", "with_floor"]
