"""The installed package version, for provenance records (``pdd_version`` in files and checkpoints)."""

from importlib import metadata

try:
    __version__ = metadata.version("pdd")
except metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
