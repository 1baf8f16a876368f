"""Reading the HDF5 dataset layout (:mod:`pdd_core.data.hdf5_layout`): open, validate, verify.

Every way a file can be wrong (missing, a directory, foreign, truncated, inconsistent
attributes or shapes, damaged bytes) is a :class:`~pdd_core.errors.DataError` in one line that
names the file, the problem and the fix.

Every reader of a split's values calls :func:`verify_split` first: the split's stored SHA-256 is
checked before its values are trusted (docs/guarantees.md). Inside one :func:`verification`
scope (a ``pdd`` command is one) each split of each file is hashed at most once, and
``verification(False)`` (the commands' ``--no-verify``) trusts splits unread.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import attrs
import h5py
import numpy as np

from pdd_core.data.hdf5_layout import CHECKSUM_ATTRIBUTE, FORMAT_VERSION, PARTIAL_SUFFIX, REQUIRED_ATTRIBUTES, SPLITS, DatasetMetadata, split_checksum
from pdd_core.errors import DataError, PDDError, bad_argument
from pdd_core.grid import Grid

FIX_GENERATE = "generate it with `pdd data generate SYSTEM --out FILE.h5` or write the layout of docs/data_format.md"


@attrs.define
class _VerificationScope:
    """One command's checksum policy and what it has verified: ``{(file version, split): verified}``."""

    enabled: bool
    verified: dict[tuple, bool] = attrs.Factory(dict)


_SCOPE: ContextVar[_VerificationScope | None] = ContextVar("pdd_verification_scope", default=None)


@contextlib.contextmanager
def verification(enabled: bool = True) -> Iterator[None]:
    """A scope in which :func:`verify_split` hashes each split of each file at most once.

    ``enabled=False`` trusts every split without reading it (the commands' ``--no-verify``). A
    scope opened inside another joins it: the outermost one (the command's) decides. Outside any
    scope every call verifies.
    """
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set(_VerificationScope(enabled))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def verify_split(path: str | os.PathLike, split: str) -> bool:
    """Check ``split`` of the dataset file ``path`` against its stored SHA-256 before its values are trusted.

    Returns True when the stored checksum matched, False when there was none to check (a file
    written before pdd kept them) or verification is off (:func:`verification`). Raises
    :class:`DataError` naming the file and the split when the bytes no longer match or cannot be
    read. The file is hashed in chunks (one path at a time), once per scope and file version.
    """
    if split not in SPLITS:
        raise bad_argument("split", split, "unknown split", f"use one of {list(SPLITS)}", kind=DataError)
    scope = _SCOPE.get()
    if scope is not None and not scope.enabled:
        return False
    key = (*_file_version(path), split)
    if scope is not None and key in scope.verified:
        return scope.verified[key]
    with open_dataset_file(path) as file:
        verified = _stored_checksum_matches(file, Path(path), split) is True
    if scope is not None:
        scope.verified[key] = verified
    return verified


def verify_checksums(path: str | os.PathLike) -> dict[str, bool | None]:
    """Check every split against its stored SHA-256: ``{split: True}`` when intact, None without one.

    Raises :class:`DataError` naming the split when its bytes no longer match (a damaged file).
    """
    with open_dataset_file(path) as file:
        return {name: _stored_checksum_matches(file, Path(path), name) for name in SPLITS}


def _stored_checksum_matches(file: h5py.File, path: Path, split: str) -> bool | None:
    """True when ``split``'s stored SHA-256 matches its bytes, None when it stores none; a mismatch raises."""
    dataset = file[split]
    stored = dataset.attrs.get(CHECKSUM_ATTRIBUTE)
    if stored is None:
        return None
    try:
        actual = split_checksum(dataset)
    except OSError as error:
        raise read_failure(path, split, error) from None
    if actual != _text(stored):
        raise bad_argument(
            f"{path}:{split}", "checksum mismatch", "the stored paths are damaged (their SHA-256 no longer matches)", "regenerate the file or restore a copy", kind=DataError
        )
    return True


def _file_version(path: str | os.PathLike) -> tuple:
    """What identifies one version of a file: a rewrite (new inode, size or mtime) is verified again."""
    try:
        status = os.stat(path)
    except OSError:
        return (str(path),)  # missing or unreadable: open_dataset_file reports it
    return (os.path.realpath(path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def read_failure(path: str | os.PathLike, what: str, error: OSError) -> DataError:
    """One line for a failed read of ``what`` (a split, a path of one) in ``path``: permissions or damage.

    HDF5 reports both as an OSError without the file's name; a file this user may not read is a
    permission problem, anything else a read of an open file failed on is damage (or a failing disk).
    """
    if not os.access(path, os.R_OK):
        return _permission_denied(f"{path}:{what}", "unreadable")
    return bad_argument(
        f"{path}:{what}", "unreadable", f"the stored bytes are damaged or the disk failed to read them ({error})", "regenerate the file or restore a copy", kind=DataError
    )


def _permission_denied(name: str, value: str) -> DataError:
    return bad_argument(name, value, "permission denied: this user may not read the file", "fix its permissions (chmod u+r) or run as a user who may read it", kind=DataError)


def _missing_file_error(path: Path) -> DataError:
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    if partial.exists():
        return bad_argument(
            "path",
            str(path),
            f"the file does not exist yet: its generation was interrupted ({partial} holds the finished part)",
            "re-run the same `pdd data generate` command to resume it",
            kind=DataError,
        )
    return bad_argument("path", str(path), "no such file", f"check the path, or {FIX_GENERATE}", kind=DataError)


def open_dataset_file(path: str | os.PathLike) -> h5py.File:
    """Open a dataset file read-only after checking it is a complete pdd dataset.

    Raises :class:`DataError` for a missing file, a directory, a foreign (non-HDF5) file, a
    truncated or corrupted file, missing datasets or attributes, a wrong format version, and
    shapes that disagree with the stored grid. The caller closes the returned file.
    """
    path = Path(path)
    if not path.exists():
        raise _missing_file_error(path)
    if path.is_dir():
        raise bad_argument(
            "path",
            str(path),
            "is a directory, not a dataset file",
            "pass the .h5 file (a FILE.h5.partial directory is an unfinished generation)",
            kind=DataError,
        )
    if not os.access(path, os.R_OK):
        raise _permission_denied("path", str(path))
    if not h5py.is_hdf5(path):
        raise bad_argument(
            "path",
            str(path),
            "is not an HDF5 file (a foreign file, or truncated before its header)",
            f"pass a pdd dataset file; {FIX_GENERATE}",
            kind=DataError,
        )
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        problem = "is truncated (shorter than its header says)" if "truncated" in str(error) else f"cannot be opened as HDF5 ({error})"
        raise bad_argument("path", str(path), f"{problem}: the file is incomplete or corrupted", "delete it and generate it again", kind=DataError) from None
    try:
        _metadata_of(file, path)
    except BaseException:
        file.close()
        raise
    return file


def read_metadata(path: str | os.PathLike) -> DatasetMetadata:
    """Validate a dataset file and return its :class:`DatasetMetadata` (the file is closed)."""
    with open_dataset_file(path) as file:
        return _metadata_of(file, Path(path))


def _metadata_of(file: h5py.File, path: Path) -> DatasetMetadata:
    attributes = file.attrs
    missing = [key for key in REQUIRED_ATTRIBUTES if key not in attributes]
    if "format_version" not in missing:
        _check_version(attributes["format_version"], path)
    if missing:
        raise bad_argument(
            "path",
            str(path),
            f"missing root attribute(s) {missing}: the file is incomplete (its writer stopped early) or not a pdd dataset",
            "regenerate it, or add the attributes of docs/data_format.md",
            kind=DataError,
        )
    missing_splits = [name for name in SPLITS if not isinstance(file.get(name), h5py.Dataset)]
    if missing_splits:
        raise bad_argument(
            "path",
            str(path),
            f"missing dataset(s) {missing_splits}",
            "store train, valid and test (empty [0, T, C, *space] arrays are allowed)",
            kind=DataError,
        )
    grid = _grid_of(attributes, path)
    splits = {name: tuple(int(n) for n in file[name].shape) for name in SPLITS}
    _check_splits(file, splits, grid, path)
    try:
        config = json.loads(_text(attributes["config"]))
    except (json.JSONDecodeError, TypeError) as error:
        raise bad_argument(
            f"{path}:config", _plain(attributes["config"]), f"not valid JSON ({error})", "store the system parameters as a JSON object string", kind=DataError
        ) from None
    if not isinstance(config, dict):
        raise bad_argument(f"{path}:config", config, "must be a JSON object", "store the system parameters as a JSON object string", kind=DataError)
    dt = _number(attributes["dt"], "dt", path)
    if not (math.isfinite(dt) and dt > 0):
        raise bad_argument(f"{path}:dt", dt, "the sampling interval must be finite and > 0", "store the data's Δt", kind=DataError)
    mean = _channel_vector(attributes["mean"], "mean", grid, path)
    std = _channel_vector(attributes["std"], "std", grid, path)
    if any(s < 0 for s in std):
        raise bad_argument(f"{path}:std", std, "standard deviations must be >= 0", "recompute std on the train split", kind=DataError)
    return DatasetMetadata(
        system=_text(attributes["system"]),
        config=config,
        dt=dt,
        grid=grid,
        mean=mean,
        std=std,
        splits=splits,
        format_version=FORMAT_VERSION,
        seed=_optional_int(attributes, "seed", path),
        preset=_text(attributes["preset"]) if "preset" in attributes else None,
        chunk_paths=_optional_int(attributes, "chunk_paths", path),
        pdd_version=_text(attributes["pdd_version"]) if "pdd_version" in attributes else None,
    )


def _check_version(value: Any, path: Path) -> None:
    try:
        version = int(value)
    except (TypeError, ValueError):
        version = None
    if version == FORMAT_VERSION:
        return
    if version is not None and version > FORMAT_VERSION:
        fix = "upgrade pdd to a version that reads it"
    else:
        fix = "regenerate the file with this version of pdd"
    raise bad_argument(f"{path}:format_version", _plain(value), f"this pdd reads dataset format version {FORMAT_VERSION} only", fix, kind=DataError)


def _plain(value: Any) -> Any:
    """An attribute value as Python builtins, so messages read ``2`` rather than ``np.int64(2)``."""
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(value: Any, name: str, path: Path) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_argument(f"{path}:{name}", _plain(value), "must be a number", "store a float", kind=DataError) from None


def _optional_int(attributes: h5py.AttributeManager, name: str, path: Path) -> int | None:
    if name not in attributes:
        return None
    value = attributes[name]
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_argument(f"{path}:{name}", _plain(value), "must be an integer", f"store {name} as an int64 attribute or remove it", kind=DataError) from None


def _grid_of(attributes: h5py.AttributeManager, path: Path) -> Grid:
    try:
        shape = tuple(int(n) for n in np.atleast_1d(attributes["grid_shape"]))
        length = tuple(float(x) for x in np.atleast_1d(attributes["grid_length"]))
        return Grid(shape, length, int(attributes["grid_channels"]), _text(attributes["grid_symbol"]))
    except (PDDError, TypeError, ValueError) as error:
        raise bad_argument(
            f"{path}:grid_*",
            {key: _plain(attributes[key]) for key in ("grid_shape", "grid_length", "grid_channels", "grid_symbol")},
            f"do not describe a valid grid ({error})",
            "store the Grid the data live on",
            kind=DataError,
        ) from None


def _check_splits(file: h5py.File, splits: dict[str, tuple[int, ...]], grid: Grid, path: Path) -> None:
    frames = {shape[1] for shape in splits.values() if len(shape) > 1}
    for name, shape in splits.items():
        if len(shape) != 3 + grid.ndim or shape[2] != grid.channels or shape[3:] != grid.shape:
            raise bad_argument(
                f"{path}:{name}.shape",
                shape,
                f"expected [N, T, C, *space] with C={grid.channels} and space={grid.shape} (from the grid attributes)",
                "store the data with the grid they live on",
                kind=DataError,
            )
        dtype = file[name].dtype
        if dtype not in (np.float32, np.float64):
            raise bad_argument(f"{path}:{name}.dtype", str(dtype), "only float32 (or float64) data are supported", "store the paths as float32", kind=DataError)
    if len(frames) != 1:
        raise bad_argument(
            f"{path}:T",
            {name: shape[1] for name, shape in splits.items()},
            "all splits need the same number of frames T",
            "cut every split to the same path length",
            kind=DataError,
        )
    if splits["train"][0] == 0:
        raise bad_argument(f"{path}:train.shape", splits["train"], "the train split is empty", "store at least one training path", kind=DataError)


def _channel_vector(value: Any, name: str, grid: Grid, path: Path) -> tuple[float, ...]:
    try:
        vector = np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        vector = np.array([np.nan])  # text or another non-number: reported below like any bad vector
    if vector.shape != (grid.channels,) or not np.isfinite(vector).all():
        raise bad_argument(
            f"{path}:{name}",
            _plain(value),
            f"expected {grid.channels} finite float64 values (one per channel)",
            f"recompute {name} per channel on the train split",
            kind=DataError,
        )
    return tuple(vector.tolist())


__all__ = ["open_dataset_file", "read_failure", "read_metadata", "verification", "verify_checksums", "verify_split"]
