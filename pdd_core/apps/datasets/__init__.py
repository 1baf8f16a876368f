"""Dataset I/O: generation with crash-safe resume, and torch datasets that standardise paths."""

from pdd_core.apps.datasets.generation import GenerationReport, configure_system, generate_dataset
from pdd_core.apps.datasets.path_dataset import PathDataset

__all__ = ["GenerationReport", "PathDataset", "configure_system", "generate_dataset"]
