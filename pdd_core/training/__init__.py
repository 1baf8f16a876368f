"""Training parts of the core: configs, objectives (PDD / SA-PDD / denoising), networks, EMA.

The trainer and its checkpoints are an application: :mod:`pdd_core.apps.trainer`.
"""

from pdd_core.training.config import ModelConfig, TrainConfig, config_from_dict, config_to_dict
from pdd_core.training.ema import EMA
from pdd_core.training.models import MODELS, build_model
from pdd_core.training.objective_config import (
    ConditionalDenoisingObjectiveConfig,
    DenoisingObjectiveConfig,
    ObjectiveConfig,
    PDDObjectiveConfig,
    SAPDDObjectiveConfig,
)
from pdd_core.training.objectives import (
    ConditionalDenoisingObjective,
    DenoisingObjective,
    PDDObjective,
    SAPDDObjective,
    increment_loss,
    sample_lambda,
)

__all__ = [
    "EMA",
    "MODELS",
    "ConditionalDenoisingObjective",
    "DenoisingObjective",
    "ModelConfig",
    "ObjectiveConfig",
    "PDDObjectiveConfig",
    "SAPDDObjectiveConfig",
    "DenoisingObjectiveConfig",
    "ConditionalDenoisingObjectiveConfig",
    "PDDObjective",
    "SAPDDObjective",
    "TrainConfig",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "increment_loss",
    "sample_lambda",
]
