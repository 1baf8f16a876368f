"""Drifts f_λ(history): history windows, the linear verification drift and neural networks."""

from pdd_core.drifts.embedding import DriftNetwork, FiLM, LambdaEmbedding
from pdd_core.drifts.fno import FNO, SpectralConv
from pdd_core.drifts.linear import LinearDrift
from pdd_core.drifts.presets import DRIFT_PRESETS, drift_preset
from pdd_core.drifts.unet import PeriodicUpsample, UNet
from pdd_core.drifts.windows import apply_to_windows, drift_on_path, history_windows

__all__ = [
    "DRIFT_PRESETS",
    "DriftNetwork",
    "FNO",
    "FiLM",
    "LambdaEmbedding",
    "LinearDrift",
    "PeriodicUpsample",
    "SpectralConv",
    "UNet",
    "apply_to_windows",
    "drift_on_path",
    "drift_preset",
    "history_windows",
]
