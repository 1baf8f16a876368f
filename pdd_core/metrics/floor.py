"""The noise floor of the spectral error: Eq. 64 between two disjoint sets of true paths.

The spectral error (PDD Eq. 64) compares sample-averaged PSDs, so even two sets of paths drawn
from the same law differ by their sampling noise. That truth-against-truth value at the same path
counts is the floor below which no model can be told apart from the truth; on Lorenz-96 it falls
like ~1/√n (docs/results.md: 0.53 at 4 vs 4 paths, 0.15 at 64 vs 64). A spectral error means
something only next to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pdd_core.errors import ArgumentError, bad_argument
from pdd_core.metrics.arrays import as_field, float64_chunks
from pdd_core.metrics.normalization import CHANNEL_AXIS, Standardizer
from pdd_core.metrics.spectra import TIME_AXIS, _relative_l1

# Random splits whose median is the floor (the median of 20 moves by a few per cent between seeds).
DEFAULT_SPLITS = 20


def per_path_psd(u: Any, *, stats: tuple[Any, Any] | None = None) -> np.ndarray:
    """``|G[u_b]|²`` of every path ``b`` (orthonormal FFT over t and space, Eq. 64): float64 ``[B, T, C, *space]``.

    Averaging rows of it gives :func:`~pdd_core.metrics.spatiotemporal_psd` of any subset of paths,
    so many random splits cost one FFT per path.
    """
    field = as_field(u, "u")
    standardizer = Standardizer.build(stats, field.shape[CHANNEL_AXIS])
    axes = (TIME_AXIS, *range(CHANNEL_AXIS + 1, field.ndim))
    parts = []
    for chunk in float64_chunks(field):
        if standardizer is not None:
            chunk = standardizer(chunk)
        parts.append(np.abs(np.fft.fftn(chunk, axes=axes, norm="ortho")) ** 2)
    return np.concatenate(parts)


def spectral_error_floor(
    truth: Any,
    n_reference: int,
    n_prediction: int,
    *,
    generator: np.random.Generator,
    splits: int = DEFAULT_SPLITS,
    stats: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """Eq. 64 between disjoint random subsets of ``truth`` of ``n_reference`` and ``n_prediction`` paths.

    ``truth`` is ``[N, T, C, *space]`` with N >= n_reference + n_prediction paths of one law (e.g. a
    test split, or a training split when the test split is too small). Each of ``splits`` draws
    permutes the paths with ``generator`` and compares the first ``n_reference`` (the reference)
    with the next ``n_prediction`` (standing in for the surrogate). Returns the median (the floor),
    the 10 % and 90 % quantiles, every value, and the counts.
    """
    for name, value in (("n_reference", n_reference), ("n_prediction", n_prediction), ("splits", splits)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise bad_argument(name, value, "must be an integer >= 1", f"pass {name} as a count of paths/splits", kind=ArgumentError)
    if not isinstance(generator, np.random.Generator):
        raise bad_argument("generator", type(generator).__name__, "the random splits need an explicit numpy Generator", "pass generator=numpy.random.default_rng(seed)")
    power = per_path_psd(truth, stats=stats)
    available = power.shape[0]
    if available < n_reference + n_prediction:
        raise bad_argument(
            "truth.shape",
            tuple(power.shape),
            f"{available} paths cannot be split into disjoint sets of {n_reference} and {n_prediction}",
            f"pass at least {n_reference + n_prediction} true paths (e.g. a larger split)",
            kind=ArgumentError,
        )
    values = []
    for _ in range(splits):
        order = generator.permutation(available)
        reference = power[order[:n_reference]].mean(axis=0)
        prediction = power[order[n_reference : n_reference + n_prediction]].mean(axis=0)
        values.append(_relative_l1(reference, prediction, "truth"))
    values = np.asarray(values)
    return {
        "floor": float(np.median(values)),
        "p10": float(np.quantile(values, 0.1)),
        "p90": float(np.quantile(values, 0.9)),
        "values": [float(value) for value in values],
        "reference_paths": int(n_reference),
        "prediction_paths": int(n_prediction),
        "splits": int(splits),
    }


__all__ = ["DEFAULT_SPLITS", "per_path_psd", "spectral_error_floor"]
