"""Training: PDD / SA-PDD / denoising objectives, the resumable data-parallel trainer, checkpoints."""

from pdd_core.training.checkpoint import load_checkpoint, load_trained_model, save_checkpoint
from pdd_core.training.config import ModelConfig, ObjectiveConfig, TrainConfig, config_from_dict, config_to_dict
from pdd_core.training.ema import EMA
from pdd_core.training.models import MODELS, build_model
from pdd_core.training.objectives import (
    ConditionalDenoisingObjective,
    DenoisingObjective,
    PDDObjective,
    SAPDDObjective,
    increment_loss,
    sample_lambda,
)
from pdd_core.training.trainer import DivergenceError, TrainResult, train

__all__ = [
    "EMA",
    "MODELS",
    "ConditionalDenoisingObjective",
    "DenoisingObjective",
    "DivergenceError",
    "ModelConfig",
    "ObjectiveConfig",
    "PDDObjective",
    "SAPDDObjective",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "increment_loss",
    "load_checkpoint",
    "load_trained_model",
    "sample_lambda",
    "save_checkpoint",
    "train",
]
