"""The metrics.json entries of The Well's errors and of ensemble scores, next to PDD's Eqs. 63-64.

* :func:`well_scores`: VRMSE, NRMSE and the binned spectral (N)MSE of a deterministic rollout
  against its reference (:mod:`pdd_core.metrics.well`), in physical units as the_well computes
  them (after de-standardising both with the training statistics), reported the way The Well's
  trainer logs them: per frame (mean over paths and channels), over all frames (``T=all``) and per
  channel.
* :func:`ensemble_scores`: fair CRPS and spread-skill ratio (:mod:`pdd_core.metrics.probabilistic`)
  of M members per reference path, in the standardised units of every PDD metric (B.5), where the
  channels are comparable.

Values at a step are those of ``step`` (1-based, PDD's ``l2_step``) after the initial frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pdd_core.metrics import binned_spectral_mse, crps_ensemble, nrmse, spread_skill, vrmse


def well_scores(reference: np.ndarray, prediction: np.ndarray, step: int, channel_names: list[str]) -> dict[str, Any]:
    """The Well's metrics of ``prediction`` against ``reference``, both physical ``[B, T, C, *space]``."""
    out: dict[str, Any] = {}
    for name, metric in (("vrmse", vrmse), ("nrmse", nrmse)):
        values = metric(reference, prediction)  # [B, T, C]
        curve = values.mean(axis=(0, 2))
        out[name] = float(curve[step - 1])
        out[f"{name}_all"] = float(values.mean())
        out[f"{name}_curve"] = curve.tolist()
        out[f"{name}_per_channel"] = dict(zip(channel_names, values.mean(axis=(0, 1)).tolist()))
    binned = binned_spectral_mse(reference, prediction)
    out["binned_spectral_mse"] = binned["mse"].mean(axis=(0, 1, 2)).tolist()
    out["binned_spectral_nmse"] = binned["nmse"].mean(axis=(0, 1, 2)).tolist()
    out["settings"] = {
        "definitions": "the_well 1.2.0 benchmark.metrics (VRMSE, NRMSE norm_mode='norm', binned_spectral_mse), eps 1e-7",
        "units": "physical: both fields de-standardised with the training data's mean/std, as the_well scores after denormalising",
        "averaging": "per sample, frame and channel, then means: <name> at the step, <name>_all over all frames (The Well's T=all), per channel over frames",
        "bin_edges_rad_per_cell": binned["edges"].tolist(),
        "frames": int(reference.shape[1]),
    }
    return out


def ensemble_scores(reference: np.ndarray, members: np.ndarray, step: int | None, channel_names: list[str], kind: str) -> dict[str, Any]:
    """CRPS and spread-skill of ``members [M, B or 1, T, C, *space]`` for ``reference [B, T, C, *space]``.

    ``step`` None (unconditional generation: no frame is a forecast lead time) reports the
    means over frames only.
    """
    crps = crps_ensemble(reference, members)  # [B, T, C]
    spread = spread_skill(reference, members)  # [T, C] each
    m = members.shape[0]
    # Ratio over all frames and channels from the pooled squares (Fortin et al. 2014 average MSEs, not ratios).
    pooled = float(np.sqrt((m + 1) / m) * np.sqrt((spread["spread"] ** 2).mean() / (spread["skill"] ** 2).mean()))
    curve_ratio = np.sqrt((m + 1) / m) * np.sqrt((spread["spread"] ** 2).mean(axis=1) / (spread["skill"] ** 2).mean(axis=1))
    out: dict[str, Any] = {"members": m, "kind": kind}
    if step is not None:
        out["crps"] = float(crps.mean(axis=(0, 2))[step - 1])
        out["spread_skill"] = float(curve_ratio[step - 1])
    out["crps_all"] = float(crps.mean())
    out["spread_skill_all"] = pooled
    out["crps_per_channel"] = dict(zip(channel_names, crps.mean(axis=(0, 1)).tolist()))
    out["spread_skill_per_channel"] = dict(zip(channel_names, (np.sqrt((m + 1) / m) * np.sqrt((spread["spread"] ** 2).mean(axis=0) / (spread["skill"] ** 2).mean(axis=0))).tolist()))
    if step is not None:
        out["crps_curve"] = crps.mean(axis=(0, 2)).tolist()
        out["spread_skill_curve"] = curve_ratio.tolist()
    out["settings"] = {
        "crps": "fair ensemble estimator (Ferro 2014), per grid point, averaged over the grid, paths and channels",
        "spread_skill": "sqrt((M+1)/M) * sqrt(mean ensemble variance) / RMSE of the ensemble mean (Fortin et al. 2014); 1 = reliable, < 1 over-confident",
        "units": "standardised with the training data's per-channel mean and std (PDD B.5)",
    }
    return out


__all__ = ["ensemble_scores", "well_scores"]
