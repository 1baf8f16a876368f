"""The learned-against-true differences of :func:`~pdd_core.apps.lattice.inverse_rg.comparison.compare_learned_flow` as a figure."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from pdd_core.apps.lattice.inverse_rg.comparison import HEADLINE


def difference_figure(comparison: Mapping[str, Any], title: str, names: Sequence[str] = HEADLINE):
    """Two panels against t: (learned - true) in units of the combined error, and relative to |true|."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11.0, 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    sigma_axis, relative_axis = figure.subplots(1, 2)
    ts = [point["t"] for point in comparison["points"]]
    for name in names:
        entries = [point["estimates"][name] for point in comparison["points"]]
        # None (undefined) becomes NaN, which matplotlib leaves out of the line.
        sigmas = [entry["difference_in_sigma"] if entry["difference_in_sigma"] is not None else float("nan") for entry in entries]
        relative = [100 * entry["relative_difference"] if entry["relative_difference"] is not None else float("nan") for entry in entries]
        sigma_axis.plot(ts, sigmas, marker="o", markersize=3, label=name)
        relative_axis.plot(ts, relative, marker="o", markersize=3, label=name)
    for band in (-2.0, 2.0):
        sigma_axis.axhline(band, color="grey", linestyle=":", linewidth=1)
    positive = [t for t in ts if t > 0]
    for axis, label in ((sigma_axis, "(learned − true) / σ_combined"), (relative_axis, "(learned − true) / |true|  [%]")):
        if positive:
            axis.set_xscale("symlog", linthresh=min(positive))
        axis.set_xlabel("RG time t")
        axis.set_ylabel(label)
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.grid(True, alpha=0.3)
    sigma_axis.legend()
    figure.suptitle(title)
    return figure


__all__ = ["difference_figure"]
