"""Figures of RG flows (RDM Fig. 6): estimator flows, sample fields along the flow, scheme comparison.

Functions return :class:`matplotlib.figure.Figure` objects built without pyplot (Agg canvas,
no global backend state); the caller saves them. Undefined values (``None`` in the JSON,
NaN here) are left out of the curves.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from pdd_core.apps.lattice.estimators import FlowPoint
from pdd_core.apps.lattice.rg_flow import ComparisonPoint

# (estimator, axis label) of the flow panels: RDM 7.8, 7.9, r_t² x 7.10 (as Fig. 6), 7.11.
FLOW_PANELS: tuple[tuple[str, str], ...] = (
    ("m_R", "$m_R$ (7.8)"),
    ("Z", "$Z$ (7.9)"),
    ("r2_lambda_R", r"$r_t^2\,\lambda_R$ (7.10)"),
    ("max_abs_phi", r"$\max_n|\phi(n)|$ (7.11)"),
)


def _figure(rows: int, columns: int, width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, columns, squeeze=False)


def _time_axis(axis, ts: Sequence[float]) -> None:
    positive = [t for t in ts if t > 0]
    if positive:
        axis.set_xscale("symlog", linthresh=min(positive))
    axis.set_xlabel("RG time t")
    axis.grid(True, alpha=0.3)


def _series(points: Sequence[FlowPoint], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts = np.array([point.t for point in points])
    values = np.array([point.estimates[name].value for point in points])
    errors = np.array([point.estimates[name].error for point in points])
    return ts, values, np.where(np.isfinite(errors), errors, 0.0)


def flow_figure(flows: Mapping[str, Sequence[FlowPoint]], title: str):
    """2 x 2 panels of m_R, Z, r_t² λ_R and max|φ| against t, one curve per scheme, with errors."""
    figure, axes = _figure(2, 2, 10.0, 7.5)
    for axis, (name, label) in zip(axes.flat, FLOW_PANELS):
        for scheme, points in flows.items():
            ts, values, errors = _series(points, name)
            axis.errorbar(ts, values, yerr=errors, marker="o", markersize=3, capsize=2, label=scheme)
        _time_axis(axis, [point.t for points in flows.values() for point in points])
        axis.set_ylabel(label)
    axes[0, 0].legend()
    figure.suptitle(title)
    return figure


def fields_figure(fields: Mapping[str, Mapping[float, np.ndarray]], ts: Sequence[float], title: str):
    """One row per scheme of imshow panels of the same sample at the flow times ``ts`` (Fig. 6 style).

    Each panel spans its own range min..max (printed above it), so the fluctuations stay
    visible on top of a large mean field (broken phase) and as the Polchinski fields shrink.
    """
    figure, axes = _figure(len(fields), len(ts), 2.2 * len(ts), 2.5 * len(fields))
    for row, (scheme, by_t) in enumerate(fields.items()):
        for column, t in enumerate(ts):
            image = by_t[t]
            axis = axes[row, column]
            axis.imshow(image, cmap="viridis", vmin=float(image.min()), vmax=float(image.max()), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"t={t:g}\nφ ∈ [{image.min():.3g}, {image.max():.3g}]", fontsize=8)
        axes[row, 0].set_ylabel(scheme)
    figure.suptitle(title)
    return figure


def comparison_figure(points: Sequence[ComparisonPoint], reference: str, other: str, title: str):
    """c(t) of RDM 5.55 and the flows of ``reference`` against ``other`` rescaled by 1/c (5.54)."""
    figure, axes = _figure(1, 4, 16.0, 3.8)
    ts = np.array([point.t for point in points])
    c = np.array([point.c.value for point in points])
    c_error = np.array([point.c.error for point in points])
    axes[0, 0].errorbar(ts, c, yerr=np.where(np.isfinite(c_error), c_error, 0.0), marker="o", markersize=3, capsize=2)
    axes[0, 0].set_ylabel(f"c(t): ⟨φφ⟩_{reference} ≈ ⟨φφ⟩_{other} / c²")
    _time_axis(axes[0, 0], ts)
    for axis, (name, label) in zip(axes[0, 1:], FLOW_PANELS[1:]):
        for series, key in ((reference, "reference"), (f"{other} / c", "rescaled_other")):
            values = np.array([getattr(point, key)[name].value for point in points])
            errors = np.array([getattr(point, key)[name].error for point in points])
            axis.errorbar(ts, values, yerr=np.where(np.isfinite(errors), errors, 0.0), marker="o", markersize=3, capsize=2, label=series)
        _time_axis(axis, ts)
        axis.set_ylabel(label)
    axes[0, 1].legend()
    figure.suptitle(title)
    return figure


def snapshot_times(ts: Sequence[float], count: int = 6) -> list[float]:
    """Up to ``count`` flow times spread over ``ts`` (first and last included)."""
    ordered = sorted(ts)
    if len(ordered) <= count:
        return ordered
    picks = np.unique(np.round(np.linspace(0, len(ordered) - 1, count)).astype(int))
    return [ordered[i] for i in picks]


__all__ = ["FLOW_PANELS", "comparison_figure", "fields_figure", "flow_figure", "snapshot_times"]
