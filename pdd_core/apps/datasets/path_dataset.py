"""A ``torch.utils.data.Dataset`` over one split of a dataset file (lazy, multi-worker safe)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from pdd_core.data.hdf5_layout import SPLITS, DatasetMetadata
from pdd_core.data.hdf5_reader import read_failure, read_metadata, verify_split
from pdd_core.errors import ArgumentError, DataError, bad_argument
from pdd_core.grid import Grid


class SampleIndexError(ArgumentError, IndexError):
    """An index outside the split; also an IndexError so ``for u in dataset`` stops at the end."""


class PathDataset(Dataset):
    """Paths of one split as float32 tensors ``[T, C, *space]`` (or ``[window, C, *space]``).

    * Verified: the constructor checks the split against its stored SHA-256
      (:func:`~pdd_core.data.hdf5_reader.verify_split`, once per
      :func:`~pdd_core.data.hdf5_reader.verification` scope).
    * Lazy and multi-worker safe: the constructor only validates the file, verifies the split
      and reads its metadata; the HDF5 handle is opened on first access in each process (a handle
      inherited through ``fork`` is never used, and pickling drops it), so a
      ``DataLoader(num_workers=n)`` works with any start method.
    * Standardised with the stored per-channel statistics of ``train``:
      ``(u - mean[c]) / std[c]`` (PDD A.2); :meth:`destandardize` undoes it.
    * Random sub-windows in time when ``window`` is given: sample ``i`` in epoch ``e`` starts
      at frame ``default_rng(SeedSequence(rng_seed, spawn_key=(e, i))).integers(0, T - window + 1)``.
      The windows are therefore the same in every run and every worker; call
      :meth:`set_epoch` before each epoch to draw new ones (as with ``DistributedSampler``;
      with ``persistent_workers=True`` the workers keep the epoch they started with).
    """

    def __init__(self, path: str | os.PathLike, split: str = "train", window: int | None = None, standardize: bool = True, rng_seed: int = 0) -> None:
        if split not in SPLITS:
            raise bad_argument("split", split, "unknown split", f"use one of {list(SPLITS)}")
        self.path = Path(path)
        self.split = split
        self.metadata: DatasetMetadata = read_metadata(self.path)
        verify_split(self.path, split)
        n_frames = self.metadata.splits[split][1]
        if window is not None and (not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= n_frames):
            raise bad_argument("window", window, f"must be an integer in [1, T={n_frames}]", "pass a shorter window or window=None for whole paths")
        if not isinstance(rng_seed, int) or isinstance(rng_seed, bool) or rng_seed < 0:
            raise bad_argument("rng_seed", rng_seed, "must be an integer >= 0", "pass e.g. rng_seed=0")
        self.window = window
        self.standardize = standardize
        self.rng_seed = rng_seed
        self.epoch = 0
        if standardize and min(self.metadata.std) == 0.0:
            raise bad_argument(
                f"{self.path}:std", self.metadata.std, "a channel is constant on train, so it cannot be standardised", "pass standardize=False", kind=DataError
            )
        shape = (-1,) + (1,) * (self.grid.ndim)
        self._mean = torch.tensor(self.metadata.mean, dtype=torch.float64).reshape(shape)
        self._std = torch.tensor(self.metadata.std, dtype=torch.float64).reshape(shape)
        self._file: h5py.File | None = None
        self._owner_pid: int | None = None

    @property
    def grid(self) -> Grid:
        return self.metadata.grid

    @property
    def dt(self) -> float:
        return self.metadata.dt

    @property
    def n_frames(self) -> int:
        """T of the returned tensors (the window length when windows are drawn)."""
        return self.window if self.window is not None else self.metadata.splits[self.split][1]

    def __len__(self) -> int:
        return self.metadata.splits[self.split][0]

    def set_epoch(self, epoch: int) -> None:
        """Select the random windows of ``epoch`` (see the class docstring)."""
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise bad_argument("epoch", epoch, "must be an integer >= 0", "pass the epoch counter")
        self.epoch = epoch

    def window_start(self, index: int) -> int:
        """First frame of sample ``index``'s window in the current epoch (0 without windows)."""
        if self.window is None:
            return 0
        rng = np.random.default_rng(np.random.SeedSequence(self.rng_seed, spawn_key=(self.epoch, index)))
        return int(rng.integers(0, self.metadata.splits[self.split][1] - self.window + 1))

    def __getitem__(self, index: int) -> torch.Tensor:
        length = len(self)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not -length <= index < length:
            raise bad_argument(
                "index", index, f"out of range for the {self.split} split of {length} paths", f"pass an integer in [0, {length})", kind=SampleIndexError
            )
        index = int(index) % length
        start = self.window_start(index)
        stop = start + self.n_frames
        try:
            values = self._dataset()[index, start:stop]
        except OSError as error:
            raise read_failure(self.path, f"{self.split}[{index}]", error) from None
        u = torch.from_numpy(np.ascontiguousarray(values))
        if self.standardize:
            u = (u.double() - self._mean) / self._std
        return u.float()

    def destandardize(self, u: torch.Tensor) -> torch.Tensor:
        """Map standardised ``[..., C, *space]`` values back to physical units."""
        mean, std = self._mean.to(device=u.device, dtype=u.dtype), self._std.to(device=u.device, dtype=u.dtype)
        return u * std + mean

    def close(self) -> None:
        """Close this process's file handle (it is reopened on the next access)."""
        if self._file is not None and self._owner_pid == os.getpid():
            self._file.close()
        self._file = None

    def _dataset(self) -> h5py.Dataset:
        if self._file is None or self._owner_pid != os.getpid():
            # A handle inherited through fork shares the parent's HDF5 state: drop it unused.
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as error:
                raise bad_argument(
                    "path", str(self.path), f"cannot be opened ({error})", "check the file still exists and is complete", kind=DataError
                ) from None
            self._owner_pid = os.getpid()
        return self._file[self.split]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_owner_pid"] = None
        return state


__all__ = ["PathDataset", "SampleIndexError"]
