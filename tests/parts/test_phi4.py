"""Lattice phi^4 HMC (systems/phi4.py) against exact results.

Ground truths: the free-field lattice propagator 1/(ε^d (a²|p̂|² + m²)); RDM Eq. 7.2 evaluated
literally in Fourier space; finite differences of the action; leapfrog's second order and
time reversibility; the Creutz equality ⟨e^{-ΔH}⟩ = 1; the AR(1) autocorrelation time.
"""

import math

import attrs
import numba
import numpy as np
import pytest

from pdd_core.config import from_dict, from_tagged, tagged, to_dict
from pdd_core.errors import ArgumentError, ConfigError, DTypeError, ShapeError
from pdd_core.protocols import System
from pdd_core.registry import SYSTEMS
from systems.phi4 import LatticePhi4, integrated_autocorrelation_time

# A strongly interacting small theory: vacuum φ² = -6 m²/λ = 24, where g φ² is comparable to κ.
INTERACTING = LatticePhi4(L=1.0, N=8, m2=-20.0, lam=5.0, a=1.0, step_size=0.1, leapfrog_steps=10, trajectories_per_frame=1)


def thermalised(system: LatticePhi4, batch: int, trajectories: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return system.advance(system.initial_state(batch, rng), trajectories, rng)[1]


def hamiltonian(system: LatticePhi4, fields: np.ndarray, momenta: np.ndarray) -> np.ndarray:
    return 0.5 * (momenta**2).sum(axis=(-2, -1)) + system.action(fields)


def test_free_field_reproduces_exact_lattice_propagator():
    # ε = 0.25, a² = 1.69: a normalisation error in ε^d, a vs a², or |p̂|² would show at many sigma.
    system = LatticePhi4(L=2.0, N=8, m2=10.0, lam=0.0, a=1.3, step_size=0.2, leapfrog_steps=8, trajectories_per_frame=1)
    rng = np.random.default_rng(11)
    state = system.advance(system.initial_state(32, rng), 100, rng)[1]
    frames = system.advance(state, 1000, rng)[0][:, :, 0]
    power = np.abs(np.fft.fftn(frames, axes=(-2, -1), norm="ortho")) ** 2
    per_chain = power.mean(axis=1)  # chains are independent: their spread is an honest error bar
    mean = per_chain.mean(axis=0)
    error = per_chain.std(axis=0, ddof=1) / math.sqrt(per_chain.shape[0])
    exact = system.free_propagator()
    z = (mean - exact) / error
    assert np.abs(z).max() < 5.0, np.abs(z).max()
    assert abs((mean / exact).mean() - 1.0) < 0.01  # the mode average has ~0.2% statistical error


def test_free_propagator_uses_the_grid_lattice_symbol_and_rdm_normalisation():
    system = LatticePhi4(L=3.0, N=6, m2=0.5, lam=0.0, a=1.0)
    p_hat_squared = system.grid.k2().numpy()
    propagator_rdm = system.free_propagator()[:, : system.N // 2 + 1] / system.N**2
    np.testing.assert_allclose(propagator_rdm, 1.0 / (system.L**2 * (p_hat_squared + system.m2)), rtol=1e-12)


def test_action_equals_rdm_eq_7_2_in_fourier_space():
    system = LatticePhi4(L=1.7, N=4, m2=-1.3, lam=2.5, a=1.0)
    phi = np.random.default_rng(3).normal(0.0, 2.0, (4, 4))
    # RDM Eq. 4.26: φ̃(p) = N^{-d} Σ_n e^{-2πi p·n/N} φ(n); Eq. 4.27 for p̂.
    phi_tilde = np.fft.fftn(phi) / system.N**2
    index = np.arange(system.N)
    p_hat = 2 * system.N / system.L * np.sin(np.pi * index / system.N)
    p_hat_squared = p_hat[:, None] ** 2 + p_hat[None, :] ** 2
    quadratic = system.L**2 * np.sum(0.5 * (p_hat_squared + system.m2) * np.abs(phi_tilde) ** 2)
    quartic = 0.0
    modes = [(i, j) for i in range(system.N) for j in range(system.N)]
    for p1 in modes:
        for p2 in modes:
            for p3 in modes:
                p4 = ((-p1[0] - p2[0] - p3[0]) % system.N, (-p1[1] - p2[1] - p3[1]) % system.N)
                quartic += phi_tilde[p1] * phi_tilde[p2] * phi_tilde[p3] * phi_tilde[p4]
    expected = quadratic + system.L**2 * system.lam / 24.0 * quartic.real
    assert system.action(phi) == pytest.approx(expected, rel=1e-12)


def test_force_is_minus_the_finite_difference_gradient_of_the_action():
    system = LatticePhi4(L=1.0, N=5, m2=-20.0, lam=5.0, a=0.7)
    phi = np.random.default_rng(4).normal(0.0, 5.0, (5, 5))
    shift = 1e-5
    gradient = np.empty_like(phi)
    for index in np.ndindex(phi.shape):
        up, down = phi.copy(), phi.copy()
        up[index] += shift
        down[index] -= shift
        gradient[index] = (system.action(up) - system.action(down)) / (2 * shift)
    np.testing.assert_allclose(system.force(phi), -gradient, rtol=1e-6, atol=1e-8 * np.abs(gradient).max())


def test_leapfrog_is_time_reversible():
    fields = thermalised(INTERACTING, 4, 20, seed=5)[:, 0]
    momenta = np.random.default_rng(6).standard_normal(fields.shape)
    forward_fields, forward_momenta = INTERACTING.leapfrog(fields, momenta, 0.1, 25)
    back_fields, back_momenta = INTERACTING.leapfrog(forward_fields, forward_momenta, -0.1, 25)
    assert np.abs(forward_fields - fields).max() > 0.1
    np.testing.assert_allclose(back_fields, fields, rtol=0, atol=1e-11 * np.abs(fields).max())
    np.testing.assert_allclose(back_momenta, momenta, rtol=0, atol=1e-11 * np.abs(momenta).max())


def test_energy_violation_scales_as_step_squared():
    fields = thermalised(INTERACTING, 16, 30, seed=7)[:, 0]
    momenta = np.random.default_rng(8).standard_normal(fields.shape)
    start = hamiltonian(INTERACTING, fields, momenta)
    rms = []
    steps = (0.1, 0.05, 0.025)
    for step in steps:  # fixed trajectory length 1
        end_fields, end_momenta = INTERACTING.leapfrog(fields, momenta, step, round(1.0 / step))
        rms.append(np.sqrt(np.mean((hamiltonian(INTERACTING, end_fields, end_momenta) - start) ** 2)))
    slopes = np.diff(np.log(rms)) / np.diff(np.log(steps))
    assert np.all(np.abs(slopes - 2.0) < 0.4), slopes


def test_acceptance_is_a_rate_and_near_one_for_small_steps():
    state = thermalised(INTERACTING, 8, 30, seed=9)
    rng = np.random.default_rng(10)
    coarse = INTERACTING.run_chain(state, 40, rng).stats
    fine = attrs.evolve(INTERACTING, step_size=0.01, leapfrog_steps=50).run_chain(state, 40, rng).stats
    assert 0.0 < coarse.acceptance_rate <= 1.0
    assert fine.acceptance_rate > 0.99
    assert fine.rms_delta_h < coarse.rms_delta_h / 20
    assert coarse.n_trajectories == 320 and coarse.n_diverged == 0


def test_creutz_equality_holds_in_equilibrium():
    system = attrs.evolve(INTERACTING, step_size=0.2, leapfrog_steps=5)
    state = thermalised(system, 32, 50, seed=12)
    stats = system.run_chain(state, 300, np.random.default_rng(13)).stats
    assert 0.3 < stats.acceptance_rate < 0.95  # a step where e^{-ΔH} genuinely fluctuates
    assert abs(stats.mean_exp_minus_delta_h - 1.0) < 4 * stats.exp_minus_delta_h_error
    assert stats.exp_minus_delta_h_error < 0.05
    assert stats.mean_delta_h > 0  # Jensen: ⟨e^{-ΔH}⟩ = 1 forces ⟨ΔH⟩ > 0


def test_integrated_autocorrelation_time_of_ar1_series():
    rho = 0.8
    rng = np.random.default_rng(14)
    noise = rng.standard_normal((4, 50000))
    series = np.empty_like(noise)
    series[:, 0] = noise[:, 0]
    for t in range(1, noise.shape[1]):
        series[:, t] = rho * series[:, t - 1] + math.sqrt(1 - rho**2) * noise[:, t]
    result = integrated_autocorrelation_time(series)
    exact = 0.5 * (1 + rho) / (1 - rho)
    assert result.converged and result.window >= 5 * result.tau - 1
    assert abs(result.tau - exact) < 3 * result.error + rho ** (result.window + 1) / (1 - rho)
    assert result.error < 0.05 * exact
    white = integrated_autocorrelation_time(noise[0])
    assert abs(white.tau - 0.5) < 3 * white.error


def test_autocorrelation_times_of_a_chain_are_reported():
    run = INTERACTING.run_chain(thermalised(INTERACTING, 4, 20, seed=15), 200, np.random.default_rng(16))
    times = run.autocorrelation_times()
    assert set(times) == {"abs_magnetisation", "action"}
    assert all(value.tau >= 0.25 and value.n_samples == 800 for value in times.values())
    np.testing.assert_allclose(run.action[:, -1], INTERACTING.action(run.state[:, 0]), rtol=1e-12)
    np.testing.assert_allclose(np.abs(run.magnetisation[:, -1]), np.abs(run.state[:, 0].mean(axis=(1, 2))), rtol=1e-12)


def test_system_protocol_shapes_and_static_semantics():
    system = LatticePhi4(N=6, trajectories_per_frame=2, thermalisation_trajectories=7, leapfrog_steps=5)
    assert isinstance(system, System) and system.static
    assert system.grid.shape == (6, 6) and system.grid.channels == 1 and system.grid.symbol == "lattice"
    assert system.spacing == pytest.approx(1.0 / 6) and system.dt == 2.0 and system.burn_in == 7.0
    rng = np.random.default_rng(17)
    state = system.initial_state(3, rng)
    assert state.shape == (3, 1, 6, 6) and state.dtype == np.float64
    frames, final = system.advance(state, 4, rng)
    assert frames.shape == (3, 4, 1, 6, 6) and frames.dtype == np.float64
    np.testing.assert_array_equal(final, frames[:, -1])
    assert set(LatticePhi4.presets) >= {"small", "paper"} and all(preset.n_frames == 32 for preset in LatticePhi4.presets.values())  # samples per chain


def test_same_seed_same_samples_whatever_the_thread_count():
    system = LatticePhi4(N=6, leapfrog_steps=5, trajectories_per_frame=2)
    state = system.initial_state(4, np.random.default_rng(18))
    first = system.advance(state, 3, np.random.default_rng(19))[0]
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        second = system.advance(state, 3, np.random.default_rng(19))[0]
    finally:
        numba.set_num_threads(previous)
    other = system.advance(state, 3, np.random.default_rng(20))[0]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_config_round_trip_and_registry():
    system = LatticePhi4(L=2, N=10, m2=0.01, lam=0.0017, a=1.0, step_size=0.1, leapfrog_steps=40, z2_flip=False)
    assert from_dict(LatticePhi4, to_dict(system)) == system
    assert from_tagged(tagged(system, SYSTEMS), SYSTEMS) == system
    assert SYSTEMS.get("phi4") is LatticePhi4
    assert isinstance(system.L, float) and system.L == 2.0
    with pytest.raises(ConfigError, match="LatticePhi4"):
        from_dict(LatticePhi4, {"spacing": 0.1})


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"N": 1}, "N"),
        ({"N": 20.0}, "N"),
        ({"L": 0.0}, "L"),
        ({"L": math.nan}, "L"),
        ({"a": -1.0}, "a"),
        ({"m2": math.inf}, "m2"),
        ({"lam": -0.1}, "lam"),
        ({"lam": 0.0, "m2": -1.0}, "m2"),
        ({"step_size": 1.0}, "step_size"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_jitter": 1.0}, "step_jitter"),
        ({"leapfrog_steps": 0}, "leapfrog_steps"),
        ({"trajectories_per_frame": True}, "trajectories_per_frame"),
        ({"thermalisation_trajectories": -1}, "thermalisation_trajectories"),
    ],
)
def test_invalid_parameters_are_rejected_with_the_parameter_named(overrides, name):
    with pytest.raises(ArgumentError, match=f"^{name}="):
        LatticePhi4(**overrides)


def test_invalid_inputs_are_rejected_clearly():
    system = LatticePhi4(N=4)
    rng = np.random.default_rng(21)
    with pytest.raises(DTypeError, match="z2_flip="):
        LatticePhi4(z2_flip="yes")
    with pytest.raises(ShapeError, match="state.shape"):
        system.advance(np.zeros((2, 1, 5, 5)), 1, rng)
    with pytest.raises(ArgumentError, match="state="):
        system.advance(np.full((2, 1, 4, 4), np.nan), 1, rng)
    with pytest.raises(DTypeError, match="state="):
        system.advance(np.zeros((2, 1, 4, 4), dtype=np.int64), 1, rng)
    with pytest.raises(DTypeError, match="rng="):
        system.advance(system.initial_state(2, rng), 1, 42)
    with pytest.raises(ArgumentError, match="n_frames="):
        system.advance(system.initial_state(2, rng), 0, rng)
    with pytest.raises(ArgumentError, match="batch="):
        system.initial_state(0, rng)
    with pytest.raises(ArgumentError, match="m2="):
        system.free_propagator()
    with pytest.raises(ShapeError, match="momenta.shape"):
        system.leapfrog(np.zeros((4, 4)), np.zeros((2, 4, 4)), 0.1, 1)
    with pytest.raises(ArgumentError, match="series="):
        integrated_autocorrelation_time(np.ones(100))
    with pytest.raises(ShapeError, match="series.shape"):
        integrated_autocorrelation_time(np.ones(3))
    with pytest.raises(ArgumentError, match="window_constant="):
        integrated_autocorrelation_time(np.arange(10.0), window_constant=0.0)
