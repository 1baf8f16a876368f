"""Ensemble scores of probabilistic rollouts and generated paths: the fair CRPS and the spread-skill ratio.

An ensemble of M members forecasts each reference path ``u [B, T, C, *space]``: stochastic
rollouts from the reference's initial frames (M per reference path, ``[M, B, T, C, *space]``),
or an unconditional generated set (the same M paths for every reference path, ``[M, 1, T, C,
*space]``: then the scores judge the generated marginal distribution point by point).

* CRPS (Gneiting & Raftery 2007, Eq. 21: CRPS(F, y) = E|X - y| - ½ E|X - X'|), with the fair
  ensemble estimator of Ferro (2014, Eq. 6 / Ferro, Richardson & Weigel 2008):

      CRPS_fair = (1/M) Σ_i |x_i - y| - 1/(2M(M-1)) Σ_{i,j} |x_i - x_j|,

  unbiased for the CRPS of the distribution the members are drawn from, whatever M (the plain
  estimator with 1/(2M²) favours small, under-dispersed ensembles). The pair sum is
  ``2 Σ_i (2i - M - 1) x_(i)`` over the sorted members, O(M log M) instead of O(M²).
  Scored per grid point and averaged over the grid: ``[B, T, C]``, in the units of u.
* Spread-skill ratio (Fortin et al. 2014, J. Hydrometeor. 15, 1708, Eq. 9; as in GenCast,
  Price et al. 2025): with ū the ensemble mean and s² the unbiased ensemble variance,

      SSR = sqrt((M+1)/M) · sqrt(mean s²) / sqrt(mean (ū - u)²),

  means over reference paths and grid points, per frame and channel. The factor sqrt((M+1)/M)
  makes a reliable ensemble (truth exchangeable with the members) score 1 for any M; below 1
  is over-confident, above 1 under-confident.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.metrics.arrays import MAX_SPACE_AXES, MIN_SPACE_AXES, as_field, as_real_array

ENSEMBLE_LAYOUT = "[M, B, T, C, *space] (M members per reference path; B = 1 shares them)"


def crps_ensemble(reference: Any, ensemble: Any) -> np.ndarray:
    """The fair ensemble CRPS per reference path, frame and channel, float64 ``[B, T, C]`` (module docstring)."""
    ref, members = _checked(reference, ensemble)
    m = members.shape[0]
    # Weights 2i - M - 1 (i = 1..M) of the sorted members give Σ_{i,j} |x_i - x_j| / 2.
    weights = (2.0 * np.arange(1, m + 1) - m - 1).reshape((m,) + (1,) * (members.ndim - 2))
    scores = []
    for b in range(ref.shape[0]):
        x = members[:, min(b, members.shape[1] - 1)].astype(np.float64)
        y = ref[b].astype(np.float64)
        absolute = np.abs(x - y).mean(axis=0)
        half_pair_sum = (weights * np.sort(x, axis=0)).sum(axis=0)
        crps = absolute - half_pair_sum / (m * (m - 1))
        scores.append(crps.reshape(*crps.shape[:2], -1).mean(axis=-1))
    return np.stack(scores)


def spread_skill(reference: Any, ensemble: Any) -> dict[str, np.ndarray]:
    """``{"spread", "skill", "ratio"}``, each float64 ``[T, C]`` (module docstring).

    ``spread`` = sqrt(mean s²) and ``skill`` = sqrt(mean (ū - u)²), the RMSE of the ensemble
    mean, both over reference paths and grid points; ``ratio`` = sqrt((M+1)/M) · spread / skill
    (inf where the ensemble mean is exact).
    """
    ref, members = _checked(reference, ensemble)
    m = members.shape[0]
    variance, error2 = [], []
    for b in range(ref.shape[0]):
        x = members[:, min(b, members.shape[1] - 1)].astype(np.float64)
        y = ref[b].astype(np.float64)
        flat = (*y.shape[:2], -1)
        variance.append(x.var(axis=0, ddof=1).reshape(flat).mean(axis=-1))
        error2.append(((x.mean(axis=0) - y) ** 2).reshape(flat).mean(axis=-1))
    spread, skill = np.sqrt(np.mean(variance, axis=0)), np.sqrt(np.mean(error2, axis=0))
    with np.errstate(divide="ignore"):
        ratio = np.sqrt((m + 1) / m) * spread / skill
    return {"spread": spread, "skill": skill, "ratio": ratio}


def _checked(reference: Any, ensemble: Any) -> tuple[np.ndarray, np.ndarray]:
    ref = as_field(reference, "reference")
    low, high = 4 + MIN_SPACE_AXES, 4 + MAX_SPACE_AXES
    members = as_real_array(ensemble, "ensemble", ndim=(low, high), layout=ENSEMBLE_LAYOUT)
    if members.shape[0] < 2:
        raise bad_argument("ensemble.shape", members.shape, "needs M >= 2 members (the fair CRPS and the spread divide by M - 1)", "draw at least 2 members", kind=ShapeError)
    if members.shape[2:] != ref.shape[1:] or members.shape[1] not in (1, ref.shape[0]):
        raise bad_argument(
            "ensemble.shape",
            members.shape,
            f"does not match reference.shape={ref.shape} as {ENSEMBLE_LAYOUT}",
            "pass members shaped [M, B, T, C, *space] or [M, 1, T, C, *space]",
            kind=ShapeError,
        )
    return ref, members


__all__ = ["crps_ensemble", "spread_skill"]
