"""The batches of a training run: every random draw of step s is a function of (seed, s) alone.

* the global batch of path indices: ``numpy.random.default_rng(SeedSequence((seed, INDICES), spawn_key=(s,)))``,
  ``choice(N, batch_size, replace=False)``, of which rank r reads only its rows;
* λ ~ U(lam_min, lam_max) per sample (PDD Alg. 1, line 3) from a CPU generator keyed by (seed, LAMBDAS, s);
* the random sub-path of each sample (``frames``): ``PathDataset`` windows of epoch s.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pdd_core.apps.trainer import distributed
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.training.config import TrainConfig
from pdd_core.training.objectives import sample_lambda

# Stream tags of the per-step seeds: independent streams for each kind of draw.
INDICES, LAMBDAS, NOISE, WINDOWS = 1, 2, 3, 4
def stream_seed(seed: int, stream: int, step: int) -> int:
    """A 64-bit seed for draw ``stream`` of step ``step``: ``SeedSequence((seed, stream), spawn_key=(step,))``."""
    return int(np.random.SeedSequence((seed, stream), spawn_key=(step,)).generate_state(1, np.uint64)[0])


def global_indices(seed: int, step: int, n_paths: int, batch: int) -> np.ndarray:
    """The path indices of step ``step``'s global batch (distinct, in draw order)."""
    rng = np.random.default_rng(np.random.SeedSequence((seed, INDICES), spawn_key=(step,)))
    return rng.choice(n_paths, size=batch, replace=False)


def draw_lambda(batch: int, generator: torch.Generator, lam_min: float, lam_max: float, power: float = 1.0) -> torch.Tensor:
    """λ per sample, float64 ``[B]``: lam_min + (lam_max - lam_min)·u^power with u ~ U(0, 1), or the fixed value when they are equal."""
    if lam_min == lam_max:
        return torch.full((batch,), float(lam_min), dtype=torch.float64)
    if power == 1.0:
        return sample_lambda(batch, generator, lam_min, lam_max)
    return lam_min + (lam_max - lam_min) * sample_lambda(batch, generator).pow(power)


class StepSamples(Dataset):
    """Item ``(step, index)`` -> path ``index`` as drawn at ``step`` (its sub-path window, if any)."""

    def __init__(self, data):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        step, index = key
        if hasattr(self.data, "set_epoch"):
            self.data.set_epoch(step)
        return self.data[index]


def step_rows(config: TrainConfig, context: distributed.Context, n_paths: int, first_step: int) -> Iterator[list[tuple[int, int]]]:
    """For steps first_step..config.steps: this rank's ``(step, index)`` keys of the global batch."""
    rows = context.rows(config.batch_size)
    for step in range(first_step, config.steps + 1):
        yield [(step, int(index)) for index in global_indices(config.seed, step, n_paths, config.batch_size)[rows]]


def batches(data, config: TrainConfig, context: distributed.Context, first_step: int) -> Iterator[torch.Tensor]:
    """This rank's rows ``[n_r, T, C, *space]`` of every step's global batch, in step order."""
    keys = step_rows(config, context, len(data), first_step)
    if config.num_workers == 0:
        samples = StepSamples(data)
        for step_keys in keys:
            yield torch.stack([samples[key] for key in step_keys])
        return
    # The loader prefetches the next steps' rows in worker processes while this step trains.
    yield from DataLoader(StepSamples(data), batch_sampler=keys, num_workers=config.num_workers)


def whole_paths(data):
    """The training split with whole paths instead of random windows (a ``PathDataset``), else ``data`` itself."""
    from pdd_core.apps.datasets.path_dataset import PathDataset

    if isinstance(data, PathDataset) and data.window is not None:
        return PathDataset(data.path, data.split)
    return data


def open_data(config: TrainConfig):
    """The dataset file of the config as a ``PathDataset`` (standardised, PDD A.2)."""
    from pdd_core.apps.datasets.path_dataset import PathDataset
    from pdd_core.data.hdf5_reader import read_metadata

    if config.data is None:
        raise bad_argument("data", None, "no training data", "set data = 'FILE.h5' in the config (or --data FILE.h5)", kind=ConfigError)
    stored_frames = read_metadata(config.data).splits[config.split][1]
    if config.frames is not None and config.frames > stored_frames:
        raise bad_argument(
            "frames",
            config.frames,
            f"exceeds the T={stored_frames} frames of the paths in {config.data}",
            f"use frames <= {stored_frames}, or leave it unset for whole paths",
            kind=ConfigError,
        )
    window_seed = int(np.random.SeedSequence((config.seed, WINDOWS)).generate_state(1, np.uint32)[0])
    return PathDataset(config.data, config.split, window=config.frames, rng_seed=window_seed)


__all__ = ["INDICES", "LAMBDAS", "NOISE", "WINDOWS", "StepSamples", "batches", "draw_lambda", "global_indices", "open_data", "step_rows", "stream_seed", "whole_paths"]
