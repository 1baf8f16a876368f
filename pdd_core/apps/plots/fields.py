"""Spatiotemporal panels: reference vs surrogate vs baseline (PDD Figs. 2, 3, 5, 6, 8, 9 top rows)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pdd_core.apps.plots.output import channel_labels, check_labels, check_output_path, new_figure, save_figure
from pdd_core.apps.plots.panels import ColorScale, as_single_path, check_compatible, check_dt, draw_panel, resolve_frame


def plot_spatiotemporal_panels(
    paths: dict[str, Any],
    out: Any,
    *,
    channel_names: Sequence[str] | None = None,
    frame: int | None = None,
    dt: float | None = None,
    title: str | None = None,
) -> Path:
    """Plot one path per label and write a PNG to ``out``; return its path.

    ``paths`` maps a label ("reference", "surrogate", "DDPM", ...) to one path ``[T, C, N]`` (1D) or
    ``[T, C, H, W]`` (2D), torch or numpy. 1D: x-t Hovmöller panels, one row per label and one
    column per channel (Figs. 2, 5, 8), with a dashed line at ``frame`` if given. 2D: the snapshot
    at ``frame`` (default: the last frame; the paper shows the sixth time step), one column per
    label and one row per channel (Figs. 3, 6, 9). Every channel uses one colour scale across
    labels. ``dt`` labels time in physical units.
    """
    check_output_path(out)
    labels = check_labels(paths, "paths")
    arrays = {label: as_single_path(paths[label], f"paths[{label!r}]") for label in labels}
    check_compatible(arrays, "paths")
    check_dt(dt)
    first = arrays[labels[0]]
    names = channel_labels(channel_names, first.shape[1])
    frame = resolve_frame(frame, list(arrays.values()))
    one_dimensional = first.ndim == 3
    rows, cols = (len(labels), len(names)) if one_dimensional else (len(names), len(labels))
    figure, axes = new_figure(rows, cols, panel_size=(4.0, 2.2) if one_dimensional else (3.0, 3.0))
    for c, name in enumerate(names):
        scale = ColorScale.spanning([array[:, c] for array in arrays.values()])
        for i, label in enumerate(labels):
            axis = axes[i][c] if one_dimensional else axes[c][i]
            image = draw_panel(axis, arrays[label], c, scale, frame=frame, dt=dt)
            axis.set_title(f"{label}: {name}", fontsize=9)
        column_axes = [row[c] for row in axes] if one_dimensional else axes[c]
        figure.colorbar(image, ax=column_axes, shrink=0.8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out)
