"""Drifts f_λ(history): history windows, the linear verification drift and neural networks."""

from pdd_core.drifts.linear import LinearDrift
from pdd_core.drifts.windows import apply_to_windows, drift_on_path, history_windows

__all__ = ["LinearDrift", "apply_to_windows", "drift_on_path", "history_windows"]
