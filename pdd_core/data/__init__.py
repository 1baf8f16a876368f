"""Datasets: presets, the HDF5 layout, generation with crash-safe resume, torch datasets."""

from pdd_core.data.dataset import PathDataset
from pdd_core.data.generate import GenerationReport, configure_system, generate_dataset
from pdd_core.data.hdf5_layout import FORMAT_VERSION, SPLITS, DatasetMetadata, open_dataset_file, read_metadata, write_dataset_file
from pdd_core.data.presets import DatasetPreset

__all__ = [
    "FORMAT_VERSION",
    "SPLITS",
    "DatasetMetadata",
    "DatasetPreset",
    "GenerationReport",
    "PathDataset",
    "configure_system",
    "generate_dataset",
    "open_dataset_file",
    "read_metadata",
    "write_dataset_file",
]
