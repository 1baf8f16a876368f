"""Export a pdd dataset file (or a generated/simulated output) in The Well's layout, path by path.

``export_the_well(FILE.h5, DIR)`` writes ``DIR/data/<split>/<name>.hdf5`` for every non-empty
split and ``DIR/stats.yaml`` from the train split (layout: :mod:`pdd_core.apps.datasets.well_layout`),
so that ``the_well.data.WellDataset(path=DIR, well_split_name="train")`` reads it unmodified.
Every channel becomes a scalar (t0) field named after the system's ``channel_names`` (or the
names an import kept); the periodic grid ``[0, L)`` becomes coordinates ``i · L/N`` with a
PERIODIC boundary per axis; frames become ``time = i · Δt``. Lorenz-96 is 1D with fields X
and Y (X repeated over its J points, as pdd stores it); Kolmogorov flow is 2D with vorticity.

Values are physical: an inference output (``values = standardized``) is de-standardised with
its ``source_mean``/``source_std`` (The Well's files and metrics are in physical units). Files
appear atomically and the directory is locked while written.

Each exported split is verified against its checksum first, so damaged data is refused, not
exported. Each field of a split whose checksum matched carries ``pdd_sha256``, the SHA-256 of the
values written (:data:`~pdd_core.apps.datasets.well_layout.PDD_SHA256`); data that was not verified
(``--no-verify``, or a file without checksums) carries none, and an import records no checksum
for it: damage cannot come back with a checksum that reads "ok".
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import attrs
import h5py
import numpy as np
from tqdm.auto import tqdm

from pdd_core.apps.datasets.well_layout import (
    CHANNEL_NAMES,
    FIELD_GROUPS,
    PDD_CONFIG,
    PDD_DT,
    PDD_LENGTH,
    PDD_SHA256,
    PDD_SYMBOL,
    PDD_SYSTEM,
    SPATIAL_NAMES,
    STATS_FILE,
    FieldStatistics,
    path_bytes,
    stats_yaml,
)
from pdd_core.apps.inference.file_io import COMMAND_ATTRIBUTE
from pdd_core.data.hdf5_layout import SPLITS, STORAGE_DTYPE, DatasetMetadata, config_json
from pdd_core.data.hdf5_reader import open_dataset_file, read_failure, read_metadata, verify_split
from pdd_core.errors import DataError, bad_argument
from pdd_core.files import OutputLock, check_parent, write_atomically, write_bytes_atomically, write_errors
from pdd_core.registry import SYSTEMS
from pdd_core.version import __version__


@attrs.frozen
class ExportReport:
    """What an export wrote: the files per split, the field names, the paths per split, and the
    splits whose checksum was verified (their fields carry ``pdd_sha256``)."""

    directory: Path
    files: dict[str, Path]
    fields: tuple[str, ...]
    paths: dict[str, int]
    physical: bool
    verified: tuple[str, ...] = ()


def channel_names(metadata: DatasetMetadata, attributes: h5py.AttributeManager) -> list[str]:
    """Field names of the channels: kept from an import, else the system's ``channel_names``, else ``c0, c1, ...``."""
    channels = metadata.grid.channels
    if CHANNEL_NAMES in attributes:
        names = json.loads(attributes[CHANNEL_NAMES])
    elif metadata.system in SYSTEMS.names():
        names = list(getattr(SYSTEMS.get(metadata.system), "channel_names", ()))
    else:
        names = []
    names = [str(name) for name in names]
    if len(names) != channels or len(set(names)) != channels or any(not name or "/" in name for name in names):
        names = [f"c{channel}" for channel in range(channels)]
    return names


def export_the_well(source: str | os.PathLike, out_dir: str | os.PathLike, *, name: str | None = None, overwrite: bool = False, progress: bool = True) -> ExportReport:
    """Write the Well layout of the dataset (or inference output) file ``source`` into ``out_dir`` (module docstring).

    ``name`` is the file name in each split directory (default: the source's stem). Existing
    output files are replaced only with ``overwrite``.
    """
    source = Path(source)
    metadata = read_metadata(source)
    out = Path(out_dir)
    name = name or source.stem
    if not name or "/" in name or name.startswith("."):
        raise bad_argument("--name", name, "is not a plain file name", "pass e.g. --name l96", kind=DataError)
    splits = [split for split in SPLITS if metadata.splits[split][0] > 0]
    verified = tuple(split for split in splits if verify_split(source, split))  # damaged data is refused before anything is written
    files = {split: out / "data" / split / f"{name}.hdf5" for split in splits}
    targets = [*files.values(), out / STATS_FILE]
    check_parent(out / STATS_FILE, "--out")
    if out.exists() and not out.is_dir():
        raise bad_argument("--out", str(out), "is a file", "pass a directory name such as well/l96", kind=DataError)
    with OutputLock.for_directory(out, "--out"):
        existing = [str(path) for path in targets if path.exists()]
        if existing and not overwrite:
            raise bad_argument("--out", str(out), f"already holds {existing[0]}", "pass --overwrite to replace it, or choose another --out", kind=DataError)
        with open_dataset_file(source) as file:
            fields = channel_names(metadata, file.attrs)
            shift, scale, physical = _to_physical(file.attrs, metadata)
            statistics = {field: FieldStatistics() for field in fields}
            total = sum(metadata.splits[split][0] for split in splits)
            with tqdm(total=total, desc="export", unit="path", disable=not progress) as bar, write_errors(out, "--out"):
                for split, target in files.items():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    collect = statistics if split == "train" else None
                    stamp = split in verified
                    write_atomically(target, lambda temporary: _write_file(temporary, file[split], metadata, fields, shift, scale, file.attrs, collect, stamp, bar))
                write_bytes_atomically(out / STATS_FILE, stats_yaml(statistics).encode())
    return ExportReport(out, files, tuple(fields), {split: metadata.splits[split][0] for split in splits}, physical, verified)


def _to_physical(attributes: h5py.AttributeManager, metadata: DatasetMetadata) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-channel (shift, scale) that map stored values to physical ones, and whether they are physical."""
    ones, zeros = np.ones(metadata.grid.channels), np.zeros(metadata.grid.channels)
    standardized = COMMAND_ATTRIBUTE in attributes and attributes.get("values") == "standardized"
    if not standardized:
        return zeros, ones, True
    if "source_mean" in attributes and "source_std" in attributes:
        return np.asarray(attributes["source_mean"], dtype=np.float64), np.asarray(attributes["source_std"], dtype=np.float64), True
    return zeros, ones, False  # a run whose training file is unknown: only the standardised values exist


def _write_file(
    path: Path,
    split: h5py.Dataset,
    metadata: DatasetMetadata,
    fields: list[str],
    shift: np.ndarray,
    scale: np.ndarray,
    source_attributes: h5py.AttributeManager,
    statistics: dict[str, FieldStatistics] | None,
    stamp: bool,
    bar: tqdm,
) -> None:
    """Write one split as a Well file; ``stamp``: give each field the SHA-256 of its values (verified data only)."""
    grid = metadata.grid
    n_paths, n_frames = split.shape[:2]
    dims = list(SPATIAL_NAMES[: grid.ndim])
    parameters = {key: value for key, value in metadata.config.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
    with h5py.File(path, "w", track_order=True) as file:
        file.attrs["dataset_name"] = metadata.system
        file.attrs["grid_type"] = "cartesian"
        file.attrs["n_spatial_dims"] = np.int64(grid.ndim)
        file.attrs["n_trajectories"] = np.int64(n_paths)
        file.attrs["simulation_parameters"] = list(parameters)
        for key, value in parameters.items():
            file.attrs[key] = value
        file.attrs[PDD_SYSTEM] = metadata.system
        file.attrs[PDD_CONFIG] = config_json(metadata.config)
        file.attrs[PDD_SYMBOL] = grid.symbol
        file.attrs[PDD_DT] = np.float64(metadata.dt)
        file.attrs[PDD_LENGTH] = np.asarray(grid.lengths, dtype=np.float64)
        file.attrs["pdd_version"] = __version__
        if COMMAND_ATTRIBUTE in source_attributes:
            file.attrs["pdd_command"] = source_attributes[COMMAND_ATTRIBUTE]
        _write_dimensions(file, metadata, n_frames, dims)
        scalars = file.create_group("scalars")
        scalars.attrs["field_names"] = list(parameters)
        for key, value in parameters.items():
            _flag(scalars.create_dataset(key, data=np.asarray(value)), sample=False, time=False)
        for group in FIELD_GROUPS:
            file.create_group(group).attrs["field_names"] = fields if group == "t0_fields" else []
        datasets, digests = [], [hashlib.sha256() for _ in fields]
        for field in fields:
            # One chunk per path, as pdd stores its splits: writing and reading a path touches one chunk.
            dataset = file["t0_fields"].create_dataset(field, shape=(n_paths, n_frames, *grid.shape), dtype=STORAGE_DTYPE, chunks=(1, n_frames, *grid.shape))
            _flag(dataset, sample=True, time=True)
            dataset.attrs["dim_varying"] = np.ones(grid.ndim, dtype=bool)
            datasets.append(dataset)
        for index in range(n_paths):
            try:
                path_values = np.asarray(split[index], dtype=np.float64)  # [T, C, *space]
            except OSError as error:
                raise read_failure(split.file.filename, f"{split.name.lstrip('/')}[{index}]", error) from None
            for channel, (field, dataset, digest) in enumerate(zip(fields, datasets, digests)):
                stored = (path_values[:, channel] * scale[channel] + shift[channel]).astype(STORAGE_DTYPE)
                dataset[index] = stored
                digest.update(path_bytes(stored))
                if statistics is not None:
                    statistics[field].add(stored)
            bar.update(1)
        if stamp:
            for dataset, digest in zip(datasets, digests):
                dataset.attrs[PDD_SHA256] = digest.hexdigest()


def _write_dimensions(file: h5py.File, metadata: DatasetMetadata, n_frames: int, dims: list[str]) -> None:
    grid = metadata.grid
    group = file.create_group("dimensions")
    group.attrs["spatial_dims"] = dims
    _flag(group.create_dataset("time", data=(np.arange(n_frames) * metadata.dt).astype(np.float32)), sample=False, time=True)
    boundaries = file.create_group("boundary_conditions")
    for dim, size, length in zip(dims, grid.shape, grid.lengths):
        _flag(group.create_dataset(dim, data=(np.arange(size) * (length / size)).astype(np.float32)), sample=False, time=False)
        boundary = boundaries.create_group(f"{dim}_periodic")
        boundary.attrs["associated_dims"] = [dim]
        boundary.attrs["associated_fields"] = []
        boundary.attrs["bc_type"] = "PERIODIC"
        _flag(boundary, sample=False, time=False)
        mask = np.zeros(size, dtype=bool)
        mask[[0, -1]] = True  # the Well marks both ends of a periodic axis
        boundary.create_dataset("mask", data=mask)


def _flag(obj: Any, *, sample: bool, time: bool) -> None:
    obj.attrs["sample_varying"] = sample
    obj.attrs["time_varying"] = time


__all__ = ["ExportReport", "channel_names", "export_the_well"]
