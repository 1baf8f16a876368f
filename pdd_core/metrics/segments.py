"""Cut long rollouts into sample-length segments for the spectral error (PDD B.5)."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch

from pdd_core.errors import ArgumentError, DTypeError, ShapeError, bad_argument

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def segments(path: ArrayT, length: int, discard: int = 10) -> ArrayT:
    """Split ``path [B, T_long, ...]`` into ``[B * n, length, ...]`` after dropping ``discard`` segments.

    Frames ``[0, discard·length)`` (the spin-up of a long surrogate rollout) are dropped; the next
    ``n = T_long // length - discard`` consecutive, non-overlapping windows of ``length`` frames
    become samples (sample b's segments are rows ``b·n .. b·n + n - 1``); trailing frames that do not
    fill a window are dropped. PDD B.5 uses ``length`` = the temporal length of one test sample and
    ``discard = 10`` (100 gives similar errors). Returns the same library (torch or numpy) as ``path``.
    """
    if not isinstance(path, (np.ndarray, torch.Tensor)):
        raise bad_argument(
            "path", type(path).__name__, "expected a torch.Tensor or a numpy.ndarray", "pass the rollout's field [B, T_long, C, *space]", kind=DTypeError
        )
    if path.ndim < 2:
        raise bad_argument("path.shape", tuple(path.shape), "expected [B, T_long, ...]", "pass a batch of long rollouts", kind=ShapeError)
    _check_count("length", length, minimum=1)
    _check_count("discard", discard, minimum=0)
    batch, frames = path.shape[0], path.shape[1]
    n_segments = frames // length - discard
    if n_segments < 1:
        raise bad_argument(
            "path.shape",
            tuple(path.shape),
            f"{frames} frames hold {frames // length} segments of {length}, none left after discarding {discard}",
            f"roll out at least {(discard + 1) * length} frames or lower discard",
            kind=ArgumentError,
        )
    start = discard * length
    kept = path[:, start : start + n_segments * length]
    return kept.reshape(batch * n_segments, length, *path.shape[2:])


def _check_count(name: str, value: Any, *, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", f"pass {name} as a whole number of frames/segments")
