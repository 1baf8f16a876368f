"""Statistics of Markov-chain observables: integrated autocorrelation time, effective sample size
and the burn-in of an ensemble of chains, for comparing samplers at equal cost (RDM Sec. 1.2, 5.4).

* τ_int by the Madras-Sokal automatic window (Madras & Sokal 1988): τ(W) = ½ + Σ_{t=1}^{W} ρ(t)
  with the smallest W >= c τ(W). The variance of a mean of n correlated samples is 2 τ_int σ²/n,
  so n samples are worth n / (2 τ_int) independent ones (the effective sample size, ESS).
  The phi4 system (``systems.phi4``) measures its HMC chains with it.
* Burn-in of independent chains started together: at step t the ensemble mean x̄_t of an
  observable over the chains, with standard error s_t / sqrt(chains), is compared with the
  equilibrium value r ± e_r. The burn-in is the first t from which
  |x̄_t' - r| < z_max sqrt(s_t'²/chains + e_r²) holds for ``hold`` consecutive steps t' (a
  single noisy crossing does not count; ``hold`` consecutive passes at z_max = 3 are also
  unlikely to all fail by chance once the chains are in equilibrium).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.metrics.resampling import Estimate
from pdd_core.validation import check_positive

DEFAULT_WINDOW_CONSTANT = 5.0
DEFAULT_Z_MAX = 3.0
DEFAULT_HOLD = 10


def _finite_or_none(number: float | None) -> float | None:
    return float(number) if number is not None and math.isfinite(number) else None


@attrs.frozen
class AutocorrelationTime:
    """τ_int with its Madras-Sokal error ``τ sqrt(2 (2W + 1) / n)``, window W, sample count and whether W converged."""

    tau: float
    error: float
    window: int
    n_samples: int
    converged: bool

    def to_json(self) -> dict[str, Any]:
        return {"tau": self.tau, "error": self.error, "window": self.window, "n_samples": self.n_samples, "converged": self.converged}


def series_array(series: Any, name: str = "series", min_length: int = 4) -> np.ndarray:
    """Real finite values ``[n]`` or ``[chains, n]`` as float64 ``[chains, n]``."""
    try:
        values = np.array(series, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad_argument(name, series, "not convertible to a real float array", "pass a 1-d or [chains, n] array of numbers", kind=DTypeError) from None
    if values.ndim == 1:
        values = values[None]
    if values.ndim != 2 or values.shape[1] < min_length or values.shape[0] < 1:
        raise bad_argument(f"{name}.shape", values.shape, f"expected [n] or [chains, n] with n >= {min_length}", "pass one series, or one row per chain", kind=ShapeError)
    if not np.isfinite(values).all():
        raise bad_argument(name, "array with NaN/inf", "the series must be finite", "drop non-finite measurements")
    return values


def integrated_autocorrelation_time(series: Any, window_constant: float = DEFAULT_WINDOW_CONSTANT) -> AutocorrelationTime:
    """τ_int, in steps of the series, of one chain ``[n]`` or of equal-length independent chains ``[chains, n]``.

    The chains' autocovariances, each about its own chain mean, are averaged (module docstring).
    """
    values = series_array(series)
    check_positive("window_constant", window_constant)
    chains, length = values.shape
    values = values - values.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(values, n=2 * length, axis=1)
    autocovariance = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=2 * length, axis=1)[:, :length].mean(axis=0) / length
    if not autocovariance[0] > 0:
        raise bad_argument("series", "constant series", "has zero variance, so τ_int is undefined", "measure an observable that fluctuates")
    tau_of_window = np.cumsum(autocovariance / autocovariance[0]) - 0.5
    windows = np.arange(length)
    satisfied = np.nonzero((windows >= 1) & (windows >= window_constant * tau_of_window))[0]
    converged = satisfied.size > 0
    window = int(satisfied[0]) if converged else length - 1
    tau = float(tau_of_window[window])
    n_samples = chains * length
    return AutocorrelationTime(tau=tau, error=tau * math.sqrt(2.0 * (2 * window + 1) / n_samples), window=window, n_samples=n_samples, converged=converged)


@attrs.frozen
class Cost:
    """What a run cost, summed over its chains.

    Attributes:
        seconds: wall-clock seconds, including ``extra_seconds``.
        hmc_trajectories: HMC trajectories (chains x trajectories per chain).
        force_evaluations: force evaluations of those trajectories, or None if the system does
            not say how many one trajectory takes.
        extra_seconds: seconds spent outside HMC (generating start fields, proposals and their
            densities).
        trajectory_equivalents: ``hmc_trajectories + extra_seconds / seconds per trajectory``, the
            whole cost in units of one chain's HMC trajectory (rate measured in the same study).
    """

    seconds: float
    hmc_trajectories: int
    force_evaluations: int | None
    extra_seconds: float
    trajectory_equivalents: float

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class ObservableStats:
    """Mean, τ_int and effective samples of one observable over a run's measured steps.

    Attributes:
        mean: the mean over all chains and steps, error sqrt(2 τ_int var / n).
        tau: τ_int in the run's steps (HMC trajectories, or proposal cycles).
        effective_samples: chains x steps / (2 τ_int).
        per_second, per_trajectory: effective samples per wall second and per trajectory
            equivalent of the run's whole :class:`Cost` (burn-in and generation included).
    """

    mean: Estimate
    tau: AutocorrelationTime
    effective_samples: float
    per_second: float
    per_trajectory: float

    @classmethod
    def measure(cls, series: np.ndarray, cost: Cost, window_constant: float = DEFAULT_WINDOW_CONSTANT) -> "ObservableStats":
        values = series_array(series)
        tau = integrated_autocorrelation_time(values, window_constant)
        effective = values.size / (2.0 * tau.tau) if tau.tau > 0 else math.inf
        error = math.sqrt(values.var() / effective) if math.isfinite(effective) else 0.0
        return cls(
            mean=Estimate(float(values.mean()), error),
            tau=tau,
            effective_samples=effective,
            per_second=effective / cost.seconds if cost.seconds > 0 else math.inf,
            per_trajectory=effective / cost.trajectory_equivalents if cost.trajectory_equivalents > 0 else math.inf,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean.to_json(), "tau": self.tau.to_json(), "effective_samples": _finite_or_none(self.effective_samples),
            "per_second": _finite_or_none(self.per_second), "per_trajectory": _finite_or_none(self.per_trajectory),
        }  # fmt: skip


@attrs.frozen
class BurnIn:
    """Measured burn-in of an ensemble of chains against an equilibrium value (module docstring).

    Attributes:
        steps: the first step t (0 = the start fields) from which the ensemble mean stays within
            ``z_max`` combined errors for ``hold`` steps; None if that never happens in the run.
        start_z: |x̄_0 - r| / error at the start fields (< z_max: the start is already in equilibrium).
        max_z_first: the largest such z over the first ``hold`` steps.
        z_max, hold: the rule's parameters.
    """

    steps: int | None
    start_z: float
    max_z_first: float
    z_max: float
    hold: int

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "start_z": _finite_or_none(self.start_z), "max_z_first": _finite_or_none(self.max_z_first), "z_max": self.z_max, "hold": self.hold}


def measure_burn_in(series: Any, reference: Estimate, z_max: float = DEFAULT_Z_MAX, hold: int = DEFAULT_HOLD) -> BurnIn:
    """Burn-in of ``series [chains, steps]`` (column 0 = the start) against ``reference`` (module docstring)."""
    values = series_array(series, min_length=2)
    if values.shape[0] < 2:
        raise bad_argument("series.shape", values.shape, "need at least 2 chains for the ensemble error", "run 2 or more independent chains", kind=ShapeError)
    if not isinstance(reference, Estimate) or not (math.isfinite(reference.value) and math.isfinite(reference.error) and reference.error >= 0):
        raise bad_argument("reference", reference, "expected an Estimate with a finite value and error >= 0", "pass Estimate(value, error)", kind=DTypeError)
    check_positive("z_max", z_max)
    if not isinstance(hold, (int, np.integer)) or isinstance(hold, bool) or not 1 <= hold <= values.shape[1]:
        raise bad_argument("hold", hold, f"must be an integer in [1, {values.shape[1]}] (the run's length)", "pass a shorter hold or run longer chains")
    chains = values.shape[0]
    error = np.sqrt(values.var(axis=0, ddof=1) / chains + reference.error**2)
    z = np.abs(values.mean(axis=0) - reference.value) / np.maximum(error, np.finfo(float).tiny)
    settled = np.lib.stride_tricks.sliding_window_view(z < z_max, hold).all(axis=1)
    first = np.nonzero(settled)[0]
    return BurnIn(steps=int(first[0]) if first.size else None, start_z=float(z[0]), max_z_first=float(z[:hold].max()), z_max=float(z_max), hold=int(hold))


__all__ = ["AutocorrelationTime", "BurnIn", "Cost", "ObservableStats", "integrated_autocorrelation_time", "measure_burn_in", "series_array"]
