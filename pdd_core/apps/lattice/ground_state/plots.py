"""The convergence figure of ``pdd ground-state``: the energy of every training batch against the step, with the exact line."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from pdd_core.apps.lattice.ground_state.energy import EnergyEstimate


def convergence_figure(history: Sequence[dict[str, Any]], exact: float, final: EnergyEstimate, title: str):
    """Batch energies ± their standard errors by step, the exact energy, and the final estimate; relative error on a log axis below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 6), layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    steps = np.array([row["step"] for row in history])
    energy = np.array([row["energy"] for row in history])
    stderr = np.array([row["energy_stderr"] for row in history])
    window = max(1, len(steps) // 30)
    running = np.convolve(energy, np.ones(window) / window, mode="valid")
    top.fill_between(steps, energy - stderr, energy + stderr, alpha=0.2, label="batch energy ± stderr")
    top.plot(steps[window - 1 :], running, color="C0", lw=1.5, label=f"running mean over {window} steps")
    top.axhline(exact, color="k", ls="--", label=f"exact / reference {exact:.6g}")
    top.axhline(final.energy, color="C3", ls=":", label=f"final estimate {final.energy:.6g} ± {final.stderr:.2g} ({final.samples} samples)")
    low, high = min(exact, float(running.min())), float(np.percentile(energy, 95))
    top.set_ylim(low - 0.05 * (high - low + 1e-12), high + 0.05 * (high - low + 1e-12))
    top.set_ylabel("E (RDM 6.13)")
    top.set_title(title)
    top.legend(fontsize=8)
    bottom.semilogy(steps, np.abs(energy - exact) / abs(exact), lw=0.5, alpha=0.5, label="batch")
    bottom.semilogy(steps[window - 1 :], np.abs(running - exact) / abs(exact), color="C0", lw=1.5, label="running mean")
    bottom.axhline(0.01, color="k", ls=":", lw=0.8, label="1 %")
    bottom.set_xlabel("training step")
    bottom.set_ylabel("|E - E₀| / |E₀|")
    bottom.legend(fontsize=8)
    return figure


__all__ = ["convergence_figure"]
