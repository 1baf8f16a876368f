"""Power spectra of spatiotemporal fields and the relative spectral error (PDD Eq. 64, B.5).

All transforms are orthonormal (``norm="ortho"``), so every PSD obeys Parseval: summed over its
modes it equals the mean squared norm of the field it came from (per sample, or per frame for the
time-averaged spatial PSD). PSDs are averaged over samples; channels stay a separate axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pdd_core.errors import ArgumentError, bad_argument
from pdd_core.metrics.arrays import as_field, as_real_array, check_same_shape, float64_chunks
from pdd_core.metrics.normalization import CHANNEL_AXIS, Standardizer
from pdd_core.metrics.shells import shell_sum

TIME_AXIS = 1
# compare_psd's log-ratio clamps both spectra at this fraction of the reference's peak, so
# empty modes (e.g. k = 0 of a zero-mean field) give a finite, small contribution.
LOG_FLOOR = 1e-12


def spatiotemporal_psd(u: Any, *, stats: tuple[Any, Any] | None = None) -> np.ndarray:
    """Sample mean of ``|G[u]|²``, G the orthonormal FFT over t and all spatial axes (PDD Eq. 64).

    ``u`` is ``[B, T, C, *space]`` (torch or numpy); the result is float64 ``[T, C, *space]``: the
    frequency axis ω and the wavenumber axes in ``numpy.fft.fftfreq`` order, channels transformed
    separately. ``stats = (mean, std)`` standardises first with shared per-channel parameters (B.5).
    """
    return _spatiotemporal_psd(as_field(u, "u"), stats)


def relative_spectral_error(reference: Any, prediction: Any, *, stats: tuple[Any, Any] | None = None) -> float:
    """Relative spectral error ``‖ |G[u]|² - |G[û]|² ‖₁ / ‖ |G[u]|² ‖₁`` (PDD Eq. 64).

    Both PSDs are first averaged over their samples (:func:`spatiotemporal_psd`), then compared
    over every frequency, channel and wavenumber at once. The sample counts may differ (e.g. 100
    generated paths against the test set); ``[T, C, *space]`` must match. For long rollouts cut
    both into segments of one sample's length first (:func:`pdd_core.metrics.segments`, B.5).
    Pass ``stats`` (shared per-channel mean and std) to standardise both fields as B.5 does.
    """
    ref = as_field(reference, "reference")
    pred = as_field(prediction, "prediction")
    check_same_shape(ref, pred, from_axis=1)
    return _relative_l1(_spatiotemporal_psd(ref, stats), _spatiotemporal_psd(pred, stats), "reference")


def time_averaged_spatial_psd(u: Any, *, stats: tuple[Any, Any] | None = None) -> np.ndarray:
    """Spatial PSD averaged over time and samples, summed over integer |k| shells: float64 ``[C, n_k]``.

    Entry ``[c, k]`` is ``mean_{b,t} Σ_{round(|n|)=k} |F[u_{b,t,c}](n)|²`` with F the orthonormal
    spatial FFT (PDD Figs. 2-4, right panels). In 1D this is the one-sided spectrum ``k = 0..N//2``;
    in 2D the shells are rings (see :mod:`pdd_core.metrics.shells`; divide by ``shell_counts`` for
    a per-mode mean). Summed over k it equals the mean squared norm of a frame of channel c.
    """
    field = as_field(u, "u")
    space = field.shape[CHANNEL_AXIS + 1 :]
    power = _mean_power(field, tuple(range(CHANNEL_AXIS + 1, field.ndim)), Standardizer.build(stats, field.shape[CHANNEL_AXIS]))
    return shell_sum(power.mean(axis=0), space)


def fold_spatiotemporal_psd(psd: Any) -> np.ndarray:
    """Fold a spatiotemporal PSD ``[T, C, *space]`` into ``[C, n_ω, n_k]`` for ω-k pictures.

    Frequencies ±m are summed into ``|m| = 0..T//2`` and wavenumbers into integer shells, so the
    total power is unchanged (PDD Figs. 5, 6, 8, 9: spatiotemporal PSDs).
    """
    array = as_real_array(psd, "psd", ndim=(3, 5), layout="[T, C, *space] (the output of spatiotemporal_psd)")
    _check_nonnegative(array, "psd")
    space = array.shape[2:]
    per_k = shell_sum(array.astype(np.float64), space)
    per_omega_k = shell_sum(np.moveaxis(per_k, 0, -1), (array.shape[0],))
    return np.swapaxes(per_omega_k, -1, -2)


def compare_psd(reference_psd: Any, prediction_psd: Any) -> dict[str, float]:
    """Summary of how far a PSD (any layout, e.g. ``[C, n_k]``) is from a reference PSD of the same shape.

    Returns ``{"relative_l1": Σ|P̂ - P| / ΣP, "mean_abs_log10_ratio": mean |log10(P̂ / P)|}``. The
    first is dominated by the energetic large scales (it is Eq. 64's form); the second weighs every
    wavenumber equally, as a log-log plot does, and so exposes small-scale errors. For the log
    ratio both spectra are clamped below at ``1e-12 · max(P)``.
    """
    ref = as_real_array(reference_psd, "reference_psd", ndim=(1, 6), layout="a PSD, e.g. [C, n_k]")
    pred = as_real_array(prediction_psd, "prediction_psd", ndim=(1, 6), layout="a PSD, e.g. [C, n_k]")
    check_same_shape(ref, pred)
    _check_nonnegative(ref, "reference_psd")
    _check_nonnegative(pred, "prediction_psd")
    ref, pred = ref.astype(np.float64), pred.astype(np.float64)
    relative_l1 = _relative_l1(ref, pred, "reference_psd")
    floor = LOG_FLOOR * ref.max()
    log_ratio = np.abs(np.log10(np.maximum(pred, floor)) - np.log10(np.maximum(ref, floor)))
    return {"relative_l1": relative_l1, "mean_abs_log10_ratio": float(log_ratio.mean())}


def _spatiotemporal_psd(field: np.ndarray, stats: tuple[Any, Any] | None) -> np.ndarray:
    axes = (TIME_AXIS, *range(CHANNEL_AXIS + 1, field.ndim))
    return _mean_power(field, axes, Standardizer.build(stats, field.shape[CHANNEL_AXIS]))


def _mean_power(field: np.ndarray, axes: tuple[int, ...], standardizer: Standardizer | None) -> np.ndarray:
    total = None
    for chunk in float64_chunks(field):
        if standardizer is not None:
            chunk = standardizer(chunk)
        power = np.abs(np.fft.fftn(chunk, axes=axes, norm="ortho")) ** 2
        total = power.sum(axis=0) if total is None else total + power.sum(axis=0)
    return total / field.shape[0]


def _relative_l1(reference: np.ndarray, prediction: np.ndarray, name: str) -> float:
    norm = np.abs(reference).sum()
    if norm == 0:
        raise bad_argument(
            name, "all-zero spectrum", "the relative error divides by the reference's total power", "compare against a reference that is not identically zero"
        )
    return float(np.abs(prediction - reference).sum() / norm)


def _check_nonnegative(psd: np.ndarray, name: str) -> None:
    if (psd < 0).any():
        raise bad_argument(
            name,
            f"min {psd.min()}",
            "a power spectrum is >= 0 everywhere",
            "pass |FFT|² values (e.g. from spatiotemporal_psd), not the transform itself",
            kind=ArgumentError,
        )
