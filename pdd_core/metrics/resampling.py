"""Statistical errors of functions of means: blocked jackknife and block bootstrap.

Every estimator of :mod:`pdd_core.apps.lattice.estimators` is a function f(⟨A_1⟩, ..., ⟨A_k⟩) of
sample means of per-configuration "primary" observables A_j (e.g. |φ̃(p)|², φ̃(0)⁴). A
resampler takes the primaries ``[n, k]`` and f, and returns f at the full means with an
error that accounts for the non-linearity of f and, through blocking, for autocorrelation
of consecutive samples of a Markov chain.

* Jackknife (blocked, leave one block out): the n samples are cut into B contiguous blocks
  of nearly equal size; θ_b = f(mean without block b); the error is
  sqrt((B - 1)/B Σ_b (θ_b - θ̄)²). With B = n and f the identity this is exactly the
  standard error s/√n of i.i.d. data.
* Bootstrap (non-overlapping block bootstrap): B blocks drawn with replacement R times;
  the error is the standard deviation (ddof = 1) of f over the R resamples.

Statistics must act on the last axis (``means[..., j]``) so all replicates are evaluated
in one vectorised call, and return ``[..., m]`` (m derived quantities) or ``[...]``.
"""

from __future__ import annotations

import math
from typing import Callable

import attrs
import numpy as np

from pdd_core.errors import DTypeError, ShapeError, bad_argument

Statistic = Callable[[np.ndarray], np.ndarray]


@attrs.frozen
class Estimate:
    """A value with its one-standard-deviation statistical error."""

    value: float
    error: float

    def to_json(self) -> dict[str, float | None]:
        """``{"value": v, "error": e}``; a non-finite number (undefined quantity) becomes ``None``."""
        return {"value": _finite_or_none(self.value), "error": _finite_or_none(self.error)}


def _finite_or_none(number: float) -> float | None:
    # + 0.0 turns -0.0 (e.g. -r_t² x 0 at r_t = 0) into 0.0.
    return float(number) + 0.0 if math.isfinite(number) else None


def _check_count(name: str, value: int, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", f"pass {name} >= {minimum}")
    return int(value)


def _check_primaries(primaries: np.ndarray) -> np.ndarray:
    values = np.asarray(primaries)
    if values.dtype.kind not in "fc":
        raise bad_argument("primaries.dtype", values.dtype, "expected real or complex floats", "pass per-sample observables as a float array", kind=DTypeError)
    if values.ndim != 2 or values.shape[0] < 2:
        raise bad_argument("primaries.shape", values.shape, "expected [n, k] with n >= 2 samples", "stack one row of observables per sample", kind=ShapeError)
    if not np.isfinite(values).all():
        raise bad_argument("primaries", "array with NaN/inf", "per-sample observables must be finite", "check the samples for non-finite fields")
    return values


def block_bounds(n_samples: int, n_blocks: int) -> np.ndarray:
    """Edges ``[B + 1]`` of B = min(n_blocks, n) contiguous blocks of nearly equal size."""
    blocks = min(_check_count("n_blocks", n_blocks, 2), n_samples)
    return np.linspace(0, n_samples, blocks + 1).round().astype(np.int64)


@attrs.frozen
class Jackknife:
    """Blocked leave-one-block-out jackknife with ``n_blocks`` blocks (module docstring).

    Use blocks longer than the integrated autocorrelation time of the samples; for i.i.d.
    samples ``n_blocks >= n`` gives the delete-one jackknife.
    """

    n_blocks: int = attrs.field(default=32, validator=lambda inst, attr, value: _check_count("n_blocks", value, 2))

    def __call__(self, primaries: np.ndarray, statistic: Statistic) -> tuple[np.ndarray, np.ndarray]:
        """``(f(full means), jackknife errors)``, each shaped like one evaluation of f."""
        values = _check_primaries(primaries)
        bounds = block_bounds(values.shape[0], self.n_blocks)
        sums = np.add.reduceat(values, bounds[:-1], axis=0)
        sizes = np.diff(bounds)
        total = values.sum(axis=0)
        leave_one_out = (total - sums) / (values.shape[0] - sizes)[:, None]
        full = np.asarray(statistic(total / values.shape[0]), dtype=np.float64)
        replicates = np.asarray(statistic(leave_one_out), dtype=np.float64)
        blocks = sizes.size
        spread = ((replicates - replicates.mean(axis=0)) ** 2).sum(axis=0)
        return full, np.sqrt((blocks - 1) / blocks * spread)

    def describe(self) -> dict[str, object]:
        return {"method": "jackknife", "n_blocks": self.n_blocks}


@attrs.frozen
class Bootstrap:
    """Non-overlapping block bootstrap: ``n_blocks`` blocks, ``n_resamples`` resamples from ``rng``."""

    rng: np.random.Generator = attrs.field(eq=False)
    n_resamples: int = attrs.field(default=200, validator=lambda inst, attr, value: _check_count("n_resamples", value, 2))
    n_blocks: int = attrs.field(default=32, validator=lambda inst, attr, value: _check_count("n_blocks", value, 2))

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.rng, np.random.Generator):
            problem = "randomness must come from an explicit numpy.random.Generator"
            raise bad_argument("rng", self.rng, problem, "pass rng=np.random.default_rng(seed)", kind=DTypeError)

    def __call__(self, primaries: np.ndarray, statistic: Statistic) -> tuple[np.ndarray, np.ndarray]:
        """``(f(full means), bootstrap standard deviations)``."""
        values = _check_primaries(primaries)
        bounds = block_bounds(values.shape[0], self.n_blocks)
        sums = np.add.reduceat(values, bounds[:-1], axis=0)
        sizes = np.diff(bounds).astype(np.float64)
        blocks = sizes.size
        drawn = self.rng.integers(0, blocks, size=(self.n_resamples, blocks))
        counts = np.zeros((self.n_resamples, blocks))
        np.add.at(counts, (np.arange(self.n_resamples)[:, None], drawn), 1.0)
        resampled = (counts @ sums) / (counts @ sizes)[:, None]
        full = np.asarray(statistic(values.mean(axis=0)), dtype=np.float64)
        replicates = np.asarray(statistic(resampled), dtype=np.float64)
        return full, replicates.std(axis=0, ddof=1)

    def describe(self) -> dict[str, object]:
        return {"method": "bootstrap", "n_blocks": self.n_blocks, "n_resamples": self.n_resamples}


Resampler = Jackknife | Bootstrap


def check_resampler(resampler: object) -> Resampler:
    if not isinstance(resampler, (Jackknife, Bootstrap)):
        fix = "pass Jackknife(n_blocks=32) or Bootstrap(rng, n_resamples=200)"
        raise bad_argument("resampler", resampler, "expected a Jackknife or Bootstrap", fix, kind=DTypeError)
    return resampler


def estimate_all(primaries: np.ndarray, statistic: Statistic, names: tuple[str, ...], resampler: Resampler) -> dict[str, Estimate]:
    """Run ``resampler`` on a vector statistic and name its components."""
    values, errors = check_resampler(resampler)(primaries, statistic)
    values, errors = np.atleast_1d(values), np.atleast_1d(errors)
    if values.shape != (len(names),):
        raise bad_argument("names", names, f"the statistic returned {values.shape[0]} values", "name every component of the statistic", kind=ShapeError)
    return {name: Estimate(float(value), float(error)) for name, value, error in zip(names, values, errors)}


def mean_estimate(values: np.ndarray, resampler: Resampler) -> Estimate:
    """The mean of per-sample values ``[n]`` with its resampling error."""
    return estimate_all(np.asarray(values)[:, None], lambda means: means[..., 0], ("mean",), resampler)["mean"]


__all__ = ["Bootstrap", "Estimate", "Jackknife", "Resampler", "block_bounds", "check_resampler", "estimate_all", "mean_estimate"]
