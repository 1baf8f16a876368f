"""Learned against true RG flow: the estimators of RDM 7.3-7.11 of both, in numbers.

At every common t and for every estimator: the difference in units of the combined error,
(learned - true) / sqrt(σ_learned² + σ_true²), and relative to the true value; per estimator a
summary over t. The two sample sets are independent (different generators), so the errors
add in quadrature.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import attrs
import numpy as np

from pdd_core.apps.lattice.estimators import FlowPoint
from pdd_core.errors import bad_argument
from pdd_core.metrics.resampling import Estimate

# The estimators of RDM 7.8-7.11 and the 2-point functions behind them.
COMPARED: tuple[str, ...] = ("m_R", "m_phys", "Z", "lambda_R", "g_R", "max_abs_phi", "G2_0", "G2_p1", "G4c_0")
HEADLINE: tuple[str, ...] = ("m_R", "Z", "lambda_R", "max_abs_phi")


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@attrs.frozen
class Difference:
    """One estimator at one t: learned against true, in units of the combined error and relative (NaN where undefined)."""

    learned: Estimate
    true: Estimate
    sigmas: float
    relative: float

    @classmethod
    def of(cls, learned: Estimate, true: Estimate) -> "Difference":
        gap = learned.value - true.value
        combined = math.hypot(learned.error, true.error)
        sigmas = gap / combined if combined > 0 else math.nan
        relative = gap / abs(true.value) if true.value != 0 else math.nan
        return cls(learned=learned, true=true, sigmas=float(sigmas), relative=float(relative))

    @property
    def defined(self) -> bool:
        return math.isfinite(self.sigmas) and math.isfinite(self.relative)

    def to_json(self) -> dict[str, Any]:
        return {
            "learned": self.learned.to_json(),
            "true": self.true.to_json(),
            "difference_in_sigma": _finite_or_none(self.sigmas),
            "relative_difference": _finite_or_none(self.relative),
        }


def summarise(entries: Sequence[Difference]) -> dict[str, Any]:
    """``count``, ``max_abs_sigma``, ``median_abs_sigma``, ``within_2_sigma`` (fraction), ``median_abs_relative``, ``max_abs_relative`` over the defined entries."""
    defined = [entry for entry in entries if entry.defined]
    if not defined:
        return {"count": 0, "max_abs_sigma": None, "median_abs_sigma": None, "within_2_sigma": None, "median_abs_relative": None, "max_abs_relative": None}
    sigmas = np.abs([entry.sigmas for entry in defined])
    relative = np.abs([entry.relative for entry in defined])
    return {
        "count": len(defined),
        "max_abs_sigma": float(sigmas.max()),
        "median_abs_sigma": float(np.median(sigmas)),
        "within_2_sigma": float((sigmas <= 2.0).mean()),
        "median_abs_relative": float(np.median(relative)),
        "max_abs_relative": float(relative.max()),
    }


def compare_learned_flow(learned: Sequence[FlowPoint], true: Sequence[FlowPoint], names: Sequence[str] = COMPARED) -> dict[str, Any]:
    """Per common t the :class:`Difference` of every estimator in ``names``, and per estimator a summary
    over t (:func:`summarise`; ``all`` pools them). JSON-ready: ``{"points": [...], "summary": {...}}``."""
    by_t = {point.t: point for point in true}
    common = [point for point in learned if point.t in by_t]
    if not common:
        raise bad_argument("learned", [point.t for point in learned], "shares no flow time with the true flow", "estimate both flows at the same ts")
    for name in names:
        if name not in common[0].estimates:
            raise bad_argument("names", name, "is not an estimator of the flow points", f"use names from {sorted(common[0].estimates)}")
    points, pooled = [], {name: [] for name in names}
    for point in common:
        entries = {name: Difference.of(point.estimates[name], by_t[point.t].estimates[name]) for name in names}
        for name, entry in entries.items():
            pooled[name].append(entry)
        points.append({"t": point.t, "estimates": {name: entry.to_json() for name, entry in entries.items()}})
    summary = {name: summarise(entries) for name, entries in pooled.items()}
    summary["all"] = summarise([entry for entries in pooled.values() for entry in entries])
    return {"points": points, "summary": summary}


def summary_lines(comparison: Mapping[str, Any], names: Sequence[str] = HEADLINE) -> list[str]:
    """Human-readable lines: per t the learned and true values of ``names`` and their gap in σ, then the summaries."""
    lines = []
    for point in comparison["points"]:
        cells = []
        for name in names:
            entry = point["estimates"][name]
            learned, true, sigmas = entry["learned"], entry["true"], entry["difference_in_sigma"]
            if learned["value"] is None or true["value"] is None:
                cells.append(f"{name}=undefined")
                continue
            gap = f"{sigmas:+.1f}σ" if sigmas is not None else "n/a"
            cells.append(f"{name}={learned['value']:.4g}±{learned['error']:.2g} vs {true['value']:.4g}±{true['error']:.2g} ({gap})")
        lines.append(f"  t={point['t']:<8g} " + "  ".join(cells))
    for name in (*names, "all"):
        entry = comparison["summary"][name]
        if entry["count"]:
            lines.append(
                f"  {name:<12} median |Δ| = {entry['median_abs_sigma']:.2f}σ (max {entry['max_abs_sigma']:.2f}σ, {100 * entry['within_2_sigma']:.0f}% within 2σ), "
                f"median |Δ|/|true| = {100 * entry['median_abs_relative']:.2g}% over {entry['count']} ts"
            )
    return lines


__all__ = ["COMPARED", "Difference", "HEADLINE", "compare_learned_flow", "summarise", "summary_lines"]
