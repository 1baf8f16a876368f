"""Power-spectrum plots: spatial PSD curves (PDD Figs. 2-4, right) and ω-k images (Figs. 5, 6, 8-10, bottom)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pdd_core.apps.plots.output import channel_labels, check_labels, check_output_path, new_figure, save_figure
from pdd_core.errors import ArgumentError, ShapeError, bad_argument
from pdd_core.metrics.arrays import as_real_array

REFERENCE_STYLE = {"color": "black", "linewidth": 1.6}
# log10 images show this many decades below each channel's peak; weaker modes get the lowest colour.
LOG_DECADES = 8.0


def plot_psd_comparison(
    psds: dict[str, Any],
    out: Any,
    *,
    channel_names: Sequence[str] | None = None,
    wavenumbers: Any = None,
    title: str | None = None,
) -> Path:
    """Log-log spatial PSD per label, one panel per channel; write a PNG to ``out`` and return its path.

    ``psds`` maps labels to ``[C, n_k]`` spectra (e.g. :func:`pdd_core.metrics.time_averaged_spatial_psd`).
    The FIRST label is drawn in black as the reference, the others in colour. The horizontal axis is
    the shell index k (or ``wavenumbers [n_k]`` if given); k = 0 and zero power cannot appear on a
    log axis and are left out.
    """
    check_output_path(out)
    arrays = as_spectra(psds, "psds", ndim=2, layout="[C, n_k]")
    first = next(iter(arrays.values()))
    names = channel_labels(channel_names, first.shape[0])
    figure, axes = new_figure(1, len(names), panel_size=(3.6, 3.0))
    for c, name in enumerate(names):
        axis = axes[0][c]
        for i, (label, psd) in enumerate(arrays.items()):
            k = _wavenumbers(wavenumbers, psd.shape[1])
            shown = (k > 0) & (psd[c] > 0)
            style = REFERENCE_STYLE if i == 0 else {"linestyle": "--", "linewidth": 1.2}
            axis.loglog(k[shown], psd[c][shown], label=label, **style)
        axis.set_xlabel("wavenumber k")
        axis.set_ylabel("PSD")
        axis.set_title(name, fontsize=9)
        axis.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out)


def plot_spatiotemporal_psd(psds: dict[str, Any], out: Any, *, channel_names: Sequence[str] | None = None, title: str | None = None) -> Path:
    """log10 of folded spatiotemporal PSDs ``[C, n_ω, n_k]`` per label (PDD Figs. 5, 6, 8, 9, 10, bottom rows).

    ``psds`` maps labels to :func:`pdd_core.metrics.fold_spatiotemporal_psd` outputs. One column per
    label, one row per channel, wavenumber k horizontal and frequency index |m| vertical; every channel
    shares one colour scale spanning ``LOG_DECADES`` decades below its peak. Writes a PNG, returns its path.
    """
    check_output_path(out)
    arrays = as_spectra(psds, "psds", ndim=3, layout="[C, n_omega, n_k]")
    labels = list(arrays)
    names = channel_labels(channel_names, arrays[labels[0]].shape[0])
    figure, axes = new_figure(len(names), len(labels), panel_size=(3.0, 2.8))
    for c, name in enumerate(names):
        peak = max(float(psd[c].max()) for psd in arrays.values())
        if peak <= 0:
            raise bad_argument(
                "psds", f"channel {name!r} has zero power everywhere", "nothing to show on a log scale", "check the fields the spectra came from"
            )
        high = np.log10(peak)
        for i, label in enumerate(labels):
            axis = axes[c][i]
            logged = np.log10(np.maximum(arrays[label][c], peak * 10.0**-LOG_DECADES))
            image = axis.imshow(logged, origin="lower", aspect="auto", interpolation="nearest", vmin=high - LOG_DECADES, vmax=high, cmap="magma")
            axis.set_xlabel("wavenumber k")
            axis.set_ylabel("frequency |m|")
            axis.set_title(f"{label}: {name}", fontsize=9)
        figure.colorbar(image, ax=axes[c], shrink=0.8, label="log10 PSD")
    if title:
        figure.suptitle(title)
    return save_figure(figure, out)


def as_spectra(psds: Any, name: str, *, ndim: int, layout: str) -> dict[str, np.ndarray]:
    """Check a ``{label: PSD}`` dict: float64 arrays with ``ndim`` axes, >= 0, one channel count."""
    labels = check_labels(psds, name)
    arrays = {label: as_real_array(psds[label], f"{name}[{label!r}]", ndim=(ndim, ndim), layout=layout).astype(np.float64) for label in labels}
    channels = arrays[labels[0]].shape[0]
    for label, psd in arrays.items():
        if psd.shape[0] != channels:
            raise bad_argument(
                f"{name}[{label!r}].shape",
                psd.shape,
                f"every spectrum needs the same {channels} channels",
                "compare spectra of the same system",
                kind=ShapeError,
            )
        if (psd < 0).any():
            raise bad_argument(
                f"{name}[{label!r}]", f"min {psd.min()}", "a power spectrum is >= 0 everywhere", "pass |FFT|² values (see pdd_core.metrics)", kind=ArgumentError
            )
    return arrays


def _wavenumbers(wavenumbers: Any, n_k: int) -> np.ndarray:
    if wavenumbers is None:
        return np.arange(n_k, dtype=np.float64)
    k = as_real_array(wavenumbers, "wavenumbers", ndim=(1, 1), layout="[n_k]").astype(np.float64)
    if k.shape != (n_k,):
        raise bad_argument(
            "wavenumbers.shape",
            k.shape,
            f"expected one wavenumber per shell ([{n_k}])",
            "pass wavenumbers matching every spectrum's n_k, or None",
            kind=ShapeError,
        )
    return k
