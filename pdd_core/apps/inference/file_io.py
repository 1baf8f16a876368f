"""Inference inputs and outputs: paths read in the run's standardised space, and output files in the dataset layout.

Inputs (:func:`read_paths`) are standardised with the run's training statistics, (u - mean_c) /
std_c (PDD A.2), unless they are already an inference output. Outputs
(:func:`write_inference_file`) keep that space and record the statistics as ``source_mean`` and
``source_std``, so that u = u_std · source_std + source_mean recovers physical units.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import torch

from pdd_core.data.hdf5_layout import DatasetMetadata, write_dataset_file
from pdd_core.data.hdf5_reader import open_dataset_file, read_failure, read_metadata, verify_split
from pdd_core.errors import DataError, bad_argument
from pdd_core.files import check_output_file
from pdd_core.metrics.normalization import Standardizer
from pdd_core.version import __version__

if TYPE_CHECKING:  # only annotations: runs.py reads its training data through this module
    from pdd_core.apps.inference.runs import TrainedRun

OUTPUT_SPLIT = "train"
# The root attribute that marks an inference output (its values are already standardised).
COMMAND_ATTRIBUTE = "pdd_command"
# The system of an output of a run whose training file was not found.
UNKNOWN_SYSTEM = "unknown"
# Domain lengths agree to float32 rounding (an import from float32 coordinates keeps ~1e-7).
GRID_LENGTH_RTOL = 1e-5


@attrs.frozen(eq=False)
class InputPaths:
    """Standardised paths read from a file, with the λ they are at (None: not recorded, i.e. data at λ = 0)."""

    u: torch.Tensor
    lam: float | None
    split: str
    metadata: DatasetMetadata


def _standardize(values: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...], path: Path) -> torch.Tensor:
    """(u - mean_c) / std_c in float64 with the metrics' one standardiser (PDD A.2, B.5)."""
    if min(std) <= 0:
        raise bad_argument(f"{path}:std", std, "a channel is constant, so it cannot be standardised", "use data whose channels vary", kind=DataError)
    return torch.from_numpy(Standardizer.build((mean, std), len(mean))(np.asarray(values, dtype=np.float64)))


def check_run_data(run: TrainedRun, metadata: DatasetMetadata, path: Path) -> None:
    """Refuse data of another system or grid than the run's: its numbers would be silently wrong.

    The system is compared when both are known (the run's training file is found, the data is
    not an output of a run whose training file was unknown).
    """
    grid = metadata.grid
    if (grid.shape, grid.channels) != (run.grid.shape, run.grid.channels) or not np.allclose(grid.lengths, run.grid.lengths, rtol=GRID_LENGTH_RTOL):
        raise bad_argument(
            f"{path}:grid",
            {"shape": grid.shape, "channels": grid.channels, "length": grid.lengths},
            f"differs from the run's grid (shape {run.grid.shape}, channels {run.grid.channels}, length {run.grid.lengths})",
            "pass data on the grid the run was trained on",
            kind=DataError,
        )
    known = run.data is not None and UNKNOWN_SYSTEM not in (metadata.system, run.data.system)
    if known and metadata.system != run.data.system:
        raise bad_argument(
            f"{path}:system", metadata.system, f"differs from the system {run.data.system!r} the run was trained on", "pass data of the run's system", kind=DataError
        )


def read_paths(run: TrainedRun, path: str | os.PathLike, split: str | None = None, n: int | None = None, frames: int | None = None) -> InputPaths:
    """The first ``n`` paths (first ``frames`` frames) of a file, in the run's standardised space.

    A dataset file (physical units) is standardised with the run's training statistics (the
    file's own when the run's training file is gone); an inference output
    (:func:`write_inference_file`) is already standardised and records its λ. ``split``
    defaults to ``train`` for inference outputs (where they keep their paths) and ``test``
    for dataset files. The data must be of the run's system and grid (:func:`check_run_data`)
    and the split is verified against its checksum before it is read
    (:func:`~pdd_core.data.hdf5_reader.verify_split`).
    """
    path = Path(path)
    metadata = read_metadata(path)
    with open_dataset_file(path) as file:
        is_output = COMMAND_ATTRIBUTE in file.attrs
        split = split or (OUTPUT_SPLIT if is_output else "test")
        if split not in metadata.splits:
            raise bad_argument("split", split, "unknown split", f"use one of {sorted(metadata.splits)}")
        check_run_data(run, metadata, path)
        available, length = metadata.splits[split][:2]
        if available == 0:
            raise bad_argument("split", split, f"holds no paths in {path}", "choose a non-empty split", kind=DataError)
        for name, value, limit in (("n", n, available), ("frames", frames, length)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit):
                raise bad_argument(name, value, f"must be an integer in [1, {limit}] for the {split} split of {path}", f"pass {name} <= {limit}")
        verify_split(path, split)
        try:
            values = file[split][: n or available, : frames or length]
        except OSError as error:
            raise read_failure(path, split, error) from None
        lam = float(file.attrs["lambda"]) if is_output and "lambda" in file.attrs else None
    if is_output:
        u = torch.from_numpy(np.asarray(values, dtype=np.float64))
    else:
        statistics = run.data or metadata
        u = _standardize(values, statistics.mean, statistics.std, path)
    return InputPaths(u=u, lam=lam, split=split, metadata=metadata)


def check_output_path(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing file unless ``overwrite`` (:func:`pdd_core.files.check_output_file`); create the parent directories."""
    target = check_output_file(path, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def write_inference_file(
    path: str | os.PathLike,
    paths: torch.Tensor,
    *,
    run: TrainedRun,
    dt: float,
    command: str,
    lam: float,
    sampler: str,
    steps: int,
    settings: dict[str, Any],
    seed: int | None = None,
    overwrite: bool = False,
) -> DatasetMetadata:
    """Write paths ``[N, T, C, *space]`` as a dataset file (docs/data_format.md), atomically.

    The paths fill the ``train`` split (the one the layout requires; ``valid`` and ``test``
    are empty), so ``mean``/``std`` describe the output itself. Extra root attributes record
    the provenance: ``pdd_command``, ``lambda`` (of the stored paths), ``sampler`` (the
    λ-sampler, or the time integrator of a simulation), ``steps`` (its number of steps),
    ``settings`` (JSON of all the command's settings), ``source_run``, ``source_objective``,
    ``source_data``, ``values`` (``standardized``) and, when the run's training file is
    known, ``source_mean``/``source_std`` to de-standardise. The file is written under a
    temporary name in the same directory and renamed over ``path``; the ``pdd`` commands hold
    ``path.lock`` (:class:`~pdd_core.files.OutputLock`) from their first step to this one.
    """
    target = check_output_path(path, overwrite)
    array = paths.detach().cpu().numpy()
    empty = np.zeros((0, *array.shape[1:]), dtype=np.float32)
    source = run.data
    splits = {"train": array, "valid": empty, "test": empty}
    system, config = (source.system, source.config) if source is not None else (UNKNOWN_SYSTEM, {})
    attributes: dict[str, Any] = {
        COMMAND_ATTRIBUTE: command,
        "lambda": np.float64(lam),
        "sampler": sampler,
        "steps": np.int64(steps),
        "settings": json.dumps(settings, sort_keys=True, default=str),
        "source_run": str(run.run_dir.resolve()),
        "source_objective": run.objective.name,
        "values": "standardized",
        "pdd_version": __version__,
    }
    if source is not None:
        attributes.update(source_data=str(run.data_path.resolve()), source_mean=np.asarray(source.mean), source_std=np.asarray(source.std))
    return write_dataset_file(target, splits, system=system, config=config, dt=dt, grid=run.grid, seed=seed, extra_attributes=attributes)


__all__ = [
    "COMMAND_ATTRIBUTE",
    "OUTPUT_SPLIT",
    "UNKNOWN_SYSTEM",
    "InputPaths",
    "check_output_path",
    "check_run_data",
    "read_paths",
    "write_inference_file",
]
