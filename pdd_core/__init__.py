"""pdd core: protocols, state records, spectral helpers, configuration and errors.

The library modules here know no concrete system, scheme or solver; the ``pdd`` command
composes concrete parts through the registries in :mod:`pdd_core.registry`.
"""

from importlib import metadata as _metadata

from pdd_core.config import from_dict, from_tagged, tagged, to_dict
from pdd_core.errors import ArgumentError, ConfigError, DataError, DTypeError, PDDError, ShapeError
from pdd_core.grid import Grid
from pdd_core.protocols import Drift, LambdaSampler, RGScheme, Score, System, TimeIntegrator
from pdd_core.records import Path, Transition
from pdd_core.registry import SCHEMES, SYSTEMS, Registry
from pdd_core.spectral import apply_diagonal, irfft, phi1, rfft

try:
    __version__ = _metadata.version("pdd")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "ArgumentError",
    "ConfigError",
    "DTypeError",
    "DataError",
    "Drift",
    "Grid",
    "LambdaSampler",
    "PDDError",
    "Path",
    "RGScheme",
    "Registry",
    "SCHEMES",
    "SYSTEMS",
    "Score",
    "ShapeError",
    "System",
    "TimeIntegrator",
    "Transition",
    "apply_diagonal",
    "from_dict",
    "from_tagged",
    "irfft",
    "phi1",
    "rfft",
    "tagged",
    "to_dict",
]
