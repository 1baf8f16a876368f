"""The chunk files of a dataset being generated: one finished unit of work each, checksummed,
assembled in a fixed order into the final file (docs/data_format.md)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import attrs
import h5py
import numpy as np

from pdd_core.data.hdf5_layout import (
    SPLITS,
    STORAGE_DTYPE,
    ChannelStatistics,
    DatasetMetadata,
    LayoutWriter,
    create_split,
    split_checksum,
)
from pdd_core.errors import ArgumentError, bad_argument
from pdd_core.files import fsync_file, write_bytes_atomically
from pdd_core.grid import Grid

CHUNK_DATASET = "paths"
CHUNK_CHECKSUM = "sha256"


@attrs.frozen
class Chunk:
    """One unit of work: ``n_paths`` samples of ``split``, the ``index``-th chunk of it."""

    split: str
    index: int
    n_paths: int

    @property
    def file_name(self) -> str:
        return f"{self.split}-{self.index:06d}.h5"



def chunk_checksum(file: h5py.File) -> str:
    """SHA-256 of a chunk file's stored paths and statistics: what must be intact to trust it."""
    digest = hashlib.sha256(split_checksum(file[CHUNK_DATASET]).encode())
    for name in ("count", "mean", "m2"):
        digest.update(np.asarray(file.attrs[name], dtype=np.float64).tobytes())
    return digest.hexdigest()


def chunk_is_complete(path: Path, chunk: Chunk, n_frames: int, grid: Grid) -> bool:
    """Whether ``path`` is this chunk, whole: its shape right and its checksum matching its bytes."""
    if not path.exists():
        return False
    try:
        with h5py.File(path, "r") as file:
            shape_ok = file[CHUNK_DATASET].shape == (chunk.n_paths, n_frames, grid.channels, *grid.shape)
            return shape_ok and file.attrs.get(CHUNK_CHECKSUM) == chunk_checksum(file)
    except (OSError, KeyError, ValueError, TypeError):
        return False


def to_storage(paths: np.ndarray, system_name: str, chunk: Chunk) -> np.ndarray:
    with np.errstate(over="ignore"):  # values beyond the float32 range become inf and are reported below
        stored = paths.astype(STORAGE_DTYPE)
    if not np.isfinite(stored).all():
        raise bad_argument(
            f"{system_name} paths ({chunk.split} chunk {chunk.index})",
            "non-finite values",
            "the integration blew up or left the float32 range",
            "reduce the system's time step or check its parameters",
            kind=ArgumentError,
        )
    return stored


def write_chunk(path: Path, paths: np.ndarray, grid: Grid) -> None:
    """Write one finished chunk with its train statistics and checksum; it appears atomically.

    The HDF5 file is built in memory and written with plain file writes, so a full disk is an
    ordinary OSError rather than a cascade of HDF5 errors.
    """
    statistics = ChannelStatistics.of(paths)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        create_split(file, CHUNK_DATASET, paths.shape[0], paths.shape[1], grid)[...] = paths
        file.attrs["count"] = np.int64(statistics.count)
        file.attrs["mean"] = np.asarray(statistics.mean, dtype=np.float64)
        file.attrs["m2"] = np.asarray(statistics.m2, dtype=np.float64)
        file.attrs[CHUNK_CHECKSUM] = chunk_checksum(file)
    write_bytes_atomically(path, buffer.getbuffer())


def assemble(partial: Path, assembly: Path, chunks: list[Chunk], n_frames: int, base: DatasetMetadata) -> DatasetMetadata:
    """Build the final file from the chunk files in a fixed order, copying compressed chunks verbatim."""
    grid = base.grid
    statistics = ChannelStatistics(0, (), ())
    splits: dict[str, tuple[int, ...]] = {}
    zeros = (0,) * (2 + grid.ndim)
    with h5py.File(assembly, "w") as out:
        layout = LayoutWriter(out, grid, n_frames)
        for split in SPLITS:
            parts = [chunk for chunk in chunks if chunk.split == split]
            dataset = layout.split(split, sum(chunk.n_paths for chunk in parts))
            splits[split] = dataset.shape
            row = 0
            for chunk in parts:
                with h5py.File(partial / chunk.file_name, "r") as source:
                    paths = source[CHUNK_DATASET]
                    for index in range(chunk.n_paths):
                        filter_mask, raw = paths.id.read_direct_chunk((index, *zeros))
                        dataset.id.write_direct_chunk((row, *zeros), raw, filter_mask)
                        row += 1
                    if split == "train":
                        attributes = source.attrs
                        statistics = statistics.merge(
                            ChannelStatistics(int(attributes["count"]), tuple(attributes["mean"].tolist()), tuple(attributes["m2"].tolist()))
                        )
            layout.seal(dataset)
        metadata = attrs.evolve(base, mean=statistics.mean, std=statistics.std, splits=splits)
        layout.finish(metadata)
    fsync_file(assembly)
    return metadata


__all__ = ["CHUNK_CHECKSUM", "CHUNK_DATASET", "Chunk", "assemble", "chunk_checksum", "chunk_is_complete", "to_storage", "write_chunk"]
