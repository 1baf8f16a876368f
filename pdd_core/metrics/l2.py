"""Relative L2 error per time step (PDD Eq. 63), for short-term prediction accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np

from pdd_core.errors import ArgumentError, bad_argument
from pdd_core.metrics.arrays import as_field, check_same_shape, float64_chunks
from pdd_core.metrics.normalization import CHANNEL_AXIS, Standardizer


def relative_l2_per_sample(reference: Any, prediction: Any, *, stats: tuple[Any, Any] | None = None) -> np.ndarray:
    """Relative L2 error of every sample at every time step, float64 ``[B, T]`` (PDD Eq. 63).

        e_b(t) = ‖u_b(·, t) - û_b(·, t)‖₂ / ‖u_b(·, t)‖₂,

    the norms running over all channels and grid points of frame t of sample b. ``reference`` (u)
    and ``prediction`` (û) are ``[B, T, C, *space]`` with equal shapes, torch or numpy; prediction b
    must start from the same initial condition as reference b (B.5). ``stats = (mean, std)``
    (per channel) standardises both fields with these SHARED parameters first (B.5); without it the
    fields are used as given.
    """
    ref = as_field(reference, "reference")
    pred = as_field(prediction, "prediction")
    check_same_shape(ref, pred)
    standardizer = Standardizer.build(stats, ref.shape[CHANNEL_AXIS])
    space_axes = tuple(range(CHANNEL_AXIS, ref.ndim))
    errors, norms = [], []
    for ref_chunk, pred_chunk in zip(float64_chunks(ref), float64_chunks(pred)):
        if standardizer is not None:
            ref_chunk, pred_chunk = standardizer(ref_chunk), standardizer(pred_chunk)
        errors.append(np.sqrt(((ref_chunk - pred_chunk) ** 2).sum(axis=space_axes)))
        norms.append(np.sqrt((ref_chunk**2).sum(axis=space_axes)))
    error, norm = np.concatenate(errors), np.concatenate(norms)
    if (norm == 0).any():
        sample, frame = np.argwhere(norm == 0)[0]
        raise bad_argument(
            "reference",
            f"frame {frame} of sample {sample} is identically zero",
            "the relative error divides by ‖u(·, t)‖₂",
            "standardise with shared stats=(mean, std) so no frame is all zeros, or drop that frame",
            kind=ArgumentError,
        )
    return error / norm


def relative_l2_error(reference: Any, prediction: Any, *, stats: tuple[Any, Any] | None = None) -> np.ndarray:
    """Relative L2 error per time step averaged over samples, float64 ``[T]`` (PDD Eq. 63, B.5).

    The ratio is taken per sample and frame (:func:`relative_l2_per_sample`) and then the arithmetic
    mean over the B samples: ``E(t) = (1/B) Σ_b ‖u_b(t) - û_b(t)‖₂ / ‖u_b(t)‖₂``. The paper reports
    ``E`` at the sixth time step of the surrogate simulation (Table 1, Fig. 7).
    """
    return relative_l2_per_sample(reference, prediction, stats=stats).mean(axis=0)
