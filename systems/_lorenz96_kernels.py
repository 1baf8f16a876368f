"""numba kernels of the two-scale Lorenz-96 model (PDD Eqs. 59-60, Appendix B.1).

Layout: trajectories one after another; each lives in small ghost-padded scratch arrays that
stay in L1 cache for all of its integration steps:

* ``x``: length K + 3, ``x[k + 2] = X_k``; ghosts ``x[0] = X_{K-2}``, ``x[1] = X_{K-1}``,
  ``x[K + 2] = X_0``.
* ``y``: length KJ + 3, ``y[i + 1] = Y_i`` with ``i = k J + j`` (0-based) the position on
  the single periodic chain of fast variables (Russell et al. 2017 ordering used by B.1:
  ``Y_{j,k} = Y_{j-J,k+1}``); ghosts ``y[0] = Y_{KJ-1}``, ``y[KJ + 1] = Y_0``,
  ``y[KJ + 2] = Y_1``.

Ghost cells keep the stencil loops free of modulo arithmetic and their indices provably
non-negative, so LLVM vectorises them. Only output frames are written (every
``steps_per_frame`` steps); nothing grows with the number of integration steps.

The arithmetic is that of :func:`systems.lorenz96.lorenz96_tendency_numpy`, term for term
and in the same order. The kernels are serial and release the GIL (``nogil``): callers run
slices of the batch on threads (:meth:`systems.lorenz96.Lorenz96.advance`). That scales like
``prange`` over trajectories, whose ``parallel=True`` compilation more than doubled the
cold compile time (measured 14 s -> 32 s). ``fastmath`` stays off: FMA contraction would
gain ~10% but make the trajectories depend on the host CPU, and datasets are meant to be
bit-reproducible.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}
# The paper's J. Passing it as a literal lets LLVM unroll the per-block loops over j
# (measured ~1.7x faster per step than the generic path); other J take the generic path.
_PAPER_J = 4


@numba.njit(inline="always", **_JIT)
def _tendency(
    x: np.ndarray, y: np.ndarray, dx: np.ndarray, dy: np.ndarray, pull: np.ndarray, n_slow: int,
    n_fast_per_slow: int, forcing: float, coupling: float, cb: float, c: float
) -> None:
    """dX/dt and dY/dt (PDD Eqs. 59-60) of ``x``, ``y`` into ``dx``, ``dy``; fills the ghosts first.

    dX_k/dt = -X_{k-1}(X_{k-2} - X_{k+1}) - X_k + F - (hc/b) Σ_j Y_{j,k}
    dY_i/dt = -cb Y_{i+1}(Y_{i+2} - Y_{i-1}) - c Y_i + (hc/b) X_{k(i)}

    ``pull`` (length KJ) is scratch for (hc/b) X_{k(i)} on the fast chain.
    """
    n_fast = n_slow * n_fast_per_slow
    x[0] = x[n_slow]
    x[1] = x[n_slow + 1]
    x[n_slow + 2] = x[2]
    y[0] = y[n_fast]
    y[n_fast + 1] = y[1]
    y[n_fast + 2] = y[2]
    for k in range(n_slow):
        first = k * n_fast_per_slow
        drive = coupling * x[k + 2]
        total = 0.0
        for j in range(n_fast_per_slow):
            total += y[first + j + 1]
            pull[first + j] = drive
        dx[k] = -x[k + 1] * (x[k] - x[k + 3]) - x[k + 2] + forcing - coupling * total
    for i in range(n_fast):
        dy[i] = -cb * y[i + 2] * (y[i + 3] - y[i]) - c * y[i + 1] + pull[i]


@numba.njit(inline="always", **_JIT)
def _write_frame(frame: np.ndarray, x: np.ndarray, y: np.ndarray, n_slow: int, n_fast_per_slow: int) -> None:
    """Channel 0: X_k replicated J times on the KJ grid; channel 1: Y along the chain."""
    for k in range(n_slow):
        for j in range(n_fast_per_slow):
            frame[0, k * n_fast_per_slow + j] = x[k + 2]
    for i in range(n_slow * n_fast_per_slow):
        frame[1, i] = y[i + 1]


@numba.njit(inline="always", **_JIT)
def _euler_path(
    slow: np.ndarray, fast: np.ndarray, frames: np.ndarray, n_fast_per_slow: int, steps_per_frame: int,
    step: float, forcing: float, coupling: float, cb: float, c: float
) -> None:
    """Forward Euler of one trajectory: ``u <- u + step f(u)``."""
    n_slow = slow.shape[0]
    n_fast = n_slow * n_fast_per_slow
    x = np.empty(n_slow + 3)
    y = np.empty(n_fast + 3)
    dx = np.empty(n_slow)
    dy = np.empty(n_fast)
    pull = np.empty(n_fast)
    x[2 : n_slow + 2] = slow
    y[1 : n_fast + 1] = fast
    for frame in range(frames.shape[0]):
        for _ in range(steps_per_frame):
            _tendency(x, y, dx, dy, pull, n_slow, n_fast_per_slow, forcing, coupling, cb, c)
            for k in range(n_slow):
                x[k + 2] += step * dx[k]
            for i in range(n_fast):
                y[i + 1] += step * dy[i]
        _write_frame(frames[frame], x, y, n_slow, n_fast_per_slow)
    slow[:] = x[2 : n_slow + 2]
    fast[:] = y[1 : n_fast + 1]


@numba.njit(inline="always", **_JIT)
def _rk4_path(
    slow: np.ndarray, fast: np.ndarray, frames: np.ndarray, n_fast_per_slow: int, steps_per_frame: int,
    step: float, forcing: float, coupling: float, cb: float, c: float
) -> None:
    """Classical fourth-order Runge-Kutta of one trajectory: ``u <- u + step/6 (k1 + 2k2 + 2k3 + k4)``.

    One loop over the four stages, so the tendency is inlined once: stage s evaluates k_s at the
    stage state ``xs, ys`` (u, u + h/2 k1, u + h/2 k2, u + h k3) and adds w_s k_s (w = 1, 2, 2)
    to the accumulator ``ax, ay``; the last stage applies the update and resets the stage state
    to the new u.
    """
    n_slow = slow.shape[0]
    n_fast = n_slow * n_fast_per_slow
    half = 0.5 * step
    sixth = step / 6.0
    x = np.empty(n_slow + 3)
    y = np.empty(n_fast + 3)
    xs = np.empty(n_slow + 3)
    ys = np.empty(n_fast + 3)
    dx = np.empty(n_slow)
    dy = np.empty(n_fast)
    ax = np.empty(n_slow)
    ay = np.empty(n_fast)
    pull = np.empty(n_fast)
    x[2 : n_slow + 2] = slow
    y[1 : n_fast + 1] = fast
    xs[:] = x
    ys[:] = y
    for frame in range(frames.shape[0]):
        for evaluation in range(steps_per_frame * 4):
            stage = evaluation % 4
            _tendency(xs, ys, dx, dy, pull, n_slow, n_fast_per_slow, forcing, coupling, cb, c)
            if stage == 3:
                for k in range(n_slow):
                    x[k + 2] += sixth * (ax[k] + dx[k])
                    xs[k + 2] = x[k + 2]
                for i in range(n_fast):
                    y[i + 1] += sixth * (ay[i] + dy[i])
                    ys[i + 1] = y[i + 1]
                continue
            if stage == 0:
                ax[:] = 0.0
                ay[:] = 0.0
            weight = 1.0 if stage == 0 else 2.0
            scale = step if stage == 2 else half
            for k in range(n_slow):
                ax[k] += weight * dx[k]
                xs[k + 2] = x[k + 2] + scale * dx[k]
            for i in range(n_fast):
                ay[i] += weight * dy[i]
                ys[i + 1] = y[i + 1] + scale * dy[i]
        _write_frame(frames[frame], x, y, n_slow, n_fast_per_slow)
    slow[:] = x[2 : n_slow + 2]
    fast[:] = y[1 : n_fast + 1]


@numba.njit(**_JIT)
def integrate_euler(
    slow: np.ndarray, fast: np.ndarray, frames: np.ndarray, steps_per_frame: int, step: float,
    forcing: float, coupling: float, cb: float, c: float
) -> None:
    """Forward Euler (the paper's scheme, B.1) of every trajectory, in place.

    Args:
        slow: X ``[B, K]``, the initial state; receives the final one.
        fast: Y ``[B, KJ]`` along the chain; same.
        frames: ``[B, n_frames, 2, KJ]``, receives the state after each ``steps_per_frame`` steps.
        steps_per_frame: integration steps per output interval Δt.
        step: the integration step.
        forcing, coupling, cb, c: F, hc/b, cb and c of Eqs. 59-60.
    """
    n_fast_per_slow = fast.shape[1] // slow.shape[1]
    for b in range(slow.shape[0]):
        if n_fast_per_slow == _PAPER_J:
            _euler_path(slow[b], fast[b], frames[b], _PAPER_J, steps_per_frame, step, forcing, coupling, cb, c)
        else:
            _euler_path(slow[b], fast[b], frames[b], n_fast_per_slow, steps_per_frame, step, forcing, coupling, cb, c)


@numba.njit(**_JIT)
def integrate_rk4(
    slow: np.ndarray, fast: np.ndarray, frames: np.ndarray, steps_per_frame: int, step: float,
    forcing: float, coupling: float, cb: float, c: float
) -> None:
    """Classical RK4 of every trajectory, in place; arguments as :func:`integrate_euler`."""
    n_fast_per_slow = fast.shape[1] // slow.shape[1]
    for b in range(slow.shape[0]):
        if n_fast_per_slow == _PAPER_J:
            _rk4_path(slow[b], fast[b], frames[b], _PAPER_J, steps_per_frame, step, forcing, coupling, cb, c)
        else:
            _rk4_path(slow[b], fast[b], frames[b], n_fast_per_slow, steps_per_frame, step, forcing, coupling, cb, c)
