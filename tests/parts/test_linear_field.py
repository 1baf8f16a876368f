"""The linear Gaussian field against its closed forms.

Statistical tests use a fixed seed and a tolerance of several standard errors. Sample paths are
independent, so the standard error of a sample mean over them is measured from the paths
themselves (std over paths / sqrt(M)); the deterministic tests pin the exact coefficients.
"""

import math

import attrs
import numpy as np
import pytest
import torch

from pdd_core import SYSTEMS, ArgumentError, DTypeError, ShapeError, System, from_dict, from_tagged, tagged, to_dict
from pdd_core.spectral import irfft, rfft
from systems.linear_field import LinearGaussianField, ou_transition

STANDARD_ERRORS = 5.0


def _stationary_paths(system: LinearGaussianField, batch: int, n_frames: int, seed: int) -> torch.Tensor:
    """Initial state plus ``n_frames - 1`` frames as rfft modes ``[B·C, *rfft_shape, T]`` (one row per independent path)."""
    rng = np.random.default_rng(seed)
    state = system.initial_state(batch, rng)
    frames, _ = system.advance(state, n_frames - 1, rng)
    paths = torch.from_numpy(np.concatenate([state[:, None], frames], axis=1))
    return rfft(paths, system.grid.ndim).movedim(1, -1).flatten(0, 1)


def _assert_mean_matches(per_path: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    """Sample mean over paths (axis 0) within STANDARD_ERRORS standard errors of ``expected``."""
    count = per_path.shape[0]
    estimate = per_path.mean(dim=0)
    error = (per_path.real.var(dim=0) / count + per_path.imag.var(dim=0) / count).sqrt() if per_path.is_complex() else (per_path.var(dim=0) / count).sqrt()
    deviation = (estimate - expected).abs()
    assert bool((deviation <= STANDARD_ERRORS * error + 1e-12).all()), f"{what}: worst deviation {(deviation / error).nan_to_num().max():.1f} standard errors"


def _self_conjugate(shape: tuple[int, ...]) -> torch.Tensor:
    """True on rfft modes equal to their own conjugate (n ≡ −n mod N on every axis)."""
    axes = [torch.fft.fftfreq(n, 1.0 / n) for n in shape[:-1]] + [torch.fft.rfftfreq(shape[-1], 1.0 / shape[-1])]
    flags = [(index == 0) | (2 * index.abs() == n) for index, n in zip(axes, shape)]
    return torch.stack(torch.meshgrid(*flags, indexing="ij")).all(dim=0)


def _assert_path_law(system: LinearGaussianField, batch: int, n_frames: int, seed: int) -> None:
    modes = _stationary_paths(system, batch, n_frames, seed)
    exact = system.path_covariance(n_frames)
    _assert_mean_matches(modes[..., :, None] * modes[..., None, :].conj(), exact, "path covariance E[ũ_i conj(ũ_j)]")
    # real/complex structure: E[ũ_i ũ_j] = K on self-conjugate (real) modes and 0 on the others
    _assert_mean_matches(modes[..., :, None] * modes[..., None, :], exact * _self_conjugate(system.shape)[..., None, None], "pseudo-covariance E[ũ_i ũ_j]")


def test_path_covariance_matches_closed_form_1d():
    _assert_path_law(LinearGaussianField(shape=(16,), nu=0.2, gamma=0.5, dt=0.2), batch=4000, n_frames=6, seed=1)


def test_path_covariance_matches_closed_form_2d_lattice_two_channels():
    system = LinearGaussianField(shape=(8, 6), length=3.0, nu=0.05, gamma=0.3, s=0.7, dt=0.5, channels=2, symbol="lattice")
    _assert_path_law(system, batch=1500, n_frames=5, seed=2)


def test_real_space_variance_per_point_matches_spectrum():
    """Var u(x) = (1/N) Σ_full-spectrum s²/(2 r_k): checks the orthonormal transforms end to end."""
    system = LinearGaussianField(shape=(12, 10), nu=0.3, gamma=1.0, s=2.0)
    state = system.initial_state(2000, np.random.default_rng(3))
    exact = (system.grid.mode_multiplicity() * system.stationary_variance()).sum().item() / system.grid.n_points
    samples = state.shape[0]
    assert abs(state.var(axis=0).mean() - exact) < STANDARD_ERRORS * math.sqrt(2.0 / samples) * exact


def test_lag_covariance_follows_toeplitz_entries():
    """Lag-m autocovariance averaged over the frames of each path equals s²/(2r) e^{−r m Δt} per mode."""
    system = LinearGaussianField(shape=(8,), nu=0.5, gamma=0.2, dt=0.3)
    modes = _stationary_paths(system, batch=20000, n_frames=8, seed=4)
    exact = system.path_covariance(8)
    for lag in (1, 2, 4):
        per_path = (modes[..., lag:] * modes[..., :-lag].conj()).real.mean(dim=-1)
        _assert_mean_matches(per_path, exact[..., lag, 0], f"lag-{lag} covariance")


def test_path_covariance_is_symmetric_toeplitz_and_positive_definite():
    system = LinearGaussianField(shape=(6, 6), dt=0.25)
    covariance = system.path_covariance(7)
    assert covariance.shape == (6, 4, 7, 7) and covariance.dtype == torch.float64
    torch.testing.assert_close(covariance, covariance.transpose(-1, -2), rtol=0, atol=0)
    torch.testing.assert_close(covariance[..., 1:, 1:], covariance[..., :-1, :-1], rtol=1e-15, atol=0)
    torch.testing.assert_close(torch.diagonal(covariance, dim1=-2, dim2=-1), system.stationary_variance()[..., None].expand(6, 4, 7))
    assert bool((torch.linalg.eigvalsh(covariance) > 0).all())


def test_advance_is_the_exact_per_mode_ar1_transition():
    system = LinearGaussianField(shape=(8, 8), nu=0.4, gamma=0.3, s=1.5, dt=0.7, channels=2)
    state = system.initial_state(3, np.random.default_rng(5))
    frames, final = system.advance(state, 1, np.random.default_rng(6))
    noise = torch.from_numpy(np.random.default_rng(6).standard_normal(state.shape))
    decay, std = system.transition_coefficients()
    expected = irfft(decay * rfft(torch.from_numpy(state), 2) + std * rfft(noise, 2), system.shape).numpy()
    np.testing.assert_allclose(frames[:, 0], expected, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(final, frames[:, -1])


def test_transition_coefficients_equal_direct_formula_and_compose():
    system = LinearGaussianField(shape=(16,), nu=0.3, gamma=0.7, s=1.3, dt=0.4)
    rate = (system.nu * system.grid.k2() + system.gamma).numpy()
    decay, std = system.transition_coefficients()
    np.testing.assert_allclose(decay.numpy(), np.exp(-rate * system.dt), rtol=1e-14)
    np.testing.assert_allclose(std.numpy() ** 2, system.s**2 * (1 - np.exp(-2 * rate * system.dt)) / (2 * rate), rtol=1e-12)
    torch.testing.assert_close(system.drift_symbol(), -torch.from_numpy(rate))
    # two exact steps of Δt equal one step of 2Δt (semigroup, in mean and variance)
    decay2, std2 = attrs.evolve(system, dt=2 * system.dt).transition_coefficients()
    torch.testing.assert_close(decay**2, decay2, rtol=1e-14, atol=0)
    torch.testing.assert_close(decay**2 * std**2 + std**2, std2**2, rtol=1e-13, atol=0)


def test_stationary_variance_is_fixed_by_the_transition():
    system = LinearGaussianField(shape=(10,), nu=0.2, gamma=0.1, dt=0.05)
    decay, std = system.transition_coefficients()
    variance = system.stationary_variance()
    torch.testing.assert_close(decay**2 * variance + std**2, variance, rtol=1e-13, atol=0)
    k2 = torch.tensor([0.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(system.stationary_variance(k2), system.s**2 / (2 * (system.nu * k2 + system.gamma)))


def test_rate_to_zero_limit_is_finite_and_continuous():
    dt, s = 0.3, 1.7
    decay, std = ou_transition(torch.tensor([0.0, 1e-300, 1e-12, 1e-6], dtype=torch.float64), dt, s)
    assert bool(torch.isfinite(decay).all() and torch.isfinite(std).all())
    assert decay[0].item() == 1.0 and std[0].item() == pytest.approx(s * math.sqrt(dt), rel=1e-15)
    # series: b² = s² Δt (1 − rΔt + O(r²Δt²)); the expm1 form keeps full relative accuracy here
    for rate, variance in zip((1e-12, 1e-6), (std[2] ** 2, std[3] ** 2)):
        assert variance.item() == pytest.approx(s**2 * dt * (1 - rate * dt + (2 / 3) * (rate * dt) ** 2), rel=1e-14)
    tiny = LinearGaussianField(shape=(8,), nu=0.0, gamma=1e-14, dt=0.1)
    frames, _ = tiny.advance(np.zeros((2, 1, 8)), 3, np.random.default_rng(0))
    assert np.isfinite(frames).all()


def test_shapes_dtypes_and_protocol():
    system = LinearGaussianField(shape=(4, 6), channels=3)
    state = system.initial_state(2, np.random.default_rng(0))
    frames, final = system.advance(state, 5, np.random.default_rng(1))
    assert state.shape == (2, 3, 4, 6) and state.dtype == np.float64
    assert frames.shape == (2, 5, 3, 4, 6) and frames.dtype == np.float64 and final.shape == state.shape
    assert isinstance(system, System) and not system.static and system.burn_in == 0.0
    assert system.grid.rfft_shape == (4, 4)


def test_determinism_and_chaining():
    system = LinearGaussianField(shape=(8,))
    first = system.advance(system.initial_state(3, np.random.default_rng(9)), 6, np.random.default_rng(10))[0]
    second = system.advance(system.initial_state(3, np.random.default_rng(9)), 6, np.random.default_rng(10))[0]
    np.testing.assert_array_equal(first, second)
    rng = np.random.default_rng(10)
    head, state = system.advance(system.initial_state(3, np.random.default_rng(9)), 2, rng)
    tail, _ = system.advance(state, 4, rng)
    np.testing.assert_allclose(np.concatenate([head, tail], axis=1), first, rtol=0, atol=1e-13)  # only the FFT round trip of the state differs


@pytest.mark.parametrize(
    "overrides",
    [{"shape": (4, 4, 4)}, {"shape": (1,)}, {"gamma": 0.0}, {"s": -1.0}, {"dt": float("nan")}, {"nu": -0.1}, {"length": 0.0}, {"channels": 0}]
    + [{"symbol": "cubic"}],
)
def test_invalid_parameters_are_rejected(overrides):
    with pytest.raises(ArgumentError, match=next(iter(overrides))):
        LinearGaussianField(**overrides)


def test_invalid_calls_are_rejected():
    system = LinearGaussianField(shape=(8,))
    rng = np.random.default_rng(0)
    state = system.initial_state(2, rng)
    with pytest.raises(ShapeError):
        system.advance(np.zeros((2, 1, 9)), 1, rng)
    with pytest.raises(DTypeError):
        system.advance(state.tolist(), 1, rng)
    with pytest.raises(DTypeError, match="rng"):
        system.advance(state, 1, 42)
    with pytest.raises(ArgumentError, match="finite"):
        system.advance(np.full((2, 1, 8), np.nan), 1, rng)
    with pytest.raises(ArgumentError, match="n_frames"):
        system.advance(state, 0, rng)
    with pytest.raises(ArgumentError, match="batch"):
        system.initial_state(0, rng)
    with pytest.raises(ArgumentError, match="n_frames"):
        system.path_covariance(0)


ANISOTROPIC_LATTICE = LinearGaussianField(shape=(8, 16), length=3.0, nu=0.0, gamma=2.0, s=0.5, dt=1.0, channels=2, symbol="lattice")


@pytest.mark.parametrize("system", [LinearGaussianField(), ANISOTROPIC_LATTICE])
def test_config_round_trips_and_registry(system):
    assert from_dict(LinearGaussianField, to_dict(system)) == system
    assert from_tagged(tagged(system, SYSTEMS), SYSTEMS) == system
    assert SYSTEMS.get("linear") is LinearGaussianField


def test_presets_build_valid_systems():
    assert set(LinearGaussianField.presets) >= {"small", "paper"}
    for preset in LinearGaussianField.presets.values():
        system = attrs.evolve(LinearGaussianField(), **preset.overrides)
        assert from_dict(LinearGaussianField, to_dict(system)) == system
        assert preset.n_train > 0 and preset.n_frames > 1 and preset.note
