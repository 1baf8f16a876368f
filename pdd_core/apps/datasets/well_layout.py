"""The Well's HDF5 layout (PolymathicAI, ``the-well`` 1.2.0, docs/data_format.md of its repository): what pdd writes and reads.

A Well dataset is a directory ``ROOT/data/{train,valid,test}/*.hdf5`` plus ``ROOT/stats.yaml``.
Each file holds ``n_trajectories`` paths of one configuration:

* root attributes ``dataset_name``, ``grid_type`` (``cartesian``), ``n_spatial_dims``,
  ``n_trajectories`` and ``simulation_parameters`` (names; each is also a root attribute and a
  dataset in ``/scalars``);
* ``/dimensions``: ``time`` ``[T]`` and one coordinate array per spatial axis (names in its
  ``spatial_dims`` attribute), each with ``sample_varying``/``time_varying`` flags;
* ``/boundary_conditions/<name>``: ``bc_type`` (WALL, OPEN, PERIODIC), ``associated_dims`` and a
  boolean ``mask`` over the axis (True at the boundary points);
* ``/t0_fields``, ``/t1_fields``, ``/t2_fields``: scalar, vector and rank-2 tensor fields,
  ``[n_traj, T, *space, (d, (d))]`` float32, listed in ``field_names``, with flags
  ``sample_varying``, ``time_varying`` and per-axis ``dim_varying``.

pdd's channel c is one Well field component: a t0 field is one channel, a t1 field d channels
named ``name_x, name_y`` (the_well's flattened names), a t2 field d² channels.

``stats.yaml`` holds, per field of the training files, ``mean``, ``std`` (population), ``rms``
and the same of the one-step differences along time (``mean_delta``, ``std_delta``,
``rms_delta``), as the_well's ``scripts/compute_statistics.py`` computes them; its
``ZScoreNormalization``/``RMSNormalization`` read them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import attrs
import numpy as np

from pdd_core.data.hdf5_layout import ChannelStatistics

SPATIAL_NAMES = ("x", "y", "z")
FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")
WELL_SPLITS = ("train", "valid", "test")
STATS_FILE = "stats.yaml"
FILE_SUFFIXES = (".hdf5", ".h5")
# Root attributes pdd adds to the files it exports, so that importing them restores the
# dataset exactly (the Well's layout has no place for a registry name, a JSON config or a symbol).
PDD_SYSTEM, PDD_CONFIG, PDD_SYMBOL = "pdd_system", "pdd_config", "pdd_grid_symbol"
# ... and the float64 dt and domain lengths, which float32 coordinates only carry to ~1e-7.
PDD_DT, PDD_LENGTH = "pdd_dt", "pdd_grid_length"
# The root attribute of an imported pdd dataset that keeps the Well's channel names.
CHANNEL_NAMES = "channel_names"
# The attribute of an exported field: the SHA-256 of its values (:func:`path_bytes` of each path,
# in path order). pdd writes it only for data it verified, and an import checks it.
PDD_SHA256 = "pdd_sha256"


def path_bytes(values: np.ndarray) -> bytes:
    """The bytes of one path of a field as :data:`PDD_SHA256` covers them: float32, C order."""
    return np.ascontiguousarray(values, dtype=np.float32).tobytes()


def component_names(field: str, order: int, spatial_dims: Iterable[str]) -> list[str]:
    """The_well's flattened channel names of a rank-``order`` field: ``u``; ``u_x, u_y``; ``u_xx, u_xy, ...``."""
    dims = list(spatial_dims)
    names = [""]
    for _ in range(order):
        names = [prefix + dim for prefix in names for dim in dims]
    return [f"{field}_{suffix}" if suffix else field for suffix in names]


@attrs.define
class FieldStatistics:
    """Running statistics of one field's values and one-step time differences (stats.yaml)."""

    values: ChannelStatistics = ChannelStatistics(0, (0.0,), (0.0,))
    deltas: ChannelStatistics = ChannelStatistics(0, (0.0,), (0.0,))

    def add(self, path: np.ndarray) -> None:
        """Add one path ``[T, *space]`` of this field (stored float32 values, accumulated in float64)."""
        values = path.reshape(1, path.shape[0], 1, -1)
        self.values = self.values.merge(ChannelStatistics.of(values))
        if path.shape[0] > 1:
            self.deltas = self.deltas.merge(ChannelStatistics.of(np.diff(values.astype(np.float64), axis=1)))

    def entries(self) -> dict[str, float]:
        """``mean, std, rms, mean_delta, std_delta, rms_delta``: population moments as the_well's script computes them."""
        out = {}
        for suffix, stats in (("", self.values), ("_delta", self.deltas)):
            mean, variance = stats.mean[0], stats.m2[0] / max(stats.count, 1)
            out[f"mean{suffix}"], out[f"std{suffix}"], out[f"rms{suffix}"] = mean, math.sqrt(variance), math.sqrt(variance + mean**2)
        return out


def stats_yaml(statistics: dict[str, FieldStatistics]) -> str:
    """The text of ``stats.yaml``: one mapping per statistic, field names as keys, in a fixed order.

    Written without a YAML library (pdd does not depend on one): names are JSON strings (valid
    YAML double-quoted scalars) and numbers carry a decimal point and a signed exponent, the form
    YAML 1.1 (PyYAML's ``safe_load``) reads as a float; 17 digits give back the exact double.
    """
    entries = {name: stats.entries() for name, stats in statistics.items()}
    lines = []
    for key in ("mean", "std", "rms", "mean_delta", "std_delta", "rms_delta"):
        lines.append(f"{key}:")
        lines.extend(f"  {json.dumps(name)}: {values[key]:.16e}" for name, values in entries.items())
    return "\n".join(lines) + "\n"


__all__ = [
    "CHANNEL_NAMES",
    "FIELD_GROUPS",
    "FILE_SUFFIXES",
    "PDD_CONFIG",
    "PDD_DT",
    "PDD_LENGTH",
    "PDD_SHA256",
    "PDD_SYMBOL",
    "PDD_SYSTEM",
    "SPATIAL_NAMES",
    "STATS_FILE",
    "WELL_SPLITS",
    "FieldStatistics",
    "component_names",
    "path_bytes",
    "stats_yaml",
]
