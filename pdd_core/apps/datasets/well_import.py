"""Import The Well's HDF5 files into a pdd dataset file, trajectory by trajectory.

``import_the_well(paths, FILE.h5)`` reads Well files (layout: :mod:`pdd_core.apps.datasets.well_layout`)
and writes pdd's layout (docs/data_format.md): each time-varying, sample-varying field becomes
channels (a t0 field one, a t1 field d, a t2 field d², named as the_well flattens them), the
coordinates become ``Grid(shape, length = N · spacing)``, the time coordinates ``dt``, and the
root attribute ``simulation_parameters`` the config. A PATH that is a Well dataset directory
(``ROOT/data/{train,valid,test}/``) gives its splits; any other file or directory of files
goes to ``split``. Files of one dataset are concatenated in sorted order, as ``WellDataset``
reads them.

pdd models periodic Cartesian grids, so an axis without a PERIODIC boundary (WALL, OPEN, or
none: the_well reads a missing one as open), a non-uniform or sample-varying coordinate, a
non-uniform time grid or a ``grid_type`` other than ``cartesian`` is refused with the reason;
constant fields and scalars have no place in a path and are reported as not imported. Only one
trajectory is in memory at a time; the output appears atomically, locked while written.

Checksums: a field pdd exported from verified data carries ``pdd_sha256``
(:data:`~pdd_core.apps.datasets.well_layout.PDD_SHA256`), checked here as the values are read (a
mismatch is refused). A split gets a fresh ``sha256`` only when every file of it is either foreign
(The Well's own files carry no checksum) or a pdd export whose fields all matched theirs; a pdd
export written without verification (``--no-verify``) gives a split without one, so damaged data
never comes back with a checksum that reads "ok".
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
    FILE_SUFFIXES,
    PDD_CONFIG,
    PDD_DT,
    PDD_LENGTH,
    PDD_SHA256,
    PDD_SYMBOL,
    PDD_SYSTEM,
    WELL_SPLITS,
    component_names,
    path_bytes,
)
from pdd_core.data.hdf5_layout import (
    SPLITS,
    STORAGE_DTYPE,
    ChannelStatistics,
    DatasetMetadata,
    LayoutWriter,
)
from pdd_core.data.hdf5_reader import read_failure
from pdd_core.errors import DataError, bad_argument
from pdd_core.files import OutputLock, check_output_file, write_atomically, write_errors
from pdd_core.grid import Grid
from pdd_core.version import __version__

# Relative tolerance on equal spacings: coordinates are float32, so i · Δx carries ~1e-7 relative rounding.
SPACING_RTOL = 1e-4


@attrs.frozen
class WellField:
    """One imported field: its group and name, tensor order, channel names and broadcast axes."""

    group: str
    name: str
    order: int
    channels: tuple[str, ...]
    dim_varying: tuple[bool, ...]


@attrs.frozen
class WellFile:
    """What pdd needs from one Well file's header, checked.

    ``checksums``: each imported field's ``pdd_sha256`` (None without one); ``from_pdd``: the file
    is a pdd export (whose fields carry checksums when the exported data was verified).
    """

    path: Path
    dataset_name: str
    n_trajectories: int
    n_frames: int
    dt: float
    shape: tuple[int, ...]
    lengths: tuple[float, ...]
    fields: tuple[WellField, ...]
    skipped: tuple[str, ...]
    config: dict[str, Any]
    system: str
    symbol: str | None
    checksums: tuple[str | None, ...] = ()
    from_pdd: bool = False

    def layout(self) -> tuple:
        """What must agree between the files of one dataset."""
        return (self.shape, self.n_frames, tuple(field.channels for field in self.fields))


@attrs.frozen
class ImportReport:
    """What an import wrote; ``unverified``: splits stored without a checksum (from unverified pdd exports)."""

    path: Path
    metadata: DatasetMetadata
    channels: tuple[str, ...]
    skipped: tuple[str, ...]
    files: dict[str, tuple[Path, ...]]
    unverified: tuple[str, ...] = ()


def import_the_well(
    paths: list[str | os.PathLike],
    out_path: str | os.PathLike,
    *,
    split: str = "train",
    fields: list[str] | None = None,
    symbol: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ImportReport:
    """Write the Well files under ``paths`` as the pdd dataset ``out_path`` (module docstring).

    ``fields``: names of the Well fields to import (default: every time-varying one).
    ``symbol``: the grid's Laplacian symbol (default: the one a pdd export recorded, else
    ``continuous``).
    """
    if split not in SPLITS:
        raise bad_argument("--split", split, "unknown split", f"use one of {', '.join(SPLITS)}", kind=DataError)
    sources = _sources(paths, split)
    headers = {name: tuple(_read_header(path, fields) for path in files) for name, files in sources.items()}
    first = headers["train"][0]
    for header in (header for group in headers.values() for header in group):
        if header.layout() != first.layout() or not np.allclose((header.dt, *header.lengths), (first.dt, *first.lengths), rtol=SPACING_RTOL):
            raise bad_argument(
                "PATH",
                str(header.path),
                f"differs from {first.path} (grid {header.shape} vs {first.shape}, frames {header.n_frames} vs {first.n_frames}, dt, lengths or fields)",
                "import the files of one dataset at a time",
                kind=DataError,
            )
    channels = tuple(channel for field in first.fields for channel in field.channels)
    grid = Grid(first.shape, length=first.lengths, channels=len(channels), symbol=symbol or first.symbol or "continuous")
    target = Path(out_path)
    check_output_file(target, overwrite, "--out", "well.h5")
    counts = {name: sum(header.n_trajectories for header in headers.get(name, ())) for name in SPLITS}
    with OutputLock.for_file(target, "--out"), write_errors(target, "--out"):
        check_output_file(target, overwrite, "--out", "well.h5")
        target.parent.mkdir(parents=True, exist_ok=True)
        metadata, unverified = None, []

        def write(temporary: Path) -> None:
            nonlocal metadata
            statistics = ChannelStatistics(0, (0.0,) * grid.channels, (0.0,) * grid.channels)
            with h5py.File(temporary, "w") as out, tqdm(total=sum(counts.values()), desc="import", unit="path", disable=not progress) as bar:
                layout = LayoutWriter(out, grid, first.n_frames)
                for name in SPLITS:
                    dataset = layout.split(name, counts[name])
                    row, verified = 0, True
                    for header in headers.get(name, ()):
                        digests = [hashlib.sha256() for _ in header.fields]
                        with h5py.File(header.path, "r") as file:
                            for index in range(header.n_trajectories):
                                path = _trajectory(file, header, index, digests)
                                dataset[row] = path
                                if name == "train":
                                    statistics = statistics.merge(ChannelStatistics.of(path[None]))
                                row += 1
                                bar.update(1)
                        verified &= _checked_against_export(header, digests)
                    if verified:
                        layout.seal(dataset)
                    else:
                        unverified.append(name)
                shapes = {name: (counts[name], first.n_frames, grid.channels, *grid.shape) for name in SPLITS}
                metadata = DatasetMetadata(first.system, first.config, first.dt, grid, statistics.mean, statistics.std, shapes, pdd_version=__version__)
                layout.finish(metadata, {CHANNEL_NAMES: json.dumps(list(channels)), "source_format": "the-well", "well_dataset_name": first.dataset_name})

        write_atomically(target, write)
    skipped = tuple(sorted({item for group in headers.values() for header in group for item in header.skipped}))
    files = {name: tuple(header.path for header in group) for name, group in headers.items()}
    return ImportReport(target, metadata, channels, skipped, files, tuple(unverified))


def _checked_against_export(header: WellFile, digests: list) -> bool:
    """Whether the values read from ``header``'s file may get a fresh checksum; a damaged pdd export raises.

    A foreign file has nothing to check against and is taken as read; a pdd export is vouched
    for only when every imported field carries the checksum of verified data and matches it.
    """
    if not header.from_pdd:
        return True
    for field, stored, digest in zip(header.fields, header.checksums, digests):
        if stored is not None and stored != digest.hexdigest():
            raise bad_argument(
                "PATH",
                str(header.path),
                f"field {field.name!r} no longer matches the SHA-256 pdd exported it with: the file is damaged",
                "export it again from the verified dataset file",
                kind=DataError,
            )
    return all(stored is not None for stored in header.checksums)


def _sources(paths: list[str | os.PathLike], split: str) -> dict[str, list[Path]]:
    """Files per pdd split: a Well dataset root gives its ``data/<split>/`` files, anything else goes to ``split``."""
    if not paths:
        raise bad_argument("PATH", [], "no input given", "pass Well .hdf5 files or a Well dataset directory", kind=DataError)
    sources: dict[str, list[Path]] = {}
    for entry in map(Path, paths):
        if not entry.exists():
            raise bad_argument("PATH", str(entry), "does not exist", "pass Well .hdf5 files or a Well dataset directory (ROOT/data/train/...)", kind=DataError)
        roots = [entry / "data" / name for name in WELL_SPLITS if (entry / "data" / name).is_dir()]
        if entry.is_dir() and roots:
            for directory in roots:
                sources.setdefault(directory.name, []).extend(_files_in(directory))
        else:
            sources.setdefault(split, []).extend(_files_in(entry) if entry.is_dir() else [entry])
    sources = {name: sorted(set(files)) for name, files in sources.items() if files}
    if not sources.get("train"):
        raise bad_argument(
            "PATH",
            [str(path) for path in paths],
            "gives no file for the train split (pdd takes its normalisation from train)",
            "add the training files, or pass --split train for loose files",
            kind=DataError,
        )
    return sources


def _files_in(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.suffix in FILE_SUFFIXES and path.is_file())


def _read_header(path: Path, selected: list[str] | None) -> WellFile:
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise bad_argument("PATH", str(path), f"is not a readable HDF5 file ({error})", "pass The Well's .hdf5 files", kind=DataError) from None
    with file:
        missing = [key for key in ("dataset_name", "grid_type", "n_spatial_dims", "n_trajectories") if key not in file.attrs]
        missing += [group for group in ("dimensions", "t0_fields") if group not in file]
        if "dimensions" in file and "spatial_dims" not in file["dimensions"].attrs:
            missing.append("dimensions.spatial_dims")
        if missing:
            raise bad_argument("PATH", str(path), f"lacks {missing} of The Well's layout", "pass files written in The Well's HDF5 layout", kind=DataError)
        if _text(file.attrs["grid_type"]).lower() != "cartesian":
            raise bad_argument(
                "PATH", str(path), f"has grid_type {_text(file.attrs['grid_type'])!r}", "pdd models uniform periodic Cartesian grids only; this dataset cannot be imported", kind=DataError
            )
        dims = [_text(dim) for dim in file["dimensions"].attrs["spatial_dims"]]
        if len(dims) != int(file.attrs["n_spatial_dims"]) or not 1 <= len(dims) <= 3:
            raise bad_argument("PATH", str(path), f"has spatial_dims {dims} for n_spatial_dims {int(file.attrs['n_spatial_dims'])}", "pdd imports 1 to 3 spatial axes", kind=DataError)
        _check_periodic(file, path, dims)
        shape, lengths = zip(*(_axis(_dataset(file["dimensions"], dim, path), dim, path) for dim in dims))
        n_frames, dt = _time(_dataset(file["dimensions"], "time", path), path)
        fields, skipped = _fields(file, path, dims, selected)
        n_trajectories = int(file.attrs["n_trajectories"])
        for field in fields:
            stored = file[field.group][field.name].shape
            expected = (n_trajectories, n_frames, *(n for n, varying in zip(shape, field.dim_varying) if varying), *(len(dims),) * field.order)
            if stored != expected:
                raise bad_argument("PATH", str(path), f"field {field.name!r} is shaped {stored}, not {expected}", "check the file against The Well's layout", kind=DataError)
        parameters = [key for key in map(_text, file.attrs.get("simulation_parameters", [])) if key in file.attrs]
        config = {key: _plain(file.attrs[key]) for key in parameters}
        skipped = tuple(item for item in skipped if item.removeprefix("scalars/") not in parameters)  # those are in the config
        if PDD_DT in file.attrs and PDD_LENGTH in file.attrs:  # a pdd export: exact where the coordinates are float32
            exact = (float(file.attrs[PDD_DT]), *(float(x) for x in file.attrs[PDD_LENGTH]))
            if len(exact) == 1 + len(dims) and np.allclose(exact, (dt, *lengths), rtol=SPACING_RTOL):
                dt, lengths = exact[0], exact[1:]
        if PDD_CONFIG in file.attrs:
            config = json.loads(_text(file.attrs[PDD_CONFIG]))
        system = _text(file.attrs.get(PDD_SYSTEM, file.attrs["dataset_name"]))
        symbol = _text(file.attrs[PDD_SYMBOL]) if PDD_SYMBOL in file.attrs else None
        checksums = tuple(_optional_text(file[field.group][field.name].attrs.get(PDD_SHA256)) for field in fields)
        dataset_name = _text(file.attrs["dataset_name"])
        return WellFile(path, dataset_name, n_trajectories, n_frames, dt, shape, lengths, fields, skipped, config, system, symbol, checksums, PDD_SYSTEM in file.attrs)


def _dataset(group: h5py.Group, name: str, path: Path) -> h5py.Dataset:
    """``group[name]``, or one line naming the dataset the file lacks (a malformed Well file)."""
    member = group.get(name)
    if not isinstance(member, h5py.Dataset):
        raise bad_argument("PATH", str(path), f"lacks the dataset {group.name.rstrip('/')}/{name} of The Well's layout", "pass files written in The Well's HDF5 layout", kind=DataError)
    return member


def _check_periodic(file: h5py.File, path: Path, dims: list[str]) -> None:
    """Every axis periodic: the spectral coarse-graining of every RG scheme assumes it."""
    kinds: dict[str, set[str]] = {dim: set() for dim in dims}
    for name, boundary in file.get("boundary_conditions", {}).items():
        for dim in map(_text, boundary.attrs.get("associated_dims", [])):
            kinds.setdefault(dim, set()).add(_text(boundary.attrs.get("bc_type", "?")).upper())
    for dim in dims:
        if kinds[dim] != {"PERIODIC"}:
            found = ", ".join(sorted(kinds[dim])) or "none (The Well reads that as OPEN)"
            raise bad_argument(
                "PATH",
                str(path),
                f"axis {dim!r} has boundary condition {found}, not PERIODIC",
                "pdd's RG schemes and networks assume periodic boundaries on every axis; this dataset cannot be imported",
                kind=DataError,
            )


def _axis(coordinates: h5py.Dataset, dim: str, path: Path) -> tuple[int, float]:
    """Points and periodic length ``N · Δx`` of a uniform coordinate axis."""
    if coordinates.attrs.get("sample_varying", False) or coordinates.ndim != 1:
        raise bad_argument("PATH", str(path), f"axis {dim!r} has coordinates that vary between trajectories", "pdd needs one fixed uniform grid", kind=DataError)
    values = np.asarray(coordinates[:], dtype=np.float64)
    spacing = _uniform_step(values, f"axis {dim!r}", path)
    return len(values), len(values) * spacing


def _time(time: h5py.Dataset, path: Path) -> tuple[int, float]:
    """Frames and Δt of uniform time coordinates (per trajectory when sample-varying, equal for all)."""
    values = np.asarray(time[:], dtype=np.float64)
    rows = values.reshape(-1, values.shape[-1])
    steps = [_uniform_step(row, "time", path) for row in rows]
    if not np.allclose(steps, steps[0], rtol=SPACING_RTOL):
        raise bad_argument("PATH", str(path), f"trajectories have time steps from {min(steps):g} to {max(steps):g}", "pdd needs one dt for all paths", kind=DataError)
    return values.shape[-1], float(steps[0])


def _uniform_step(values: np.ndarray, what: str, path: Path) -> float:
    if len(values) < 2:
        raise bad_argument("PATH", str(path), f"{what} has {len(values)} point(s)", "pdd needs at least 2 points per axis and 2 frames", kind=DataError)
    # The mean step from the end points: float32 coordinates make single differences noisy.
    step = (values[-1] - values[0]) / (len(values) - 1)
    differences = np.diff(values)
    if step <= 0 or np.abs(differences - step).max() > SPACING_RTOL * abs(step):
        raise bad_argument(
            "PATH",
            str(path),
            f"{what} is not uniform (steps from {differences.min():g} to {differences.max():g})",
            "pdd's spectral operators need a uniform grid; resample the data onto one first",
            kind=DataError,
        )
    return float(step)


def _fields(file: h5py.File, path: Path, dims: list[str], selected: list[str] | None) -> tuple[tuple[WellField, ...], tuple[str, ...]]:
    fields, skipped, available = [], [], []
    for order, group in enumerate(FIELD_GROUPS):
        if group not in file:
            continue
        for name in map(_text, file[group].attrs.get("field_names", [])):
            dataset = _dataset(file[group], name, path)  # listed in field_names, so it must exist
            varying = bool(dataset.attrs.get("time_varying", True)) and bool(dataset.attrs.get("sample_varying", True))
            if not varying:
                skipped.append(f"{group}/{name} (constant in time or across trajectories)")
                continue
            available.append(name)
            if selected is None or name in selected:
                dim_varying = tuple(bool(flag) for flag in dataset.attrs.get("dim_varying", [True] * len(dims)))
                fields.append(WellField(group, name, order, tuple(component_names(name, order, dims)), dim_varying))
    unknown = sorted(set(selected or ()) - set(available))
    if unknown or not fields:
        raise bad_argument(
            "--fields", ",".join(selected or []) or None, f"names no time-varying field of {path}" + (f" ({unknown})" if unknown else ""), f"choose from {available}", kind=DataError
        )
    for name in map(_text, file["scalars"].attrs.get("field_names", [])) if "scalars" in file else []:
        skipped.append(f"scalars/{name}")
    return tuple(fields), tuple(skipped)


def _trajectory(file: h5py.File, header: WellFile, index: int, digests: list) -> np.ndarray:
    """Path ``index`` as float32 ``[T, C, *space]``: components moved before space, constant axes broadcast.

    Each field's values as stored also go into its running SHA-256 in ``digests``.
    """
    channels = []
    for field, digest in zip(header.fields, digests):
        try:
            stored = file[field.group][field.name][index]
        except OSError as error:
            raise read_failure(header.path, f"{field.group}/{field.name}[{index}]", error) from None
        digest.update(path_bytes(stored))
        values = np.asarray(stored, dtype=np.float64)  # [T, *space used, (d, (d))]
        values = values.reshape(values.shape[: values.ndim - field.order] + (-1,)) if field.order else values[..., None]
        expand = (header.n_frames, *(size if varying else 1 for size, varying in zip(header.shape, field.dim_varying)), values.shape[-1])
        values = np.broadcast_to(values.reshape(expand), (header.n_frames, *header.shape, values.shape[-1]))
        channels.append(np.moveaxis(values, -1, 1))
    path = np.concatenate(channels, axis=1).astype(STORAGE_DTYPE)
    if not np.isfinite(path).all():
        raise bad_argument("PATH", str(header.path), f"trajectory {index} holds NaN/inf", "clean the data before importing", kind=DataError)
    return path


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _plain(value: Any) -> Any:
    """A root attribute as a JSON value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    return value.item() if isinstance(value, np.generic) else value


__all__ = ["ImportReport", "WellField", "WellFile", "import_the_well"]
