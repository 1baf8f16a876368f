"""Invariants of every RG scheme (DESIGN: ground truth you can test against)."""

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from pdd_core import Grid, apply_diagonal
from schemes import Carosso, Polchinski, VariancePreserving
from tests.scheme_strategies import all_schemes, exact_schemes, grids, is_numerical, sorted_lambdas


@given(all_schemes, grids, sorted_lambdas(3), st.integers(1, 3))
def test_semigroup_in_damping_and_variance(scheme, grid, lams, batch):
    la, lb, lc = (torch.full((batch,), v, dtype=torch.float64) for v in lams)
    ab, bc, ac = scheme.transition(grid, la, lb), scheme.transition(grid, lb, lc), scheme.transition(grid, la, lc)
    tolerance = {"rtol": 2e-4, "atol": 1e-8} if is_numerical(scheme) else {"rtol": 1e-10, "atol": 1e-14}
    torch.testing.assert_close(ab.damping * bc.damping, ac.damping, **tolerance)
    torch.testing.assert_close(bc.damping**2 * ab.variance + bc.variance, ac.variance, **tolerance)


@given(all_schemes, grids, st.floats(0.01, 1.5), st.integers(0, 6))
def test_coarse_graining_commutes_with_spatial_shifts(scheme, grid, lam, shift):
    u = torch.randn(2, 2, grid.channels, *grid.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    dims = tuple(range(-grid.ndim, 0))
    shifted = scheme.coarse_grain(torch.roll(u, (shift,) * grid.ndim, dims), grid, lam)
    torch.testing.assert_close(shifted, torch.roll(scheme.coarse_grain(u, grid, lam), (shift,) * grid.ndim, dims))


def _real_space_matrix(grid: Grid, symbol: torch.Tensor) -> torch.Tensor:
    """Apply the operator with Fourier symbol ``symbol`` to every unit impulse: column by column."""
    impulses = torch.eye(grid.n_points, dtype=torch.float64).reshape(grid.n_points, 1, 1, *grid.shape)
    return apply_diagonal(impulses, symbol, grid.shape).reshape(grid.n_points, grid.n_points).T


@given(exact_schemes, grids.filter(lambda g: g.ndim == 1), st.floats(0.0, 1.5))
def test_real_space_operators_are_circulant_symmetric_psd(scheme, grid, lam):
    step = scheme.transition(grid, 0.0, lam)
    for symbol in (step.damping[0, 0, 0], step.variance[0, 0, 0]):
        matrix = _real_space_matrix(grid, symbol)
        torch.testing.assert_close(matrix, matrix.T, rtol=0, atol=1e-12)
        torch.testing.assert_close(torch.roll(matrix, (1, 1), (0, 1)), matrix, rtol=0, atol=1e-12)
        assert torch.linalg.eigvalsh(matrix).min() >= -1e-10


def test_fourier_modes_are_eigenvectors_of_coarse_graining():
    grid = Grid((16, 8))
    scheme = Carosso(alpha=0.3, beta=1.0)
    x, y = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) * 2 * torch.pi / n for n in grid.shape), indexing="ij")
    mode = torch.cos(3 * x + 2 * y).reshape(1, 1, 1, *grid.shape)
    lam = 0.7
    expected = torch.exp(torch.tensor(-0.3 * 13 * lam, dtype=torch.float64)) * mode
    torch.testing.assert_close(scheme.coarse_grain(mode, grid, lam), expected)


@pytest.mark.parametrize("scheme", [Carosso(alpha=0.2, beta=1.3), VariancePreserving(2.0), Polchinski(mass=0.5)])
def test_forward_samples_match_closed_form_mean_and_covariance(scheme):
    grid = Grid((6,), length=3.0)
    samples = 20000
    u0 = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(1, 1, 1, 6).expand(samples, 1, 1, 6).contiguous()
    lam = 0.4
    u = scheme.forward_sample(u0, grid, lam, torch.Generator().manual_seed(11)).reshape(samples, 6)
    step = scheme.transition(grid, 0.0, lam)
    mean = _real_space_matrix(grid, step.damping[0, 0, 0]) @ u0[0].reshape(6)
    covariance = _real_space_matrix(grid, step.variance[0, 0, 0])
    diag = covariance.diagonal()
    mean_error = (u.mean(0) - mean).abs() / (diag / samples).sqrt()
    centred = u - mean
    empirical = centred.T @ centred / samples
    standard_error = ((diag[:, None] * diag[None, :] + covariance**2) / samples).sqrt()
    assert mean_error.max() < 5.0
    assert ((empirical - covariance).abs() / standard_error).max() < 5.0


@given(all_schemes, grids, st.floats(0.05, 1.5))
def test_transition_score_equals_autograd_and_finite_differences(scheme, grid, lam):
    step = scheme.transition(grid, 0.0, lam)
    variances = step.variance[step.active.expand_as(step.variance)]
    # A real-space float64 field cannot resolve a mode whose Σ̃ is 1e-12 below the others'
    # (rounding of the O(1) modes swamps it); Polchinski with M = 0 erases high modes that fast.
    assume(bool((variances > 0).all()) and float(variances.min() / variances.max()) > 1e-12)
    generator = torch.Generator().manual_seed(5)
    u0 = torch.randn(2, 2, grid.channels, *grid.shape, generator=generator, dtype=torch.float64)
    u = scheme.forward_sample(u0, grid, lam, generator).requires_grad_(True)
    log_density = scheme.transition_log_density(u, u0, grid, lam)
    (autograd,) = torch.autograd.grad(log_density.sum(), u)
    score = scheme.transition_score(u.detach(), u0, grid, lam)
    scale = autograd.abs().max() + 1
    torch.testing.assert_close(score, autograd, rtol=1e-9, atol=1e-9 * scale)
    direction = torch.randn(u.shape, generator=generator, dtype=torch.float64)
    h = 1e-3 * step.variance[step.active.expand_as(step.variance)].min().sqrt()  # the density's own length scale
    with torch.no_grad():
        plus = scheme.transition_log_density(u + h * direction, u0, grid, lam).sum()
        minus = scheme.transition_log_density(u - h * direction, u0, grid, lam).sum()
    finite_difference = (plus - minus) / (2 * h)
    assert abs(finite_difference - (score * direction).sum()) <= 1e-4 * (score.abs() * direction.abs()).sum()  # FD rounding: modes of very different Σ̃


def test_transition_score_regresses_to_the_marginal_score_on_gaussian_data():
    """E[∇ log q(u_λ|u0) | u_λ] = ∇ log p(u_λ) = -u_λ / (C²K + Σ) per mode (Tweedie / DSM)."""
    grid = Grid((8,))
    scheme = Carosso(alpha=0.5, beta=1.0)
    lam, samples = 0.3, 20000
    generator = torch.Generator().manual_seed(2)
    u0 = torch.randn(samples, 1, 1, 8, generator=generator, dtype=torch.float64)  # K̃ = 1 per mode
    u = scheme.forward_sample(u0, grid, lam, generator)
    score_hat = torch.fft.rfft(scheme.transition_score(u, u0, grid, lam), norm="ortho")
    u_hat = torch.fft.rfft(u, norm="ortho")
    slope = (score_hat.conj() * u_hat).real.mean(0) / (u_hat.abs() ** 2).mean(0)
    step = scheme.transition(grid, 0.0, lam)
    expected = -1.0 / (step.damping**2 + step.variance)
    active = step.active
    torch.testing.assert_close(slope.flatten()[active.flatten()], expected.flatten()[active.flatten()], rtol=0.05, atol=0)


@given(exact_schemes, grids)
def test_small_lambda_matches_the_series_and_zero_lambda_is_exact(scheme, grid):
    lam = 1e-7
    step = scheme.transition(grid, 0.0, lam)
    rate = scheme.rate(grid, 0.0)
    noise = scheme.diffusion(grid, 0.0)
    noise_slope = scheme.diffusion(grid, lam) - noise  # λ · d b²/dλ, for λ-dependent noise (Polchinski)
    series = noise * lam * (1 - rate * lam) + 0.5 * lam * noise_slope  # ∫0^λ e^{-2κ(λ-s)} b²(s) ds to O(λ²)
    torch.testing.assert_close(step.variance, series, rtol=1e-6, atol=1e-300)  # next term is O((κλ)²) <= 1e-7
    torch.testing.assert_close(step.damping, torch.where(step.active, torch.exp(-rate * lam), torch.ones(())), rtol=1e-12, atol=0)
    at_zero = scheme.transition(grid, 0.0, 0.0)
    assert torch.equal(at_zero.damping, torch.ones_like(at_zero.damping))
    assert torch.equal(at_zero.variance, torch.zeros_like(at_zero.variance))


def test_zero_wavenumber_is_finite_and_handled_as_pdd_a2():
    grid = Grid((8,))
    excluded = Carosso(alpha=0.1, beta=1.0).transition(grid, 0.0, 0.5)
    assert not excluded.active.flatten()[0] and excluded.variance.flatten()[0] == 0 and excluded.damping.flatten()[0] == 1
    kept = Carosso(alpha=0.1, beta=1.0, zero_mode="keep").transition(grid, 0.0, 0.5)
    assert kept.active.all() and kept.variance.flatten()[0] == pytest.approx(0.5)  # β²λ: Brownian mean
    massive = Carosso(alpha=0.1, beta=1.0, mass=1.0).transition(grid, 0.0, 0.5)
    assert massive.active.all() and torch.isfinite(massive.variance).all()


@given(exact_schemes, grids, st.floats(0.0, 1.0), st.floats(1e-4, 1e-2))
def test_sigma_is_eq_58_with_the_delta_lambda_floor(scheme, grid, lam, delta):
    dt = 0.05
    sigma = scheme.sigma(grid, torch.tensor([lam, 0.0], dtype=torch.float64), dt, delta_lambda=delta)
    variance = torch.maximum(scheme.marginal_variance(grid, lam), scheme.marginal_variance(grid, delta))
    trace = _real_space_matrix(Grid(grid.shape, grid.length), variance[0, 0, 0]).trace() if grid.ndim == 1 else (variance * grid.mode_multiplicity()).sum()
    torch.testing.assert_close(sigma[0] ** 2, trace / (dt * grid.n_points))
    floor = scheme.sigma(grid, delta, dt, delta_lambda=delta)
    assert sigma[1] == floor and floor > 0


def test_float32_fields_get_float32_results_close_to_float64():
    grid = Grid((16, 16))
    scheme = Carosso(alpha=0.3, beta=6**0.5)
    u64 = torch.randn(3, 2, 1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    lam = torch.tensor([0.0, 0.2, 1.0])
    coarse32 = scheme.coarse_grain(u64.float(), grid, lam)
    assert coarse32.dtype == torch.float32
    torch.testing.assert_close(coarse32.double(), scheme.coarse_grain(u64, grid, lam), rtol=1e-5, atol=1e-5)
    sample32, noise32 = scheme.forward_sample(u64.float(), grid, lam, torch.Generator().manual_seed(1), return_noise=True)
    assert sample32.dtype == noise32.dtype == torch.float32
    std = scheme.marginal_variance(grid, lam).sqrt()
    expected = scheme.coarse_grain(u64, grid, lam) + apply_diagonal(noise32.double(), std, grid.shape)
    torch.testing.assert_close(sample32.double(), expected, rtol=1e-5, atol=1e-5)


def test_prior_sample_has_the_marginal_spectrum():
    grid = Grid((8,))
    scheme = Carosso(alpha=0.1, beta=2**0.5)
    prior = scheme.prior_sample((4000, 2, 1, 8), grid, 1.0, torch.Generator().manual_seed(0), dtype=torch.float64)
    power = (torch.fft.rfft(prior, norm="ortho").abs() ** 2).mean((0, 1, 2))
    expected = scheme.marginal_variance(grid, 1.0).flatten()
    torch.testing.assert_close(power, expected, rtol=0.1, atol=1e-12)
