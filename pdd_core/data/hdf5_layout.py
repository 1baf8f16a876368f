"""The HDF5 dataset layout (format version 1): constants, records and the writer.

One file holds one dataset of paths (docs/data_format.md is the user-facing description):

* datasets ``train``, ``valid``, ``test``: float32 ``[N, T, C, *space]``, chunked by sample
  (one chunk = one path), shuffle + gzip level 1, extensible along N;
* root attributes: ``format_version``, ``system`` (registry name), ``config`` (JSON of the
  system's parameters), ``dt``, ``grid_shape``, ``grid_length``, ``grid_channels``,
  ``grid_symbol``, per-channel ``mean`` and ``std`` of ``train`` (float64), and the optional
  provenance ``seed``, ``preset``, ``chunk_paths``, ``pdd_version``;
* on each split, the attribute ``sha256``: the SHA-256 of its stored (compressed) chunks in row
  order, checked by :func:`pdd_core.data.hdf5_reader.verify_checksums` (``pdd data info``);
  files written before it was added lack it and are read as before.

This module writes the layout; :mod:`pdd_core.data.hdf5_reader` opens and validates it.

Files are written in a fixed order without timestamps, so equal content gives equal bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import attrs
import h5py
import numpy as np

from pdd_core.errors import DataError, bad_argument
from pdd_core.files import write_atomically, write_errors
from pdd_core.grid import Grid

FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "valid", "test")
STORAGE_DTYPE = np.float32
# gzip is readable by every HDF5 tool; on the truth systems' float32 fields level 1 compresses
# as well as level 9 at the same speed, and the byte shuffle filter saves 4-11 % more on
# noisy/smooth fields (linear, Kuramoto-Sivashinsky) while costing 5 % on Lorenz-96
# (measurements in docs/data_format.md).
COMPRESSION = "gzip"
COMPRESSION_LEVEL = 1
SHUFFLE = True
REQUIRED_ATTRIBUTES: tuple[str, ...] = ("format_version", "system", "config", "dt", "grid_shape", "grid_length", "grid_channels", "grid_symbol", "mean", "std")
PROVENANCE_ATTRIBUTES: tuple[str, ...] = ("seed", "preset", "chunk_paths", "pdd_version")
PARTIAL_SUFFIX = ".partial"
CHECKSUM_ATTRIBUTE = "sha256"


@attrs.frozen
class ChannelStatistics:
    """Per-channel count, mean and sum of squared deviations (M2) of float64 values.

    Partial results merge exactly in any fixed order (Chan, Golub & LeVeque's pairwise
    update), so the dataset statistics do not depend on how the data were chunked in time.
    """

    count: int
    mean: tuple[float, ...]
    m2: tuple[float, ...]

    @classmethod
    def of(cls, paths: np.ndarray) -> ChannelStatistics:
        """Statistics of ``paths`` ``[N, T, C, *space]`` over samples, frames and points."""
        values = np.moveaxis(np.asarray(paths, dtype=np.float64), 2, 0).reshape(paths.shape[2], -1)
        mean = values.mean(axis=1)
        m2 = ((values - mean[:, None]) ** 2).sum(axis=1)
        return cls(values.shape[1], tuple(mean.tolist()), tuple(m2.tolist()))

    def merge(self, other: ChannelStatistics) -> ChannelStatistics:
        if self.count == 0:
            return other
        if other.count == 0:
            return self
        count = self.count + other.count
        mean_a, mean_b = np.array(self.mean), np.array(other.mean)
        delta = mean_b - mean_a
        mean = mean_a + delta * (other.count / count)
        m2 = np.array(self.m2) + np.array(other.m2) + delta**2 * (self.count * other.count / count)
        return ChannelStatistics(count, tuple(mean.tolist()), tuple(m2.tolist()))

    @property
    def std(self) -> tuple[float, ...]:
        """Population standard deviation per channel."""
        return tuple(math.sqrt(m2 / self.count) for m2 in self.m2)


@attrs.frozen
class DatasetMetadata:
    """Everything a dataset file says about itself (root attributes plus split shapes).

    ``config`` is the system's parameters as a dict; ``pdd_core.config.from_dict(SYSTEMS.get(
    system), config)`` rebuilds the system. Provenance fields are None when absent.
    """

    system: str
    config: dict[str, Any]
    dt: float
    grid: Grid
    mean: tuple[float, ...]
    std: tuple[float, ...]
    splits: dict[str, tuple[int, ...]]
    format_version: int = FORMAT_VERSION
    seed: int | None = None
    preset: str | None = None
    chunk_paths: int | None = None
    pdd_version: str | None = None

    @property
    def n_frames(self) -> int:
        """T, the number of frames per path (of the train split)."""
        return self.splits["train"][1]


def sample_chunks(n_frames: int, grid: Grid) -> tuple[int, ...]:
    """The HDF5 chunk shape: one whole path ``[1, T, C, *space]``."""
    return (1, n_frames, grid.channels, *grid.shape)


def create_split(file: h5py.Group, name: str, n_paths: int, n_frames: int, grid: Grid) -> h5py.Dataset:
    """Create an empty split dataset with the layout's chunking, compression and no timestamps."""
    chunks = sample_chunks(n_frames, grid)
    return file.create_dataset(
        name,
        shape=(n_paths, *chunks[1:]),
        maxshape=(None, *chunks[1:]),
        dtype=STORAGE_DTYPE,
        chunks=chunks,
        compression=COMPRESSION,
        compression_opts=COMPRESSION_LEVEL,
        shuffle=SHUFFLE,
        track_times=False,
    )


def config_json(config: dict[str, Any]) -> str:
    """Canonical JSON of a system config (sorted keys, exact float repr)."""
    try:
        return json.dumps(config, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise bad_argument(
            "config", config, f"not JSON-serialisable ({error})", "give the system only int/float/str/tuple parameters", kind=DataError
        ) from None


def write_attributes(file: h5py.File, metadata: DatasetMetadata) -> None:
    """Write the root attributes in a fixed order (so equal metadata gives equal bytes)."""
    grid = metadata.grid
    values: dict[str, Any] = {
        "format_version": np.int64(metadata.format_version),
        "system": metadata.system,
        "config": config_json(metadata.config),
        "dt": np.float64(metadata.dt),
        "grid_shape": np.asarray(grid.shape, dtype=np.int64),
        "grid_length": np.asarray(grid.lengths, dtype=np.float64),
        "grid_channels": np.int64(grid.channels),
        "grid_symbol": grid.symbol,
        "mean": np.asarray(metadata.mean, dtype=np.float64),
        "std": np.asarray(metadata.std, dtype=np.float64),
        "seed": None if metadata.seed is None else np.int64(metadata.seed),
        "preset": metadata.preset,
        "chunk_paths": None if metadata.chunk_paths is None else np.int64(metadata.chunk_paths),
        "pdd_version": metadata.pdd_version,
    }
    for key, value in values.items():
        if value is not None:
            file.attrs[key] = value


def split_checksum(dataset: h5py.Dataset) -> str:
    """SHA-256 of a split's stored chunks (filter mask and compressed bytes) in row order.

    It reads no more than the file holds and decompresses nothing, so verifying a file costs one
    read of it; a flipped bit in any path or a truncated chunk changes it.
    """
    digest = hashlib.sha256()
    zeros = (0,) * (dataset.ndim - 1)
    for row in range(dataset.shape[0]):
        filter_mask, raw = dataset.id.read_direct_chunk((row, *zeros))
        digest.update(int(filter_mask).to_bytes(4, "little"))
        digest.update(raw)
    return digest.hexdigest()


@attrs.frozen(eq=False)
class LayoutWriter:
    """The one writer of the layout into an open HDF5 file (``pdd data generate``, ``write_dataset_file``,
    the assembly of generated chunks, The Well's import): each split is created with the layout's
    chunking and compression, filled by the caller, then sealed with its checksum; the root
    attributes come last, in their fixed order."""

    file: h5py.File
    grid: Grid
    n_frames: int

    def split(self, name: str, n_paths: int) -> h5py.Dataset:
        return create_split(self.file, name, n_paths, self.n_frames, self.grid)

    def seal(self, dataset: h5py.Dataset) -> None:
        """Record the checksum of a filled split (:func:`split_checksum`)."""
        dataset.attrs[CHECKSUM_ATTRIBUTE] = split_checksum(dataset)

    def finish(self, metadata: DatasetMetadata, extra_attributes: dict[str, Any] | None = None) -> None:
        write_attributes(self.file, metadata)
        self.file.attrs.update(extra_attributes or {})


def write_dataset_file(
    path: str | os.PathLike,
    splits: dict[str, np.ndarray],
    *,
    system: str,
    config: dict[str, Any],
    dt: float,
    grid: Grid,
    seed: int | None = None,
    preset: str | None = None,
    extra_attributes: dict[str, Any] | None = None,
) -> DatasetMetadata:
    """Write arrays ``{"train": [N, T, C, *space], "valid": ..., "test": ...}`` as a dataset file.

    This is how data from elsewhere becomes a pdd dataset: the mean and std are computed on
    ``train``; ``extra_attributes`` are added to the root (provenance). The file appears
    atomically (:func:`pdd_core.files.write_atomically`), each split with its checksum.
    """
    target = Path(path)
    missing = [name for name in SPLITS if name not in splits]
    if missing or set(splits) - set(SPLITS):
        raise bad_argument(
            "splits", sorted(splits), f"needs exactly the keys {list(SPLITS)}", "pass empty arrays [0, T, C, *space] for unused splits", kind=DataError
        )
    arrays = {name: np.asarray(splits[name]) for name in SPLITS}
    n_frames = arrays["train"].shape[1] if arrays["train"].ndim >= 2 else 0
    for name, array in arrays.items():
        expected = (n_frames, grid.channels, *grid.shape)
        if array.ndim != 3 + grid.ndim or array.shape[1:] != expected:
            raise bad_argument(
                f"splits[{name!r}].shape",
                array.shape,
                f"expected [N, {n_frames}, {grid.channels}, *{grid.shape}] ([N, T, C, *space])",
                "reshape the data or pass the grid that matches it",
                kind=DataError,
            )
        if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
            raise bad_argument(f"splits[{name!r}]", array.dtype, "must be finite floating-point values", "remove NaN/inf and pass float arrays", kind=DataError)
    if arrays["train"].shape[0] == 0:
        raise bad_argument(
            "splits['train'].shape",
            arrays["train"].shape,
            "the train split is empty, so no mean/std can be computed",
            "pass at least one training path",
            kind=DataError,
        )
    stored = {name: array.astype(STORAGE_DTYPE) for name, array in arrays.items()}
    statistics = ChannelStatistics.of(stored["train"])
    metadata = DatasetMetadata(
        system, config, float(dt), grid, statistics.mean, statistics.std, {name: array.shape for name, array in stored.items()}, seed=seed, preset=preset
    )

    def write(temporary: Path) -> None:
        with h5py.File(temporary, "w") as file:
            layout = LayoutWriter(file, grid, n_frames)
            for name in SPLITS:
                dataset = layout.split(name, stored[name].shape[0])
                dataset[...] = stored[name]
                layout.seal(dataset)
            layout.finish(metadata, extra_attributes)

    with write_errors(target):
        write_atomically(target, write)
    return metadata


__all__ = [
    "COMPRESSION",
    "COMPRESSION_LEVEL",
    "FORMAT_VERSION",
    "PARTIAL_SUFFIX",
    "CHECKSUM_ATTRIBUTE",
    "SPLITS",
    "ChannelStatistics",
    "DatasetMetadata",
    "LayoutWriter",
    "create_split",
    "split_checksum",
    "write_attributes",
    "write_dataset_file",
]
