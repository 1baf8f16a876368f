"""Datasets: presets, the HDF5 layout, generation with crash-safe resume, torch datasets."""

from pdd_core.data.presets import DatasetPreset

__all__ = ["DatasetPreset"]
