"""pdd: the package face over the core and the applications (docs/guide.md, "Architecture").

The core modules (everything in ``pdd_core`` outside ``pdd_core.apps``) know no concrete
system, scheme or solver and import nothing from the applications; ``pdd_core.apps`` (trained
runs, dataset I/O, training, inference, evaluation, lattice studies, plots, the command line)
sits on top. The ``pdd`` command composes concrete parts through the registries in
:mod:`pdd_core.registry`.

Importing this face (or any core module) loads the core only: the application names it offers
(``train``) are imported on first access, so ``import pdd_core.grid`` never pulls in the trainer.
"""

from importlib import import_module

from pdd_core.config import from_dict, from_tagged, tagged, to_dict
from pdd_core.drifts import LinearDrift, drift_on_path, history_windows
from pdd_core.errors import ArgumentError, ConfigError, DataError, DTypeError, PDDError, ShapeError
from pdd_core.grid import Grid
from pdd_core.noise_source import GeneratorNoise, NoNoise
from pdd_core.protocols import Drift, LambdaSampler, NoiseSource, RGScheme, Score, System, TimeIntegrator
from pdd_core.records import Trajectory, Transition
from pdd_core.registry import INTEGRATORS, METRICS, OBJECTIVES, SAMPLERS, SCHEMES, SYSTEMS, Registry
from pdd_core.rollout import rollout, rollout_at
from pdd_core.sampling import ReversePlan, extrapolate_t0, sample, sample_at
from pdd_core.schedules import power_schedule, uniform_schedule
from pdd_core.score import (
    CalibratedNoise,
    DenoisingScore,
    GaussianPathScore,
    NoisePredictionScore,
    PathScore,
    PerModeNoise,
    SAPDDScore,
    ScalarNoise,
    log_density,
    path_log_density,
)
from pdd_core.spectral import apply_diagonal, irfft, phi1, phi2, rfft
from pdd_core.thermalizer import Thermalizer
from pdd_core.training import TrainConfig
from pdd_core.version import __version__

# Names of the applications the face offers, with the module each comes from (loaded on first use).
APPLICATION_NAMES = {"train": "pdd_core.apps.trainer"}


def __getattr__(name: str):
    """``from pdd_core import train``: an application name is imported when first asked for."""
    if name not in APPLICATION_NAMES:
        raise AttributeError(f"module 'pdd_core' has no attribute {name!r}")
    value = getattr(import_module(APPLICATION_NAMES[name]), name)
    globals()[name] = value  # later lookups find it without this hook
    return value


__all__ = [
    "__version__",
    "DenoisingScore",
    "GaussianPathScore",
    "LinearDrift",
    "NoisePredictionScore",
    "PathScore",
    "CalibratedNoise",
    "PerModeNoise",
    "ScalarNoise",
    "SAPDDScore",
    "TrainConfig",
    "drift_on_path",
    "extrapolate_t0",
    "history_windows",
    "log_density",
    "path_log_density",
    "phi2",
    "power_schedule",
    "rollout",
    "rollout_at",
    "sample",
    "sample_at",
    "Thermalizer",
    "ReversePlan",
    "GeneratorNoise",
    "NoNoise",
    "NoiseSource",
    "train",
    "uniform_schedule",
    "ArgumentError",
    "ConfigError",
    "DTypeError",
    "DataError",
    "Drift",
    "Grid",
    "LambdaSampler",
    "PDDError",
    "Trajectory",
    "RGScheme",
    "Registry",
    "INTEGRATORS",
    "METRICS",
    "OBJECTIVES",
    "SAMPLERS",
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
