"""Kuramoto-Sivashinsky truth integrator: ETDRK4 order, exact invariants, an independent reference."""

import math

import attrs
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from pdd_core import SYSTEMS, ArgumentError, DTypeError, ShapeError, System, from_dict, from_tagged, tagged, to_dict
from systems.kuramoto_sivashinsky import KuramotoSivashinsky


@pytest.fixture(scope="module")
def attractor_state() -> np.ndarray:
    """Two states on the L = 22 attractor (100 time units from small noise)."""
    system = KuramotoSivashinsky()
    return system.advance(system.initial_state(2, np.random.default_rng(0)), 400)[1]


def _solve(state: np.ndarray, horizon: float, step: float) -> np.ndarray:
    """One frame after ``horizon`` time units with ETDRK4 step ``step``."""
    return KuramotoSivashinsky(dt=horizon, substeps=round(horizon / step)).advance(state, 1)[0][:, 0]


def test_etdrk4_converges_at_fourth_order(attractor_state):
    """Successive-halving differences |u_h − u_{h/2}| shrink like h⁴ (Kassam & Trefethen 2005).

    Measured: fitted order 3.88 over h = 0.01 ... 0.00125 at horizon 1 (Cox-Matthews ETDRK4
    approaches 4 from below on this stiff problem; at h >= 0.05 it is nearer 3).
    """
    steps = [0.01, 0.005, 0.0025, 0.00125]
    solutions = [_solve(attractor_state, 1.0, h) for h in steps]
    differences = [np.abs(a - b).max() for a, b in zip(solutions[:-1], solutions[1:])]
    order = np.polyfit(np.log(steps[:-1]), np.log(differences), 1)[0]
    assert abs(order - 4.0) < 0.5, f"measured order {order:.2f}, differences {differences}"


def test_mean_is_conserved_exactly():
    system = KuramotoSivashinsky()
    state = system.initial_state(3, np.random.default_rng(1)) + np.array([0.0, 0.7, -1.3])[:, None, None]
    frames, _ = system.advance(state, 200)
    np.testing.assert_allclose(frames.mean(axis=-1), np.broadcast_to(state.mean(axis=-1)[:, None], frames.shape[:-1]), rtol=0, atol=1e-13)


def test_small_modes_grow_at_the_linear_rate():
    """At amplitude 1e-9 the nonlinearity is negligible: mode n evolves as e^{(k² − k⁴) t}, k = 2πn/L."""
    system = KuramotoSivashinsky(dt=2.0)
    x = np.arange(system.n_points) * system.length / system.n_points
    for n in (1, 2, 5):
        k = 2 * math.pi * n / system.length
        state = 1e-9 * np.cos(k * x)[None, None]
        frames, _ = system.advance(state, 3)
        expected = state[:, None] * np.exp((k**2 - k**4) * system.dt * np.arange(1, 4))[None, :, None, None]
        np.testing.assert_allclose(frames, expected, rtol=0, atol=1e-6 * np.abs(expected).max())


def test_agrees_with_an_independent_fine_reference(attractor_state):
    """scipy DOP853 (tight tolerances) on the real-space form u_t = −u u_x − u_xx − u_xxxx, spectral
    derivatives, no dealiasing: a different formulation of the nonlinear term and a different integrator."""
    system = KuramotoSivashinsky()
    k = 2 * math.pi / system.length * np.fft.fftfreq(system.n_points, 1.0 / system.n_points)

    def derivative(u: np.ndarray, order: int) -> np.ndarray:
        return np.real(np.fft.ifft((1j * k) ** order * np.fft.fft(u)))

    def right_hand_side(t: float, u: np.ndarray) -> np.ndarray:
        return -u * derivative(u, 1) - derivative(u, 2) - derivative(u, 4)

    horizon = 1.0
    reference = solve_ivp(right_hand_side, (0.0, horizon), attractor_state[0, 0], method="DOP853", rtol=1e-11, atol=1e-12).y[:, -1]
    ours = _solve(attractor_state[:1], horizon, 0.01)[0, 0]
    assert np.abs(ours - reference).max() < 1e-6 * np.abs(reference).max()


def test_burn_in_reaches_a_bounded_chaotic_state(attractor_state):
    system = KuramotoSivashinsky()
    frames, _ = system.advance(attractor_state, 40)
    assert 0.5 < frames.std() < 2.5 and np.abs(frames).max() < 5.0
    # chaos: a 1e-6 perturbation of the lowest mode grows by more than 1000x within 300 time units
    x = np.arange(system.n_points) * system.length / system.n_points
    pair = np.concatenate([attractor_state, attractor_state + 1e-6 * np.cos(2 * math.pi * x / system.length)])
    frames, _ = system.advance(pair, 1200)
    assert np.abs(frames[:2] - frames[2:]).max() > 1e-3


def test_shapes_dtypes_protocol_and_determinism():
    system = KuramotoSivashinsky(n_points=32, length=16.0)
    state = system.initial_state(4, np.random.default_rng(2))
    frames, final = system.advance(state, 6)
    assert state.shape == (4, 1, 32) and state.dtype == np.float64
    assert frames.shape == (4, 6, 1, 32) and frames.dtype == np.float64
    np.testing.assert_array_equal(final, frames[:, -1])
    np.testing.assert_array_equal(state, system.initial_state(4, np.random.default_rng(2)))
    np.testing.assert_array_equal(frames, system.advance(state, 6, np.random.default_rng(99))[0])
    assert abs(state.mean()) < 1e-15 and isinstance(system, System) and not system.static
    assert system.grid.shape == (32,) and system.grid.channels == 1


@pytest.mark.parametrize(
    "overrides",
    [{"length": 0.0}, {"n_points": 4}, {"n_points": 64.0}, {"dt": float("nan")}, {"substeps": 0}, {"burn_in": -1.0}, {"initial_amplitude": 0.0}],
)
def test_invalid_parameters_are_rejected(overrides):
    with pytest.raises(ArgumentError, match=next(iter(overrides))):
        KuramotoSivashinsky(**overrides)


def test_invalid_calls_are_rejected():
    system = KuramotoSivashinsky(n_points=16)
    with pytest.raises(ShapeError):
        system.advance(np.zeros((2, 1, 8)), 1)
    with pytest.raises(DTypeError):
        system.advance([[0.0] * 16], 1)
    with pytest.raises(ArgumentError, match="finite"):
        system.advance(np.full((1, 1, 16), np.inf), 1)
    with pytest.raises(ArgumentError, match="n_frames"):
        system.advance(np.zeros((1, 1, 16)), 0)
    with pytest.raises(ArgumentError, match="batch"):
        system.initial_state(0, np.random.default_rng(0))


def test_config_round_trips_registry_and_presets():
    system = KuramotoSivashinsky(length=32 * math.pi, n_points=128, dt=0.5, substeps=2, burn_in=0.0)
    assert from_dict(KuramotoSivashinsky, to_dict(system)) == system
    assert from_tagged(tagged(system, SYSTEMS), SYSTEMS) == system
    assert SYSTEMS.get("kuramoto-sivashinsky") is KuramotoSivashinsky
    assert {"small", "paper"} <= set(KuramotoSivashinsky.presets)
    for preset in KuramotoSivashinsky.presets.values():
        assert attrs.evolve(KuramotoSivashinsky(), **preset.overrides).n_points >= 8 and preset.note
