"""The climate of a long rollout against the truth's: the statistics a long simulation must keep.

Pointwise errors lose meaning once a chaotic rollout has decorrelated from its reference; what
it must still get right is the law it settles on. Per channel: the mean and standard deviation
(in units of the truth's standard deviation), the speed of the dynamics (mean |u(t+Δt) - u(t)|)
and the time-averaged spatial PSD per wavenumber shell, each as a ratio to the truth's. A rollout
whose variance falls under :data:`COLLAPSE_VARIANCE` of the truth's has collapsed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.metrics.arrays import as_field, check_same_shape, float64_chunks
from pdd_core.metrics.normalization import CHANNEL_AXIS, channel_stats
from pdd_core.metrics.spectra import time_averaged_spatial_psd

# A rollout holding less than this fraction of the truth's variance in a channel has collapsed.
COLLAPSE_VARIANCE = 0.5
# PSD shells where the truth has less than this fraction of its peak power (e.g. the k = 0 mode of
# a field with a conserved zero mean) are left out of the PSD ratio: a ratio of zeros says nothing.
# Not 1e-10: the Kolmogorov flow's stored vorticity keeps a mean of ~3e-5 std (1e-9 of the peak),
# and a refined field 0.02 std off it read as a PSD ratio of 4e5; the mean has its own number.
EMPTY_SHELL = 1e-6


def mean_abs_increment(u: Any) -> np.ndarray:
    """Per-channel mean of |u(t+1) - u(t)| over samples, consecutive frames and space: float64 ``[C]``."""
    field = as_field(u, "u")
    if field.shape[1] < 2:
        raise _too_few_frames(field.shape, "u", 2)
    axes = tuple(axis for axis in range(field.ndim) if axis != CHANNEL_AXIS)
    total = sum(np.abs(np.diff(chunk, axis=1)).sum(axis=axes) for chunk in float64_chunks(field))
    increments = field.shape[0] * (field.shape[1] - 1) * int(np.prod(field.shape[CHANNEL_AXIS + 1 :]))
    return total / increments


def climate(prediction: Any, truth: Any, *, channel_names: list[str] | None = None) -> dict[str, Any]:
    """How the statistics of ``prediction`` compare with those of ``truth`` (both ``[B, T, C, *space]``).

    Sample and frame counts may differ; channels and the grid must match, and both need >= 2
    frames. Per channel (names from ``channel_names``, else ``c0, c1, ...``):

    * ``mean_offset`` = (mean_pred - mean_truth) / std_truth and ``std_ratio`` = std_pred / std_truth;
    * ``speed_ratio`` = mean |Δu|_pred / mean |Δu|_truth per frame interval (frames must be equally spaced
      in both);
    * ``psd_ratio_min`` / ``psd_ratio_max`` of the time-averaged spatial PSD (one value per integer
      shell k <= N/2, N the smallest grid size) over the shells where the truth has power;
    * ``collapsed``: std_ratio² < :data:`COLLAPSE_VARIANCE`.

    Returns the channels' records under ``channels`` and the worst values over channels at the top.
    """
    pred, ref = as_field(prediction, "prediction"), as_field(truth, "truth")
    check_same_shape(ref[:, :1], pred[:, :1], from_axis=2)
    for name, field in (("prediction", pred), ("truth", ref)):
        if field.shape[1] < 2:
            raise _too_few_frames(field.shape, name, 2)
    names = channel_names or [f"c{channel}" for channel in range(ref.shape[CHANNEL_AXIS])]
    (mean_p, std_p), (mean_t, std_t) = channel_stats(pred), channel_stats(ref)
    speed = mean_abs_increment(pred) / mean_abs_increment(ref)
    space = ref.shape[CHANNEL_AXIS + 1 :]
    kept = min(space) // 2 + 1
    psd_pred, psd_truth = time_averaged_spatial_psd(pred)[:, :kept], time_averaged_spatial_psd(ref)[:, :kept]
    channels = {}
    for c, name in enumerate(names):
        has_power = psd_truth[c] > EMPTY_SHELL * psd_truth[c].max()
        ratio = psd_pred[c][has_power] / psd_truth[c][has_power]
        std_ratio = float(std_p[c] / std_t[c])
        channels[name] = {
            "mean": float(mean_p[c]),
            "std": float(std_p[c]),
            "truth_mean": float(mean_t[c]),
            "truth_std": float(std_t[c]),
            "mean_offset": float((mean_p[c] - mean_t[c]) / std_t[c]),
            "std_ratio": std_ratio,
            "speed_ratio": float(speed[c]),
            "psd_ratio_min": float(ratio.min()),
            "psd_ratio_max": float(ratio.max()),
            "psd_shells": [int(k) for k in np.flatnonzero(has_power)],
            "collapsed": bool(std_ratio**2 < COLLAPSE_VARIANCE),
        }
    records = list(channels.values())
    return {
        "max_abs_mean_offset": max(abs(r["mean_offset"]) for r in records),
        "max_std_error": max(abs(r["std_ratio"] - 1) for r in records),
        "max_speed_error": max(abs(r["speed_ratio"] - 1) for r in records),
        "psd_ratio_min": min(r["psd_ratio_min"] for r in records),
        "psd_ratio_max": max(r["psd_ratio_max"] for r in records),
        "collapsed": any(r["collapsed"] for r in records),
        "channels": channels,
    }


def running_statistics(u: Any, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel mean and std of consecutive blocks of ``block`` frames (over samples and space).

    Returns ``(start_frames [n], means [n, C], stds [n, C])``: how a rollout's climate moves in time,
    for the running-statistics figure. Trailing frames that do not fill a block are dropped.
    """
    field = as_field(u, "u")
    if not isinstance(block, (int, np.integer)) or isinstance(block, bool) or block < 1:
        raise bad_argument("block", block, "must be an integer >= 1", "pass the number of frames per block")
    count = field.shape[1] // block
    if count < 1:
        raise _too_few_frames(field.shape, "u", max(block, 1))
    means, stds = [], []
    for index in range(count):
        mean, std = channel_stats(field[:, index * block : (index + 1) * block])
        means.append(mean)
        stds.append(std)
    return np.arange(count) * block, np.asarray(means), np.asarray(stds)


def _too_few_frames(shape: tuple[int, ...], name: str, minimum: int) -> ShapeError:
    return bad_argument(f"{name}.shape", tuple(shape), f"needs at least {minimum} frames", "pass longer paths [B, T, C, *space]", kind=ShapeError)


__all__ = ["COLLAPSE_VARIANCE", "climate", "mean_abs_increment", "running_statistics"]
