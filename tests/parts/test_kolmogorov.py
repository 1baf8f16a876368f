"""Kolmogorov flow (PDD Eqs. 61-62, B.1) against invariants, closed forms and the NumPy reference.

* The dealiased advection term conserves energy and enstrophy to round-off (band-limited fields).
* The laminar solution ζ = −k_f cos(k_f y)/(μ + ν k_f²) is a fixed point of both schemes.
* The fast path (Basdevant form, pruned scipy FFTs, numba kernels) equals the plain NumPy reference.
* Temporal orders: midpoint 2, ETDRK4 4 (successive-halving differences).
* Spectral downsampling of a field band-limited to the output grid is exact sampling.
"""

import math

import numpy as np
import pytest

from pdd_core import SYSTEMS, ArgumentError, DTypeError, ShapeError, System, from_dict, from_tagged, tagged, to_dict
from systems._kolmogorov_spectral import ReferenceModel, band_from_field, field_from_band, full_from_band, integrate, spectral_operators, tendency
from systems.kolmogorov import KolmogorovFlow, bicubic_downsample, spectral_downsample

MU, NU, K_F = 0.1, 1e-3, 4


def _turbulent_like_spectrum(n: int, batch: int = 2, seed: int = 0) -> np.ndarray:
    """Band spectra of the system's random initial vorticity (rms 5, smooth) on n² points."""
    return band_from_field(KolmogorovFlow(n_sim=n, n_out=min(n, 16)).initial_state(batch, np.random.default_rng(seed))[:, 0])


def _rough_band_spectrum(n: int, seed: int = 0) -> np.ndarray:
    """White noise projected on the 2/3 band: every retained mode excited, up to |k| = K."""
    return band_from_field(np.random.default_rng(seed).standard_normal((2, n, n)))


def _grid(n: int) -> np.ndarray:
    return 2 * math.pi * np.arange(n) / n


@pytest.mark.parametrize("n", [32, 30, 33])
def test_dealiased_advection_conserves_energy_and_enstrophy(n):
    w = _rough_band_spectrum(n)
    ops = spectral_operators(n, MU, NU, K_F, 1e-3, "midpoint")
    fast_advection = -(tendency(w, ops) - ops.linear * w - ops.forcing)
    reference = ReferenceModel(n, 0.0, 0.0, K_F, 1e-3, "midpoint").tendency(full_from_band(w, n)) - full_from_band(ops.forcing, n)  # −V·∇ζ
    psi = field_from_band(-w * ops.inv_k2, n)
    omega = field_from_band(w, n)
    for advection in (field_from_band(fast_advection, n), -np.fft.irfft2(reference, s=(n, n))):
        scale = np.abs(advection).sum(axis=(-2, -1))
        assert (scale > 1.0).all()  # the term is far from trivially zero
        energy_rate = (psi * advection).sum(axis=(-2, -1)) / (np.abs(psi).max() * scale)
        enstrophy_rate = (omega * advection).sum(axis=(-2, -1)) / (np.abs(omega).max() * scale)
        np.testing.assert_allclose(energy_rate, 0.0, atol=1e-14)
        np.testing.assert_allclose(enstrophy_rate, 0.0, atol=1e-14)


@pytest.mark.parametrize("integrator", ["midpoint", "etdrk4"])
def test_laminar_solution_is_a_fixed_point(integrator):
    system = KolmogorovFlow(n_sim=32, n_out=16, integrator=integrator, step=0.02, dt=0.04)
    laminar = system.laminar_state()
    y = _grid(32)
    np.testing.assert_allclose(laminar[0, 0, 5], -K_F * np.cos(K_F * y) / (MU + NU * K_F**2), rtol=1e-14)
    _, state = system.advance(laminar, 2)
    np.testing.assert_allclose(state, laminar, rtol=0, atol=1e-13 * np.abs(laminar).max())
    # The check is sensitive: the inviscid balance −k_f/μ is not steady.
    _, drifted = system.advance(laminar * (MU + NU * K_F**2) / MU, 1)
    assert np.abs(drifted - laminar * (MU + NU * K_F**2) / MU).max() > 1e-4


@pytest.mark.parametrize("n", [32, 30, 33])
def test_fast_path_matches_numpy_reference(n):
    w = _turbulent_like_spectrum(n) + _rough_band_spectrum(n)  # large-scale flow plus every band mode
    ops = spectral_operators(n, MU, NU, K_F, 2e-3, "midpoint")
    reference = ReferenceModel(n, MU, NU, K_F, 2e-3, "midpoint").tendency(full_from_band(w, n))
    np.testing.assert_allclose(full_from_band(tendency(w, ops), n), reference, rtol=0, atol=1e-12 * np.abs(reference).max())
    for scheme in ("midpoint", "etdrk4"):
        ops = spectral_operators(n, MU, NU, K_F, 2e-3, scheme)
        fast = w.copy()
        integrate(fast, 3, ops)
        slow = full_from_band(w, n)
        model = ReferenceModel(n, MU, NU, K_F, 2e-3, scheme)
        for _ in range(3):
            slow = model.step(slow)
        np.testing.assert_allclose(full_from_band(fast, n), slow, rtol=0, atol=1e-12 * np.abs(slow).max())


def test_chunked_batch_equals_one_trajectory_at_a_time():
    w = _turbulent_like_spectrum(32, batch=3)
    ops = spectral_operators(32, MU, NU, K_F, 1e-2, "etdrk4")
    together = w.copy()
    integrate(together, 4, ops)
    for sample in range(3):
        alone = w[sample : sample + 1].copy()
        integrate(alone, 4, ops)
        np.testing.assert_array_equal(alone[0], together[sample])


@pytest.mark.parametrize(("scheme", "order", "steps"), [("midpoint", 2, (16, 32, 64)), ("etdrk4", 4, (8, 16, 32))])
def test_temporal_convergence_order(scheme, order, steps):
    horizon = 0.25
    w0 = _turbulent_like_spectrum(32, seed=3)
    finals = []
    for n_steps in steps:
        w = w0.copy()
        integrate(w, n_steps, spectral_operators(32, MU, NU, K_F, horizon / n_steps, scheme))
        finals.append(w)
    coarse = np.abs(finals[0] - finals[1]).max()
    fine = np.abs(finals[1] - finals[2]).max()
    assert abs(math.log2(coarse / fine) - order) < 0.3


@pytest.mark.parametrize(("n", "n_out"), [(64, 32), (64, 40), (48, 20), (64, 21)])
def test_spectral_downsample_of_band_limited_field_is_exact_sampling(n, n_out):
    rng = np.random.default_rng(7)
    x, coarse = _grid(n), _grid(n_out)
    half = n_out // 2
    field, sampled = np.zeros((n, n)), np.zeros((n_out, n_out))
    for kx in range(0, half + 1):  # every mode with |k_x|, |k_y| <= n_out/2, Nyquist pairs included
        for ky in range(-half, half + 1):
            amplitude, phase = rng.standard_normal(), rng.uniform(0, 2 * math.pi)
            field += amplitude * np.cos(kx * x[:, None] + ky * x[None, :] + phase)
            sampled += amplitude * np.cos(kx * coarse[:, None] + ky * coarse[None, :] + phase)
    result = spectral_downsample(band_from_field(field[None]), n, n_out)[0]
    np.testing.assert_allclose(result, sampled, rtol=0, atol=1e-12 * np.abs(sampled).max())
    if n % n_out == 0:
        np.testing.assert_allclose(result, field[:: n // n_out, :: n // n_out], rtol=0, atol=1e-12 * np.abs(field).max())


@pytest.mark.parametrize(("n", "n_out"), [(256, 40), (64, 40), (64, 32)])
def test_bicubic_downsample_samples_smooth_fields_on_the_output_grid(n, n_out):
    def smooth(x):
        return np.cos(2 * x[:, None] + 3 * x[None, :] + 0.3) + np.sin(x[:, None] - x[None, :])

    result = bicubic_downsample(band_from_field(smooth(_grid(n))[None]), n, n_out)[0]
    # Aligned to x_i = 2π i / N_out: a half-pixel offset would cost ~0.3 here.
    assert np.abs(result - smooth(_grid(n_out))).max() < 1e-2


@pytest.mark.parametrize("downsample", ["bicubic", "spectral"])
def test_advance_shapes_chaining_and_determinism(downsample):
    system = KolmogorovFlow(n_sim=32, n_out=16, integrator="etdrk4", step=0.01, dt=0.05, downsample=downsample)
    assert isinstance(system, System)
    assert system.grid.shape == (16, 16) and system.grid.channels == 1 and system.static is False
    state = system.initial_state(3, np.random.default_rng(11))
    assert state.shape == (3, 1, 32, 32) and state.dtype == np.float64
    np.testing.assert_allclose(np.sqrt((state**2).mean(axis=(-2, -1))), 5.0)
    frames, final = system.advance(state, 4)
    assert frames.shape == (3, 4, 1, 16, 16) and frames.dtype == np.float64 and final.shape == (3, 1, 32, 32)
    first, middle = system.advance(state, 2)
    second, _ = system.advance(middle, 2)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), frames, rtol=0, atol=1e-11 * np.abs(frames).max())
    again = system.advance(system.initial_state(3, np.random.default_rng(11)), 4)[0]
    np.testing.assert_array_equal(again, frames)
    assert not np.allclose(system.initial_state(3, np.random.default_rng(12)), state)


def test_config_round_trip_registry_and_presets():
    system = KolmogorovFlow(n_sim=64, n_out=32, integrator="etdrk4", step=5e-3, downsample="spectral")
    assert from_dict(KolmogorovFlow, to_dict(system)) == system
    assert from_tagged(tagged(system, SYSTEMS), SYSTEMS) == system
    assert SYSTEMS.get("kolmogorov") is KolmogorovFlow
    paper = KolmogorovFlow()
    assert (paper.mu, paper.nu, paper.forcing_wavenumber, paper.n_sim, paper.n_out) == (0.1, 1e-3, 4, 256, 40)
    assert (paper.step, paper.dt, paper.burn_in, paper.steps_per_frame, paper.integrator) == (1e-3, 0.5, 50.0, 500, "midpoint")
    preset = KolmogorovFlow.presets["paper"]
    assert (preset.n_train, preset.n_valid, preset.n_test, preset.n_frames) == (6000, 100, 100, 40)
    small = KolmogorovFlow(**KolmogorovFlow.presets["small"].overrides)
    assert small.n_sim < paper.n_sim and small.burn_in < paper.burn_in and small.dt == paper.dt


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mu": -0.1},
        {"nu": 0.0},
        {"nu": float("nan")},
        {"forcing_wavenumber": 0},
        {"forcing_wavenumber": 4.0},
        {"forcing_wavenumber": 11, "n_sim": 32},
        {"n_sim": 4},
        {"n_out": 300},
        {"step": 3e-3},
        {"dt": 0.0},
        {"integrator": "rk4"},
        {"downsample": "nearest"},
    ],
)
def test_bad_parameters_raise_argument_errors(kwargs):
    with pytest.raises(ArgumentError, match=next(iter(kwargs)) if "step" not in kwargs else "dt"):
        KolmogorovFlow(**kwargs)


def test_bad_calls_raise_clear_errors():
    system = KolmogorovFlow(n_sim=32, n_out=16, step=0.01, dt=0.02)
    state = system.initial_state(2, np.random.default_rng(0))
    with pytest.raises(ShapeError, match="state.shape"):
        system.advance(state[:, :, :16], 1)
    with pytest.raises(DTypeError, match="state"):
        system.advance(state.tolist(), 1)
    with pytest.raises(ArgumentError, match="NaN"):
        system.advance(np.where(state > 0, np.nan, state), 1)
    with pytest.raises(ArgumentError, match="n_frames"):
        system.advance(state, 0)
    with pytest.raises(ArgumentError, match="batch"):
        system.initial_state(0, np.random.default_rng(0))
    with pytest.raises(DTypeError, match="rng"):
        system.initial_state(2, 0)
    unstable = KolmogorovFlow(n_sim=32, n_out=16, step=0.5, dt=0.5)
    with pytest.raises(ArgumentError, match="blew up"):
        unstable.advance(10 * state, 40)



def test_a_dataset_config_written_with_the_old_name_scheme_still_rebuilds_the_system():
    """Older dataset configs call the time integrator ``scheme``, now the name of the RG schemes."""
    from pdd_core.config import from_dict

    assert from_dict(KolmogorovFlow, {"n_sim": 32, "n_out": 16, "scheme": "etdrk4"}).integrator == "etdrk4"
    assert from_dict(KolmogorovFlow, {"n_sim": 32, "n_out": 16, "integrator": "etdrk4"}).integrator == "etdrk4"
