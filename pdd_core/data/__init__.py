"""The dataset layout of the core: presets and the HDF5 format.

Generation and torch datasets are an application: :mod:`pdd_core.apps.datasets`.
"""

from pdd_core.data.hdf5_layout import FORMAT_VERSION, SPLITS, DatasetMetadata, write_dataset_file
from pdd_core.data.hdf5_reader import open_dataset_file, read_metadata
from pdd_core.data.presets import DatasetPreset

__all__ = [
    "FORMAT_VERSION",
    "SPLITS",
    "DatasetMetadata",
    "DatasetPreset",
    "open_dataset_file",
    "read_metadata",
    "write_dataset_file",
]
