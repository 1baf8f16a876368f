"""The two RG-time ranges of the learned inverse RG: zero mode on [t_split, t_max], lattice on [0, t_split].

Per orthonormal mode the M-modified Carosso flow (RDM 5.20 with 7.1) is φ̂_t = C̃_t φ̂_0 +
sqrt(Σ̃_t) ε̂, C̃_t = e^{-κ_p t}. What is left of the data in p_t is e^{-κ_p t} sqrt(G_p / Σ̃_t(p)),
G_p = ⟨|φ̂_0(p)|²⟩, in units of the noise (:func:`signal_to_noise`). Where it is below
``split_tolerance`` on every non-zero mode, p_t is the law of the zero mode ẑ times exact
Gaussians N(0, Σ̃_t(p)) on the others (the kernel is diagonal in p); where it is below
``prior_tolerance`` on every mode, p_t is the prior N(0, Σ̃_t).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import attrs
import numpy as np
import torch

from pdd_core.apps.lattice.estimators import field_array
from pdd_core.errors import DTypeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.spectral import rfft
from pdd_core.validation import check_positive

DEFAULT_PRIOR_TOLERANCE = 0.05
# A non-zero mode whose data is 0.02 noise units is drawn as pure noise: its variance is then off by
# 0.02² = 4e-4 relative, far below the Monte Carlo error of any estimator here.
DEFAULT_SPLIT_TOLERANCE = 0.02


def check_carosso(scheme: Any) -> Any:
    """Require the M-modified Carosso scheme (attrs record with alpha, beta, mass > 0, gamma = 0)."""
    names = {field.name for field in attrs.fields(type(scheme))} if attrs.has(type(scheme)) else set()
    if not {"alpha", "beta", "mass"} <= names:
        raise bad_argument("scheme", scheme, "the learned inverse RG is defined for the Carosso scheme", "pass schemes.Carosso(alpha=1, beta=sqrt(2)/ε, mass=1)", kind=DTypeError)
    if not scheme.mass > 0:
        problem = "with M = 0 the zero mode never decays, so there is no prior to sample from (RDM 7.1)"
        raise bad_argument("scheme.mass", scheme.mass, problem, "use the M-modified scheme, e.g. mass=1")
    if getattr(scheme, "gamma", 0.0) != 0.0:
        raise bad_argument("scheme.gamma", scheme.gamma, "the zero-mode carrier assumes the kernel of RDM 5.20 (no extra damping)", "use gamma=0")
    return scheme


def zero_mode(fields: torch.Tensor) -> torch.Tensor:
    """The orthonormal zero mode ẑ = Σ_n φ(n) / sqrt(#sites) of fields ``[..., N0, N1]`` -> ``[...]``."""
    return fields.sum(dim=(-2, -1)) / math.sqrt(fields.shape[-2] * fields.shape[-1])


def with_zero_mode(fields: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``fields`` ``[..., N0, N1]`` with their orthonormal zero mode replaced by ``value`` ``[...]``."""
    shift = (value - zero_mode(fields)) / math.sqrt(fields.shape[-2] * fields.shape[-1])
    return fields + shift[..., None, None]


def mode_power(fields: torch.Tensor, grid: Grid) -> torch.Tensor:
    """G_p = ⟨|φ̂(p)|²⟩ per orthonormal rfft mode of fields ``[n, *grid.shape]`` (float64)."""
    return (rfft(fields.to(torch.float64), grid.ndim).abs() ** 2).mean(dim=0)


def signal_to_noise(power: torch.Tensor, grid: Grid, scheme: Any, t: float) -> np.ndarray:
    """e^{-κ_p t} sqrt(G_p / Σ̃_t(p)) per rfft mode, for t > 0 (module docstring)."""
    check_positive("t", t)
    step = scheme.marginal(grid, t, 1)
    return (step.damping[0, 0, 0] * (power / step.variance[0, 0, 0]).sqrt()).numpy()


def _first_time_below(ratio_at: Callable[[float], float], tolerance: float) -> float:
    """Smallest t (to 0.1 %) with ratio_at(t) <= tolerance; ratio_at decreases with t."""
    high = 1e-3
    while ratio_at(high) > tolerance:
        high *= 2.0
        if high > 1e4:
            raise bad_argument("tolerance", tolerance, "is not reached by t = 1e4", "check the scheme's mass (M > 0) and the samples")
    low = 0.0
    while high - low > 1e-3 * high:
        middle = 0.5 * (low + high)
        low, high = (middle, high) if ratio_at(middle) > tolerance else (low, middle)
    return high


@attrs.frozen
class FlowTimes:
    """The RG times of the two stages: zero mode on [t_split, t_max], lattice on [0, t_split]."""

    t_split: float
    t_max: float

    def __attrs_post_init__(self) -> None:
        if not 0 < self.t_split <= self.t_max < math.inf:
            raise bad_argument("FlowTimes", (self.t_split, self.t_max), "need 0 < t_split <= t_max < inf", "use choose_times(...)")


def choose_times(samples: Any, grid: Grid, scheme: Any, prior_tolerance: float = DEFAULT_PRIOR_TOLERANCE, split_tolerance: float = DEFAULT_SPLIT_TOLERANCE) -> FlowTimes:
    """t_max: every mode's data below ``prior_tolerance`` noise units; t_split (<= t_max): every
    non-zero mode's data below ``split_tolerance`` (module docstring).

    For RDM's m² = -2 theory (N = 20, L = 1, M = 1) the zero mode sets t_max ≈ 7.4 (⟨|ẑ|⟩ is
    ~84 stationary spreads); the slowest non-zero mode (κ = |p̂_1|² + M² ≈ 40) sets t_split.
    """
    check_carosso(scheme)
    check_positive("prior_tolerance", prior_tolerance)
    check_positive("split_tolerance", split_tolerance)
    power = mode_power(torch.from_numpy(field_array(samples, grid)), grid)
    t_max = _first_time_below(lambda t: float(signal_to_noise(power, grid, scheme, t).max()), prior_tolerance)

    def non_zero(t: float) -> float:
        ratios = signal_to_noise(power, grid, scheme, t)
        ratios[(0,) * grid.ndim] = 0.0
        return float(ratios.max())

    return FlowTimes(t_split=min(_first_time_below(non_zero, split_tolerance), t_max), t_max=t_max)


__all__ = [
    "DEFAULT_PRIOR_TOLERANCE",
    "DEFAULT_SPLIT_TOLERANCE",
    "FlowTimes",
    "check_carosso",
    "choose_times",
    "mode_power",
    "signal_to_noise",
    "with_zero_mode",
    "zero_mode",
]
