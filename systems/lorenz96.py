"""The two-scale Lorenz-96 model, the 1D truth system of PDD (Eqs. 59-60, Appendix B.1).

    dX_k/dt     = -X_{k-1}(X_{k-2} - X_{k+1}) - X_k + F - (hc/b) Σ_{j=1}^{J} Y_{j,k}      (59)
    dY_{j,k}/dt = -cb Y_{j+1,k}(Y_{j+2,k} - Y_{j-1,k}) - c Y_{j,k} + (hc/b) X_k          (60)

with X_k = X_{k+K}, Y_{j,k} = Y_{j,k+K} and Y_{j,k} = Y_{j-J,k+1} (the ordering of Russell
et al. 2017 that B.1 adopts): the KJ fast variables form one periodic chain, position
``i = k J + (j - 1)`` (0-based k, 1-based j), and each X_k drives the J consecutive Y's
i = kJ .. kJ + J - 1. Output frames sit on the KJ-point grid with two channels:
channel 0 holds X_k replicated J times (at points kJ .. kJ + J - 1), channel 1 holds Y_i.

The internal state (``initial_state`` / ``advance``) uses the same layout as a frame,
float64 ``[B, 2, KJ]``, so the final state equals the last frame and any stored frame can
seed a new run; the J copies of each X_k must agree.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, ClassVar

import attrs
import numba
import numpy as np

from pdd_core.data.presets import DatasetPreset
from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SYSTEMS
from pdd_core.state_projection import ReplicatedCopies
from pdd_core.validation import check_positive, finite_float, non_negative, positive, real_to_float
from systems._lorenz96_kernels import integrate_euler, integrate_rk4

INTEGRATORS: tuple[str, ...] = ("euler", "rk4")
_KERNELS = {"euler": integrate_euler, "rk4": integrate_rk4}
# dt / step may carry binary round-off (0.05 / 5e-4 = 100.00000000000001); anything further
# from an integer than this relative slack is a genuine mismatch.
_STEP_RATIO_SLACK = 1e-9


def lorenz96_tendency_numpy(x: np.ndarray, y: np.ndarray, F: float, h: float, b: float, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Plain vectorised NumPy right-hand side of PDD Eqs. 59-60 (the reference for the kernels).

    Args:
        x: slow variables ``[..., K]``.
        y: fast variables ``[..., K*J]`` along the single periodic chain (B.1 ordering).

    Returns:
        ``(dX/dt, dY/dt)`` with the shapes of ``x`` and ``y``; same arithmetic, term by term,
        as the numba kernels.
    """
    n_slow = x.shape[-1]
    n_fast_per_slow = y.shape[-1] // n_slow
    coupling = h * c / b
    cb = c * b
    y_sum = np.zeros(x.shape)
    for j in range(n_fast_per_slow):
        y_sum = y_sum + y[..., j::n_fast_per_slow]
    dx = -np.roll(x, 1, -1) * (np.roll(x, 2, -1) - np.roll(x, -1, -1)) - x + F - coupling * y_sum
    dy = -cb * np.roll(y, -1, -1) * (np.roll(y, -2, -1) - np.roll(y, 1, -1)) - c * y + np.repeat(coupling * x, n_fast_per_slow, -1)
    return dx, dy


def _plain_int(value: Any) -> Any:
    """NumPy integers become ints so configs serialise to JSON; anything else goes to the validator."""
    return int(value) if isinstance(value, np.integer) else value


def _check_size(minimum: int):
    def check(instance, attribute, value) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise bad_argument(attribute.name, value, f"must be an integer >= {minimum}", f"pass {attribute.name} >= {minimum} (the paper uses K=32, J=4)")

    return check


def _check_integrator(instance, attribute, value) -> None:
    if value not in INTEGRATORS:
        raise bad_argument("integrator", value, f"unknown integrator, expected one of {INTEGRATORS}", "use 'euler' (the paper's scheme) or 'rk4'")


def _check_dt(instance, attribute, value) -> None:
    check_positive("dt", value)
    ratio = value / instance.step
    if ratio < 1 - _STEP_RATIO_SLACK or abs(ratio - round(ratio)) > _STEP_RATIO_SLACK * ratio:
        problem = f"the output interval must be an integer multiple of step={instance.step} (dt/step = {ratio:.6g})"
        raise bad_argument("dt", value, problem, "choose dt = n * step, e.g. dt=0.05 with step=5e-4")


@SYSTEMS.register("lorenz96")
@attrs.frozen
class Lorenz96:
    """Two-scale Lorenz-96 (PDD Eqs. 59-60, B.1); defaults are the paper's settings.

    Attributes:
        K: number of slow variables X_k.
        J: fast variables Y_{j,k} per slow variable (grid size K·J).
        F: forcing of the slow variables.
        b: amplitude ratio between X and Y.
        c: time-scale ratio between X and Y.
        h: coupling strength.
        integrator: ``"euler"`` (forward Euler, the paper's scheme) or ``"rk4"``.
        step: integration step (5e-4 in B.1).
        dt: output interval Δt between saved frames, an integer multiple of ``step`` (0.05).
        burn_in: physical time to discard before the first saved frame (30 in B.1).
    """

    K: int = attrs.field(default=32, converter=_plain_int, validator=_check_size(4))
    J: int = attrs.field(default=4, converter=_plain_int, validator=_check_size(1))
    F: float = attrs.field(default=10.0, converter=real_to_float, validator=finite_float)
    b: float = attrs.field(default=10.0, converter=real_to_float, validator=positive)
    c: float = attrs.field(default=10.0, converter=real_to_float, validator=positive)
    h: float = attrs.field(default=1.0, converter=real_to_float, validator=finite_float)
    integrator: str = attrs.field(default="euler", validator=_check_integrator)
    step: float = attrs.field(default=5e-4, converter=real_to_float, validator=positive)
    dt: float = attrs.field(default=0.05, converter=real_to_float, validator=_check_dt)
    burn_in: float = attrs.field(default=30.0, converter=real_to_float, validator=non_negative)

    static: ClassVar[bool] = False
    channel_names: ClassVar[tuple[str, ...]] = ("X", "Y")  # labels of the channels in figures
    presets: ClassVar[dict[str, DatasetPreset]] = {
        "paper": DatasetPreset(3000, 100, 100, 64, note="PDD B.1 / Sec. 4.1: 3000/100/100 paths of 64 snapshots, Euler step 5e-4, dt 0.05, burn-in 30"),
        "small": DatasetPreset(200, 20, 20, 64, note="paths scaled down 15x (train) and 5x (valid/test); physics, step, dt, burn-in, path length as paper"),
    }

    @property
    def grid(self) -> Grid:
        """K·J points on [0, 2π), channels (X replicated, Y)."""
        return Grid(shape=(self.K * self.J,), channels=2)

    def state_projection(self) -> ReplicatedCopies:
        """Channel 0 holds each X_k J times: a rollout's states are projected back onto equal copies (:mod:`pdd_core.state_projection`)."""
        return ReplicatedCopies(channel=0, copies=self.J)

    @property
    def steps_per_frame(self) -> int:
        """Integration steps per output interval, dt / step (100 in B.1)."""
        return round(self.dt / self.step)

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Random state ``[B, 2, KJ]``: X_k = F + N(0, 1), Y_i = N(0, 1) / b (Y is ~b times smaller).

        The burn-in (``burn_in``) carries it onto the attractor; only the seed matters after that.
        """
        _check_batch(batch)
        _check_rng(rng)
        slow = self.F + rng.standard_normal((batch, self.K))
        fast = rng.standard_normal((batch, self.K * self.J)) / self.b
        return np.stack([np.repeat(slow, self.J, axis=-1), fast], axis=1)

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Integrate ``n_frames`` output intervals of every trajectory.

        Args:
            state: float ``[B, 2, KJ]`` (a frame: X replicated J times, Y).
            n_frames: number of output intervals Δt to integrate and save.
            rng: unused (the model is deterministic); accepted for the ``System`` protocol.

        Returns:
            ``(frames, final_state)``: frames float64 ``[B, n_frames, 2, KJ]``, the state after
            each Δt; ``final_state`` equals ``frames[:, -1]``. Memory holds the frames only.
        """
        slow, fast = self._split_state(state)
        if not isinstance(n_frames, (int, np.integer)) or isinstance(n_frames, bool) or n_frames < 1:
            raise bad_argument("n_frames", n_frames, "must be an integer >= 1", "pass the number of output intervals to integrate")
        frames = np.empty((slow.shape[0], int(n_frames), 2, self.K * self.J))
        parameters = (self.steps_per_frame, self.step, self.F, self.h * self.c / self.b, self.c * self.b, self.c)
        _run_on_threads(_KERNELS[self.integrator], slow, fast, frames, parameters)
        # inf and NaN never turn finite again, so a blow-up anywhere shows in the last frame.
        if not np.isfinite(frames[:, -1]).all():
            fix = "use a smaller step (the paper's Euler step is 5e-4) or integrator='rk4'"
            raise bad_argument("step", self.step, f"the {self.integrator} integration blew up (non-finite state)", fix)
        return frames, frames[:, -1].copy()

    def _split_state(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Validated contiguous float64 copies of X ``[B, K]`` and Y ``[B, KJ]`` from a state."""
        if not isinstance(state, np.ndarray) or not np.issubdtype(state.dtype, np.floating):
            found = state.dtype if isinstance(state, np.ndarray) else type(state).__name__
            raise bad_argument("state", found, "expected a float NumPy array", "pass the array from initial_state or a saved frame", kind=DTypeError)
        n_grid = self.K * self.J
        if state.ndim != 3 or state.shape[1:] != (2, n_grid) or state.shape[0] < 1:
            expected = f"expected [B, 2, {n_grid}] (X replicated J={self.J} times, Y)"
            raise bad_argument("state.shape", state.shape, expected, "pass the array from initial_state or frames[:, i]", kind=ShapeError)
        if not np.isfinite(state).all():
            raise bad_argument("state", "array with NaN/inf", "the state must be finite", "start from initial_state(batch, rng)")
        replicated = state[:, 0].reshape(-1, self.K, self.J)
        if not (replicated == replicated[..., :1]).all():
            raise bad_argument("state[:, 0]", "X channel", f"the J={self.J} copies of each X_k must be equal", "build channel 0 as np.repeat(X, J, axis=-1)")
        slow = np.array(replicated[..., 0], dtype=np.float64, order="C")
        fast = np.array(state[:, 1], dtype=np.float64, order="C")
        return slow, fast


def _run_on_threads(kernel: Callable[..., None], slow: np.ndarray, fast: np.ndarray, frames: np.ndarray, parameters: tuple[float, ...]) -> None:
    """Run a nogil kernel on contiguous slices of the batch, one per numba thread.

    Trajectories are independent, so the slices share nothing; ``numba.set_num_threads``
    (or ``NUMBA_NUM_THREADS``) sets how many run at once. Results do not depend on it.
    """
    threads = min(numba.get_num_threads(), slow.shape[0])
    if threads == 1:
        kernel(slow, fast, frames, *parameters)
        return
    bounds = np.linspace(0, slow.shape[0], threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        jobs = [pool.submit(kernel, slow[lo:hi], fast[lo:hi], frames[lo:hi], *parameters) for lo, hi in zip(bounds[:-1], bounds[1:])]
        for job in jobs:
            job.result()


def _check_batch(batch: int) -> None:
    if not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or batch < 1:
        raise bad_argument("batch", batch, "must be an integer >= 1", "pass the number of trajectories")


def _check_rng(rng: np.random.Generator) -> None:
    if not isinstance(rng, np.random.Generator):
        raise bad_argument("rng", rng, "randomness must come from an explicit numpy.random.Generator", "pass rng=np.random.default_rng(seed)", kind=DTypeError)


__all__ = ["INTEGRATORS", "Lorenz96", "lorenz96_tendency_numpy"]
