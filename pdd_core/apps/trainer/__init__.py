"""The resumable, data-parallel trainer and its self-describing checkpoints."""

from pdd_core.apps.trainer.checkpoint import load_checkpoint, load_trained_model, save_checkpoint
from pdd_core.apps.trainer.loop import DivergenceError, TrainResult, train

__all__ = ["DivergenceError", "TrainResult", "load_checkpoint", "load_trained_model", "save_checkpoint", "train"]
