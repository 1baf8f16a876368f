"""Two-scale Lorenz-96 truth system (PDD Eqs. 59-60, Appendix B.1): kernels, orders, contract."""

from __future__ import annotations

import math
import tracemalloc

import numba
import numpy as np
import pytest

from pdd_core.config import from_dict, to_dict
from pdd_core.errors import ArgumentError, ConfigError, DTypeError, PDDError, ShapeError
from pdd_core.protocols import System
from pdd_core.registry import SYSTEMS
from systems.lorenz96 import Lorenz96, lorenz96_tendency_numpy

PARAMS = {"F": 10.0, "h": 1.0, "b": 10.0, "c": 10.0}


def _tendency_by_definition(x: np.ndarray, y: np.ndarray, F: float, h: float, b: float, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. 59-60 written index by index with B.1's wrap rules, for one trajectory.

    Y_{j,k} (j = 1..J) sits at chain position k J + j - 1; out-of-range j wraps into the next or
    previous k (Y_{j,k} = Y_{j-J,k+1}) and k wraps with period K (Y_{j,k} = Y_{j,k+K}).
    """
    n_slow = x.size
    n_fast_per_slow = y.size // n_slow

    def Y(j: int, k: int) -> float:
        while j > n_fast_per_slow:
            j, k = j - n_fast_per_slow, k + 1
        while j < 1:
            j, k = j + n_fast_per_slow, k - 1
        return y[(k % n_slow) * n_fast_per_slow + j - 1]

    def X(k: int) -> float:
        return x[k % n_slow]

    dx = np.array([-X(k - 1) * (X(k - 2) - X(k + 1)) - X(k) + F - h * c / b * sum(Y(j, k) for j in range(1, n_fast_per_slow + 1)) for k in range(n_slow)])
    dy = np.array(
        [
            -c * b * Y(j + 1, k) * (Y(j + 2, k) - Y(j - 1, k)) - c * Y(j, k) + h * c / b * X(k)
            for k in range(n_slow)
            for j in range(1, n_fast_per_slow + 1)
        ]
    )
    return dx, dy


def _state(system: Lorenz96, slow: np.ndarray, fast: np.ndarray) -> np.ndarray:
    return np.stack([np.repeat(slow, system.J, axis=-1), fast], axis=1)


@pytest.fixture(scope="module")
def attractor_state() -> np.ndarray:
    """Two trajectories after 2 time units of the paper's Euler scheme (on the attractor)."""
    system = Lorenz96(dt=0.5)
    state = system.initial_state(2, np.random.default_rng(0))
    return system.advance(state, 4)[1]


@pytest.mark.parametrize("n_slow,n_fast_per_slow", [(32, 4), (5, 3), (4, 1)])
def test_numpy_reference_matches_equations_59_60_index_by_index(n_slow: int, n_fast_per_slow: int) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(n_slow) * 3, rng.standard_normal(n_slow * n_fast_per_slow)
    params = {"F": 8.0, "h": 0.7, "b": 9.0, "c": 11.0}
    dx, dy = lorenz96_tendency_numpy(x, y, **params)
    dx_ref, dy_ref = _tendency_by_definition(x, y, **params)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(dy, dy_ref, rtol=1e-13, atol=1e-12)


def test_each_slow_variable_drives_its_own_block_of_fast_variables() -> None:
    # B.1 ordering: X_k couples to chain positions kJ .. kJ + J - 1, and only to those.
    x, y = np.zeros(8), np.zeros(8 * 4)
    x[5] = 2.0
    _, dy = lorenz96_tendency_numpy(x, y, F=0.0, h=1.0, b=10.0, c=10.0)
    assert np.flatnonzero(dy).tolist() == [20, 21, 22, 23]
    np.testing.assert_allclose(dy[20:24], 2.0)


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
@pytest.mark.parametrize("n_slow,n_fast_per_slow", [(32, 4), (6, 3)])
def test_kernel_equals_numpy_reference_to_round_off(integrator: str, n_slow: int, n_fast_per_slow: int) -> None:
    # One step of size 1 from random states: the update is u + f(u) (Euler) or the RK4
    # combination, so any difference in the tendency shows at its own scale.
    system = Lorenz96(K=n_slow, J=n_fast_per_slow, integrator=integrator, step=1.0, dt=1.0, F=8.0, h=0.5, b=7.0, c=3.0)
    rng = np.random.default_rng(2)
    slow, fast = rng.standard_normal((3, n_slow)), 0.3 * rng.standard_normal((3, n_slow * n_fast_per_slow))
    frames, final = system.advance(_state(system, slow, fast), 1)

    def f(u: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return lorenz96_tendency_numpy(u[0], u[1], F=8.0, h=0.5, b=7.0, c=3.0)

    if integrator == "euler":
        dx, dy = f((slow, fast))
        expected = (slow + dx, fast + dy)
    else:
        k1 = f((slow, fast))
        k2 = f((slow + 0.5 * k1[0], fast + 0.5 * k1[1]))
        k3 = f((slow + 0.5 * k2[0], fast + 0.5 * k2[1]))
        k4 = f((slow + k3[0], fast + k3[1]))
        expected = tuple(u + (1.0 / 6.0) * (a + 2.0 * b + 2.0 * c + d) for u, a, b, c, d in zip((slow, fast), k1, k2, k3, k4))
    scale = max(np.abs(expected[0]).max(), np.abs(expected[1]).max())
    np.testing.assert_allclose(final[:, 0, ::n_fast_per_slow], expected[0], rtol=0, atol=4e-16 * scale)
    np.testing.assert_allclose(final[:, 1], expected[1], rtol=0, atol=4e-16 * scale)
    np.testing.assert_array_equal(frames[:, -1], final)


@pytest.mark.parametrize("integrator,order,divisions", [("euler", 1, (100, 200, 400)), ("rk4", 4, (10, 20, 40))])
def test_observed_convergence_order(attractor_state: np.ndarray, integrator: str, order: int, divisions: tuple[int, ...]) -> None:
    horizon = 0.05
    reference = Lorenz96(integrator="rk4", step=horizon / 800, dt=horizon).advance(attractor_state, 1)[1]
    errors = [np.abs(Lorenz96(integrator=integrator, step=horizon / n, dt=horizon).advance(attractor_state, 1)[1] - reference).max() for n in divisions]
    observed = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(observed - order) < 0.3), (errors, observed)


def test_frames_shape_dtype_and_chaining() -> None:
    system = Lorenz96(K=8, J=4, dt=0.01, step=1e-3)
    state = system.initial_state(3, np.random.default_rng(3))
    assert state.shape == (3, 2, 32) and state.dtype == np.float64
    frames, final = system.advance(state, 5)
    assert frames.shape == (3, 5, 2, 32) and frames.dtype == np.float64
    np.testing.assert_array_equal(final, frames[:, -1])
    # X channel stays replicated J times; chaining two calls reproduces one call bit for bit.
    np.testing.assert_array_equal(frames[:, :, 0], np.repeat(frames[:, :, 0, ::4], 4, axis=-1))
    first, middle = system.advance(state, 2)
    second, end = system.advance(middle, 3)
    np.testing.assert_array_equal(np.concatenate([first, second], axis=1), frames)
    np.testing.assert_array_equal(end, final)
    assert state.shape == (3, 2, 32) and np.isfinite(state).all()


def test_advance_does_not_modify_its_input() -> None:
    system = Lorenz96(K=4, J=1, dt=0.01, step=1e-3)
    state = system.initial_state(1, np.random.default_rng(4))
    before = state.copy()
    system.advance(state, 2)
    np.testing.assert_array_equal(state, before)


def test_memory_holds_output_frames_only() -> None:
    # The same frames with 100 and 10000 integration steps per frame need the same peak memory,
    # and that peak is the frames plus a few state-sized copies.
    state = Lorenz96().initial_state(16, np.random.default_rng(5))
    peaks = []
    for step in (5e-4, 5e-6):
        system = Lorenz96(step=step, dt=0.05)
        system.advance(state, 1)
        tracemalloc.start()
        frames, _ = system.advance(state, 4)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert abs(peaks[0] - peaks[1]) < 16_384, peaks
    assert peaks[1] < frames.nbytes + 4 * state.nbytes + 65_536, (peaks, frames.nbytes)


def test_same_seed_same_frames_and_thread_count_does_not_matter() -> None:
    system = Lorenz96(K=8, J=4, dt=0.02)
    a = system.advance(system.initial_state(5, np.random.default_rng(6)), 3)[0]
    b = system.advance(system.initial_state(5, np.random.default_rng(6)), 3)[0]
    c = system.advance(system.initial_state(5, np.random.default_rng(7)), 3)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = system.advance(system.initial_state(5, np.random.default_rng(6)), 3)[0]
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(serial, a)


def test_config_round_trip_registry_and_protocol() -> None:
    system = Lorenz96(K=16, J=2, F=8, integrator="rk4", step=1e-3, dt=0.1, burn_in=5)
    assert from_dict(Lorenz96, to_dict(system)) == system
    assert from_dict(Lorenz96, to_dict(Lorenz96())) == Lorenz96()
    assert SYSTEMS.get("lorenz96") is Lorenz96
    assert isinstance(system, System) and system.static is False
    assert system.grid.shape == (32,) and system.grid.channels == 2 and math.isclose(system.grid.lengths[0], 2 * math.pi)
    assert Lorenz96().steps_per_frame == 100
    paper = Lorenz96.presets["paper"]
    assert (paper.n_train, paper.n_valid, paper.n_test, paper.n_frames) == (3000, 100, 100, 64)
    assert "small" in Lorenz96.presets and Lorenz96.presets["small"].note
    with pytest.raises(ConfigError):
        from_dict(Lorenz96, {**to_dict(system), "K": 0})


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"K": 0}, "K"),
        ({"K": 3}, "K"),
        ({"K": 8.0}, "K"),
        ({"J": 0}, "J"),
        ({"J": True}, "J"),
        ({"F": float("nan")}, "F"),
        ({"h": "one"}, "h"),
        ({"b": 0.0}, "b"),
        ({"c": -1.0}, "c"),
        ({"step": 0.0}, "step"),
        ({"dt": 0.05, "step": 3e-4}, "dt"),
        ({"dt": 1e-4, "step": 5e-4}, "dt"),
        ({"burn_in": -1.0}, "burn_in"),
        ({"integrator": "rk5"}, "integrator"),
    ],
)
def test_invalid_parameters_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ArgumentError, match=rf"^{name}="):
        Lorenz96(**kwargs)


def test_invalid_calls_raise_clear_errors() -> None:
    system = Lorenz96(K=4, J=2, dt=0.01, step=1e-3)
    rng = np.random.default_rng(8)
    state = system.initial_state(2, rng)
    with pytest.raises(ArgumentError, match="^batch="):
        system.initial_state(0, rng)
    with pytest.raises(DTypeError, match="^rng="):
        system.initial_state(2, 42)
    with pytest.raises(ArgumentError, match="^n_frames="):
        system.advance(state, 0)
    with pytest.raises(ShapeError, match=r"^state\.shape="):
        system.advance(state[:, :1], 1)
    with pytest.raises(DTypeError, match="^state="):
        system.advance(state.tolist(), 1)
    broken = state.copy()
    broken[0, 0, 1] += 1.0
    with pytest.raises(ArgumentError, match="copies of each X_k"):
        system.advance(broken, 1)
    broken = state.copy()
    broken[1, 1, 3] = np.nan
    with pytest.raises(ArgumentError, match="^state="):
        system.advance(broken, 1)


def test_unstable_step_raises_instead_of_returning_nan() -> None:
    system = Lorenz96(step=0.5, dt=5.0)
    with pytest.raises(PDDError, match="^step=.*blew up"):
        system.advance(system.initial_state(1, np.random.default_rng(9)), 1)
