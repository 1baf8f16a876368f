"""History windows: the augmented Markov state of PDD A.5, built for a whole path at once."""

from __future__ import annotations

import torch

from pdd_core.errors import ShapeError, bad_argument


def history_windows(u: torch.Tensor, window: int, frames: int | None = None) -> torch.Tensor:
    """Windows ``[B, frames, W, C, *space]``: entry n holds u(t_{n-W+1}), ..., u(t_n).

    States before t0 are zeros (PDD B.2, "temporal boundary handling"). ``frames`` selects
    the windows ending at t_0 .. t_{frames-1} (default: all T). No data is copied until the
    caller reshapes, since the windows are an ``unfold`` view of the zero-padded path.
    """
    if not isinstance(window, int) or window < 1:
        raise bad_argument("window", window, "the history window must be an integer >= 1", "use window=5 (PDD B.2)")
    if u.ndim < 4:
        raise bad_argument("u.shape", tuple(u.shape), "expected a path [B, T, C, *space]", "add the batch and time axes", kind=ShapeError)
    frames = u.shape[1] if frames is None else frames
    padding = u.new_zeros(u.shape[0], window - 1, *u.shape[2:])
    padded = torch.cat([padding, u[:, :frames]], dim=1)
    return padded.unfold(1, window, 1).movedim(-1, 2)


def apply_to_windows(network, u: torch.Tensor, lam: torch.Tensor, window: int, frames: int) -> torch.Tensor:
    """Evaluate ``network(history, lam)`` on the ``frames`` windows of every path in ONE call.

    Returns ``[B, frames, *out]``; λ (float64 ``[B]``) is repeated once per window.
    """
    batch = u.shape[0]
    windows = history_windows(u, window, frames).reshape(batch * frames, window, *u.shape[2:])
    output = network(windows, lam.repeat_interleave(frames))
    return output.reshape(batch, frames, *output.shape[1:])


def drift_on_path(drift, u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """f_λ on every increment of a path: ``[B, T-1, C, *space]`` from windows ending at t_0..t_{T-2}."""
    if u.shape[1] < 2:
        raise bad_argument("u.shape", tuple(u.shape), "a path needs T >= 2 snapshots to have increments", "pass paths with at least two frames", kind=ShapeError)
    return apply_to_windows(drift, u, lam, drift.window, u.shape[1] - 1)
