"""Training: PDD / SA-PDD / denoising objectives and the trainer."""

from pdd_core.training.objectives import (
    ConditionalDenoisingObjective,
    DenoisingObjective,
    PDDObjective,
    SAPDDObjective,
    increment_loss,
    sample_lambda,
)

__all__ = ["ConditionalDenoisingObjective", "DenoisingObjective", "PDDObjective", "SAPDDObjective", "increment_loss", "sample_lambda"]
