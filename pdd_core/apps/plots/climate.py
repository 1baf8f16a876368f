"""The running climate of a long rollout: its per-channel mean and std in time against the truth's band."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pdd_core.apps.plots.output import channel_labels, check_output_path, new_figure, save_figure
from pdd_core.errors import ShapeError, bad_argument


def plot_running_climate(
    running: Mapping[str, Any],
    band: Mapping[str, Any],
    out: Any,
    *,
    dt: float = 1.0,
    channel_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Block mean and std of a rollout per channel against time, over the truth's band; write a PNG.

    ``running`` is :func:`pdd_core.apps.evaluation.rollout_climate.running_climate`'s record (``start_frames``,
    ``mean`` and ``std`` ``[n, C]``, ``block``); ``band`` is
    :func:`~pdd_core.apps.evaluation.rollout_climate.truth_band`'s (per-channel low and high of the truth's
    mean and std over groups of as many paths). A rollout that keeps its climate stays in the band.
    """
    check_output_path(out)
    means, stds = np.asarray(running["mean"], dtype=np.float64), np.asarray(running["std"], dtype=np.float64)
    if means.ndim != 2 or means.shape != stds.shape or means.shape[1] != len(band["mean_low"]):
        raise bad_argument("running", means.shape, "expected mean and std shaped [n_blocks, C] matching the band's channels", "pass running_climate(...) and truth_band(...) of one run", kind=ShapeError)
    times = (np.asarray(running["start_frames"], dtype=np.float64) + running["block"] / 2) * dt
    labels = channel_labels(channel_names, means.shape[1])
    figure, axes = new_figure(2, means.shape[1], panel_size=(3.8, 2.4))
    for c, label in enumerate(labels):
        for row, (values, low, high, name) in enumerate(((means, "mean_low", "mean_high", "mean"), (stds, "std_low", "std_high", "std"))):
            axis = axes[row][c]
            axis.axhspan(band[low][c], band[high][c], color="0.8", label="truth (range over groups)")
            axis.plot(times, values[:, c], linewidth=1.0, label="rollout")
            axis.set_ylabel(f"{label} {name}")
            axis.grid(alpha=0.3)
            if row == 1:
                axis.set_xlabel("t")
    axes[0][0].legend(fontsize=7)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out)
