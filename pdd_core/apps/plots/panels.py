"""Drawing one field panel: an x-t Hovmöller diagram (1D) or a snapshot (2D), with shared colours."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from pdd_core.errors import ArgumentError, ShapeError, bad_argument
from pdd_core.metrics.arrays import as_real_array

PATH_LAYOUT = "[T, C, N] (1D) or [T, C, H, W] (2D)"


@attrs.frozen
class ColorScale:
    """Colour limits shared by every panel of one channel, so labels are compared on one scale."""

    vmin: float
    vmax: float
    cmap: str

    @classmethod
    def spanning(cls, arrays: Sequence[np.ndarray]) -> ColorScale:
        """Diverging and symmetric about 0 for signed data (vorticity, anomalies), sequential otherwise."""
        low = min(float(a.min()) for a in arrays)
        high = max(float(a.max()) for a in arrays)
        if low < 0 < high:
            bound = max(-low, high)
            return cls(-bound, bound, "RdBu_r")
        return cls(low, high if high > low else low + 1.0, "viridis")


def as_single_path(value: Any, name: str) -> np.ndarray:
    """One path ``[T, C, *space]`` with 1 or 2 spatial axes, as float64."""
    return as_real_array(value, name, ndim=(3, 4), layout=PATH_LAYOUT).astype(np.float64)


def check_compatible(paths: dict[str, np.ndarray], name: str) -> None:
    """All paths must have the same channel count and number of spatial axes."""
    first_label, first = next(iter(paths.items()))
    for label, path in paths.items():
        if path.ndim != first.ndim or path.shape[1] != first.shape[1]:
            raise bad_argument(
                f"{name}[{label!r}].shape",
                path.shape,
                f"channels and spatial dimension must match {name}[{first_label!r}].shape={first.shape}",
                "pass paths of the same system (same channels, same 1D or 2D grid)",
                kind=ShapeError,
            )


def resolve_frame(frame: int | None, paths: Sequence[np.ndarray]) -> int | None:
    """Check ``frame`` against every path's length; None means the last frame of each (2D) / no marker (1D)."""
    if frame is None:
        return None
    if not isinstance(frame, (int, np.integer)) or isinstance(frame, bool):
        raise bad_argument("frame", frame, "must be an integer frame index", "pass e.g. frame=5 (the sixth time step)")
    shortest = min(path.shape[0] for path in paths)
    if not 0 <= frame < shortest:
        raise bad_argument("frame", frame, f"outside the frames 0..{shortest - 1} every path has", f"pass 0 <= frame < {shortest}", kind=ArgumentError)
    return int(frame)


def draw_panel(axis: Any, path: np.ndarray, channel: int, scale: ColorScale, *, frame: int | None, dt: float | None) -> Any:
    """Draw channel ``channel`` of ``path [T, C, *space]`` on ``axis``; return the image for a colour bar.

    1D: time on the horizontal axis (frame index, or t = frame·dt when ``dt`` is given), grid
    point on the vertical one, with a dashed line at ``frame``. 2D: the field at ``frame`` (default
    the last), axis -1 horizontal.
    """
    if path.ndim == 3:
        n_frames, n_points = path.shape[0], path.shape[2]
        unit = 1.0 if dt is None else dt
        image = axis.imshow(
            path[:, channel, :].T,
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            extent=(-0.5 * unit, (n_frames - 0.5) * unit, -0.5, n_points - 0.5),
            vmin=scale.vmin,
            vmax=scale.vmax,
            cmap=scale.cmap,
        )
        axis.set_xlabel("t" if dt is not None else "frame")
        axis.set_ylabel("x (grid index)")
        if frame is not None:
            axis.axvline(frame * unit, color="black", linestyle="--", linewidth=0.8)
        return image
    shown = path.shape[0] - 1 if frame is None else frame
    image = axis.imshow(path[shown, channel], origin="lower", interpolation="nearest", vmin=scale.vmin, vmax=scale.vmax, cmap=scale.cmap)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_xlabel(f"frame {shown}" if dt is None else f"t = {shown * dt:g}")
    return image


def check_dt(dt: float | None) -> None:
    """``dt`` labels the time axis in physical units; it must be a finite number > 0."""
    if dt is not None and not (isinstance(dt, (int, float)) and not isinstance(dt, bool) and np.isfinite(dt) and dt > 0):
        raise bad_argument("dt", dt, "must be a finite number > 0", "pass the data's sampling interval, or None to label frames")
