"""Shared per-channel standardisation (PDD B.5: u and û are standardised with the same parameters)."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch

from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.metrics.arrays import as_field, as_real_array, float64_chunks

CHANNEL_AXIS = 2


def channel_stats(u: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``u [B, T, C, *space]`` over every other axis.

    Returns two float64 arrays ``[C]``. Use the reference's (or the training set's, as stored in
    the dataset file's ``mean``/``std`` attributes) for both fields being compared.
    """
    field = as_field(u, "u")
    axes = tuple(axis for axis in range(field.ndim) if axis != CHANNEL_AXIS)
    count = field.size // field.shape[CHANNEL_AXIS]
    # Two passes (mean first, then centred squares) keep the variance accurate for fields far from 0.
    mean = sum(chunk.sum(axis=axes) for chunk in float64_chunks(field)) / count
    centred = _broadcast(mean, field.ndim)
    variance = sum(((chunk - centred) ** 2).sum(axis=axes) for chunk in float64_chunks(field)) / count
    return mean, np.sqrt(variance)


def standardize(u: Any, mean: Any, std: Any) -> np.ndarray:
    """Return ``(u - mean) / std`` as float64, with ``mean`` and ``std`` per channel (PDD B.5).

    ``u`` is ``[B, T, C, *space]``; ``mean`` and ``std`` are scalars or ``[C]`` (numpy, torch or
    lists). Pass the SAME parameters for the reference and the prediction: per-sample or
    per-field statistics would hide amplitude errors from both metrics.
    """
    field = as_field(u, "u")
    return Standardizer.build((mean, std), field.shape[CHANNEL_AXIS])(field.astype(np.float64))


@attrs.frozen
class Standardizer:
    """Checked per-channel ``mean`` and ``std`` ``[C]``, applied to float64 chunks ``[b, T, C, *space]``."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def build(cls, stats: tuple[Any, Any] | None, channels: int) -> Standardizer | None:
        """Check ``stats = (mean, std)`` against ``channels``; None stays None (no standardisation)."""
        if stats is None:
            return None
        if not isinstance(stats, (tuple, list)) or len(stats) != 2:
            raise bad_argument("stats", stats, "expected a pair (mean, std)", "pass stats=channel_stats(reference) or stats=(mean, std)", kind=DTypeError)
        mean_c = _per_channel(stats[0], "mean", channels)
        std_c = _per_channel(stats[1], "std", channels)
        if (std_c <= 0).any():
            raise bad_argument(
                "std", std_c.tolist(), "standard deviations must be > 0", "compute them with channel_stats(reference) or read them from the dataset file"
            )
        return cls(mean_c, std_c)

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        return (chunk - _broadcast(self.mean, chunk.ndim)) / _broadcast(self.std, chunk.ndim)


def _per_channel(value: Any, name: str, channels: int) -> np.ndarray:
    if not isinstance(value, (np.ndarray, torch.Tensor)):
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise bad_argument(name, value, "not a number or a list of numbers", f"pass {name} as a float or one float per channel", kind=DTypeError) from None
    array = as_real_array(value, name, ndim=(0, 1), layout="a scalar or [C]")
    array = np.broadcast_to(array.astype(np.float64), (channels,)) if array.ndim == 0 else array.astype(np.float64)
    if array.shape != (channels,):
        raise bad_argument(
            f"{name}.shape",
            array.shape,
            f"expected a scalar or one value per channel ([{channels}])",
            f"pass {name} shaped [C] = [{channels}]",
            kind=ShapeError,
        )
    return array


def _broadcast(per_channel: np.ndarray, ndim: int) -> np.ndarray:
    return per_channel.reshape((1, 1, -1) + (1,) * (ndim - 3))
