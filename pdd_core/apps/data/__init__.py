"""Dataset I/O: generation with crash-safe resume, and torch datasets that standardise paths."""

from pdd_core.apps.data.dataset import PathDataset
from pdd_core.apps.data.generate import GenerationReport, configure_system, generate_dataset

__all__ = ["GenerationReport", "PathDataset", "configure_system", "generate_dataset"]
