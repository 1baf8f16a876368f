"""Super-resolution figure: low-resolution input vs super-resolved output vs reference (PDD Fig. 4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pdd_core.apps.plots.output import channel_labels, check_output_path, new_figure, save_figure
from pdd_core.apps.plots.panels import ColorScale, as_single_path, check_compatible, check_dt, draw_panel, resolve_frame
from pdd_core.apps.plots.spectra import REFERENCE_STYLE
from pdd_core.metrics.arrays import as_field
from pdd_core.metrics.spectra import time_averaged_spatial_psd

COLUMNS = ("low resolution", "super-resolved", "reference")


def plot_super_resolution(
    low_res: Any,
    super_resolved: Any,
    reference: Any,
    out: Any,
    *,
    channel_names: Sequence[str] | None = None,
    frame: int | None = None,
    dt: float | None = None,
    title: str | None = None,
) -> Path:
    """Panels of the LR input, the SR output and the reference, plus their spatial PSDs; write a PNG.

    Each argument is a batch ``[B, T, C, *space]`` (1D or 2D grid, torch or numpy). The panels show
    sample 0 (1D: x-t Hovmöller with a dashed line at ``frame``; 2D: the snapshot at ``frame``,
    default the last; the paper uses the sixth time step), one row per channel on a shared colour
    scale; the last column holds the time-averaged spatial PSDs of the whole batches (Fig. 4 uses
    100 samples), reference in black. Returns the path of the PNG.
    """
    check_output_path(out)
    check_dt(dt)
    arguments = dict(zip(COLUMNS, (("low_res", low_res), ("super_resolved", super_resolved), ("reference", reference))))
    batches = {label: as_field(value, name) for label, (name, value) in arguments.items()}
    # Panels draw 1D or 2D fields; as_single_path rejects a 3D grid with a message naming the argument.
    samples = {label: as_single_path(batches[label][0], f"{name}[0]") for label, (name, _) in arguments.items()}
    check_compatible(samples, "fields")
    names = channel_labels(channel_names, samples[COLUMNS[0]].shape[1])
    frame = resolve_frame(frame, list(samples.values()))
    psds = {label: time_averaged_spatial_psd(batch) for label, batch in batches.items()}
    figure, axes = new_figure(len(names), len(COLUMNS) + 1, panel_size=(3.2, 2.6))
    for c, name in enumerate(names):
        scale = ColorScale.spanning([sample[:, c] for sample in samples.values()])
        for i, label in enumerate(COLUMNS):
            image = draw_panel(axes[c][i], samples[label], c, scale, frame=frame, dt=dt)
            axes[c][i].set_title(f"{label}: {name}", fontsize=9)
        figure.colorbar(image, ax=axes[c][: len(COLUMNS)], shrink=0.8)
        _draw_psds(axes[c][-1], {label: psd[c] for label, psd in psds.items()}, name)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out)


def _draw_psds(axis: Any, spectra: dict[str, np.ndarray], name: str) -> None:
    # Reference last in the column order but drawn first so the comparison curves sit on top of it.
    for label in (COLUMNS[2], COLUMNS[0], COLUMNS[1]):
        psd = spectra[label]
        k = np.arange(psd.size, dtype=np.float64)
        shown = (k > 0) & (psd > 0)
        style = REFERENCE_STYLE if label == COLUMNS[2] else {"linestyle": "--", "linewidth": 1.2}
        axis.loglog(k[shown], psd[shown], label=label, **style)
    axis.set_xlabel("wavenumber k")
    axis.set_ylabel("PSD")
    axis.set_title(f"time-averaged PSD: {name}", fontsize=9)
    axis.legend(fontsize=7)
