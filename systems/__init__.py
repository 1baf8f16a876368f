"""Physical systems and their truth integrators (numba kernels, FFT pseudospectral).

Importing this package registers every system in :data:`pdd_core.registry.SYSTEMS`.
"""

from systems.kolmogorov import KolmogorovFlow
from systems.kuramoto_sivashinsky import KuramotoSivashinsky
from systems.linear_field import LinearGaussianField
from systems.lorenz96 import Lorenz96
from systems.phi4 import AutocorrelationTime, HMCRun, HMCStats, LatticePhi4, integrated_autocorrelation_time

__all__ = [
    "AutocorrelationTime",
    "HMCRun",
    "HMCStats",
    "KolmogorovFlow",
    "KuramotoSivashinsky",
    "LatticePhi4",
    "LinearGaussianField",
    "Lorenz96",
    "integrated_autocorrelation_time",
]
