"""Line plots: errors against λ (PDD Figs. 7 and 12) and the training loss curve."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pdd_core.apps.plots.output import check_output_path, new_figure, save_figure
from pdd_core.errors import ArgumentError, DTypeError, ShapeError, bad_argument
from pdd_core.metrics.arrays import as_real_array

# Fig. 7 adds 1e-3 to λ so that λ = 0 can sit on a log axis.
LAMBDA_OFFSET = 1e-3
# The smoothed loss averages this fraction of the records (at least one).
SMOOTHING_FRACTION = 0.05


def plot_error_vs_lambda(
    lams: Any,
    l2: Any,
    spectral: Any,
    out: Any,
    *,
    l2_std: Any = None,
    spectral_std: Any = None,
    offset: float = LAMBDA_OFFSET,
    title: str | None = None,
) -> Path:
    """L2 error and spectral error against λ, side by side (PDD Fig. 7); write a PNG and return its path.

    ``lams``, ``l2`` (Eq. 63 at the step of interest, the paper's sixth) and ``spectral`` (Eq. 64)
    are 1-d sequences of equal length; ``l2_std`` / ``spectral_std`` add error bars (the paper's
    ± one standard deviation over training runs). λ is shown as ``λ + offset`` on a log axis, as in
    Fig. 7 (offset 1e-3).
    """
    check_output_path(out)
    lam = _series(lams, "lams")
    if (lam < 0).any():
        raise bad_argument("lams", lam.tolist(), "diffusion scales λ must be >= 0", "pass λ in [0, λ_max]")
    if not (isinstance(offset, (int, float)) and math.isfinite(offset) and offset > 0):
        raise bad_argument("offset", offset, "must be a finite number > 0 (λ + offset goes on a log axis)", "keep the default 1e-3")
    curves = [
        ("L2 error", _series(l2, "l2", len(lam)), _optional_std(l2_std, "l2_std", len(lam))),
        ("spectral error", _series(spectral, "spectral", len(lam)), _optional_std(spectral_std, "spectral_std", len(lam))),
    ]
    order = np.argsort(lam)
    figure, axes = new_figure(1, 2, panel_size=(3.6, 3.0))
    for axis, (name, values, std) in zip(axes[0], curves):
        axis.errorbar(lam[order] + offset, values[order], yerr=None if std is None else std[order], marker="o", capsize=3)
        axis.set_xscale("log")
        axis.set_xlabel(f"λ + {offset:g}")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out)


def plot_training_curve(log_records: Iterable[Mapping[str, Any]], out: Any, *, title: str | None = None) -> Path:
    """Training loss against step from the trainer's JSONL records; write a PNG and return its path.

    ``log_records`` is a list of dicts with at least ``step`` and ``loss`` (``log.jsonl`` read with
    :func:`pdd_core.apps.trainer.checkpoint.read_log`). The raw loss is drawn faintly with a running mean
    over ~5 % of the records on top; the loss axis is logarithmic when every loss is > 0. Non-finite
    losses (a run stopped by a NaN) are left out and counted in the legend.
    """
    check_output_path(out)
    steps, losses = _loss_records(log_records)
    finite = np.isfinite(losses)
    steps, losses, dropped = steps[finite], losses[finite], int((~finite).sum())
    if steps.size == 0:
        raise bad_argument("log_records", "only non-finite losses", "nothing to plot", "check the run's log.jsonl", kind=ArgumentError)
    window = max(1, int(SMOOTHING_FRACTION * steps.size))
    smoothed = np.convolve(losses, np.ones(window) / window, mode="valid")
    figure, axes = new_figure(1, 1, panel_size=(5.0, 3.2))
    axis = axes[0][0]
    axis.plot(steps, losses, alpha=0.3, linewidth=0.8, label="loss" + (f" ({dropped} non-finite left out)" if dropped else ""))
    axis.plot(steps[window - 1 :], smoothed, linewidth=1.5, label=f"running mean ({window})")
    if (losses > 0).all():
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out)


def _series(values: Any, name: str, length: int | None = None) -> np.ndarray:
    array = as_real_array(_as_array(values, name), name, ndim=(1, 1), layout="[n_lambda]").astype(np.float64)
    if length is not None and array.shape != (length,):
        raise bad_argument(f"{name}.shape", array.shape, f"expected one value per λ ([{length}])", f"pass {name} with the same length as lams", kind=ShapeError)
    return array


def _optional_std(values: Any, name: str, length: int) -> np.ndarray | None:
    if values is None:
        return None
    std = _series(values, name, length)
    if (std < 0).any():
        raise bad_argument(name, std.tolist(), "standard deviations must be >= 0", f"pass {name} as spreads, not signed errors")
    return std


def _as_array(values: Any, name: str) -> Any:
    if isinstance(values, (list, tuple)):
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise bad_argument(name, values, "not a sequence of numbers", f"pass {name} as a list or 1-d array of floats", kind=DTypeError) from None
    return values


def _loss_records(records: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise bad_argument(
            "log_records",
            type(records).__name__,
            "expected a list of dicts with 'step' and 'loss'",
            "read log.jsonl with pdd_core.apps.trainer.checkpoint.read_log",
            kind=DTypeError,
        )
    steps, losses = [], []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or not _is_number(record.get("step")) or not _is_number(record.get("loss")):
            raise bad_argument(
                f"log_records[{index}]",
                record,
                "each record needs numeric 'step' and 'loss'",
                "pass the trainer's log records ({'step': ..., 'loss': ...})",
                kind=DTypeError,
            )
        steps.append(float(record["step"]))
        losses.append(float(record["loss"]))
    if not steps:
        raise bad_argument("log_records", [], "no records", "train for at least one logged step", kind=ArgumentError)
    return np.asarray(steps), np.asarray(losses)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
