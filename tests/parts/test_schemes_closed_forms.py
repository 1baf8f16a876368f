"""Special case equals general case; the schemes reproduce the papers' kernels."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pdd_core import SCHEMES, Grid, from_dict, from_tagged, phi1, tagged, to_dict
from schemes import Carosso, FourierDiagonal, Polchinski, VariancePreserving
from tests.scheme_strategies import grids, sorted_lambdas


@given(st.floats(0.05, 5.0), grids, sorted_lambdas(2))
def test_carosso_without_laplacian_is_variance_preserving(gamma, grid, lams):
    general = Carosso(alpha=0.0, gamma=gamma, beta=math.sqrt(2 * gamma)).transition(grid, *lams)
    special = VariancePreserving(gamma).transition(grid, *lams)
    torch.testing.assert_close(general.damping, special.damping, rtol=1e-14, atol=0)
    torch.testing.assert_close(general.variance, special.variance, rtol=1e-14, atol=1e-300)


def test_variance_preserving_preserves_unit_variance():
    step = VariancePreserving(3.0).transition(Grid((8,)), 0.0, 0.7)
    torch.testing.assert_close(step.damping**2 + step.variance, torch.ones_like(step.variance))


@given(st.floats(0.0, 1.0), st.floats(0.2, 2.0), st.floats(0.0, 1.0), grids, sorted_lambdas(2))
def test_fourier_diagonal_fed_carosso_functions_equals_carosso(alpha, beta, mass, grid, lams):
    carosso = Carosso(alpha=alpha, beta=beta, mass=mass)
    rate = lambda k2, lam: alpha * k2 + mass**2  # noqa: E731
    noise = lambda k2, lam: beta**2  # noqa: E731
    numerical = FourierDiagonal(rate=rate, noise=noise, substeps=8)
    closed = FourierDiagonal(
        rate=rate,
        noise=noise,
        log_damping=lambda k2, la, lb: -(alpha * k2 + mass**2) * (lb - la),
        variance=lambda k2, la, lb: beta**2 * (lb - la) * phi1(-2 * (alpha * k2 + mass**2) * (lb - la)),
    )
    reference = carosso.transition(grid, *lams)
    for scheme in (numerical, closed):
        step = scheme.transition(grid, *lams)
        torch.testing.assert_close(step.damping, reference.damping, rtol=1e-12, atol=0)
        torch.testing.assert_close(step.variance, reference.variance, rtol=1e-9, atol=1e-15)
        assert torch.equal(step.active, reference.active)


def test_fourier_diagonal_quadrature_is_second_order_for_lambda_dependent_noise():
    """Noise β² e^{-λ} at rate r has Σ_ab = β² e^{-2rb}(e^{(2r-1)b} - e^{(2r-1)a})/(2r-1)."""
    grid = Grid((8,))
    alpha, beta, la, lb = 0.3, 1.2, 0.1, 1.1  # 2r - 1 != 0 on every mode
    k2 = grid.k2()
    r = alpha * k2
    exact = beta**2 * torch.exp(-2 * r * lb) * (torch.exp((2 * r - 1) * lb) - torch.exp((2 * r - 1) * la)) / (2 * r - 1)
    errors = []
    for substeps in (4, 8, 16):
        scheme = FourierDiagonal(rate=lambda k2, lam: alpha * k2 + 0 * lam, noise=lambda k2, lam: beta**2 * torch.exp(-lam), substeps=substeps, zero_mode="keep")
        errors.append((scheme.transition(grid, la, lb).variance.flatten() - exact).abs().max().item())
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(abs(order - 2.0) < 0.15 for order in orders), orders


def test_carosso_with_lattice_symbol_is_rdm_5_20():
    """Site variables, orthonormal modes: E|φ̂|² = (1 - e^{-2rt}) / (a^d r), r = |p̂|² + M²."""
    n, length, mass, t = 6, 1.0, 1.0, 0.05
    grid = Grid((n, n), length=length, symbol="lattice")
    a = length / n
    scheme = Carosso(alpha=1.0, beta=math.sqrt(2) * a ** (-1.0), mass=mass)
    r = grid.k2() + mass**2
    torch.testing.assert_close(scheme.marginal_variance(grid, t).reshape(r.shape), -torch.expm1(-2 * r * t) / (a**2 * r))
    # In RDM's own Fourier convention (5.11: 1/N^d), (5.20) says E|φ̃(p)|² = (1 - e^{-2rt}) / (L^d r).
    samples = scheme.forward_sample(torch.zeros(6000, 1, 1, n, n, dtype=torch.float64), grid, t, torch.Generator().manual_seed(4))
    rdm_modes = torch.fft.rfftn(samples, dim=(-2, -1)) / n**2
    empirical = (rdm_modes.abs() ** 2).mean((0, 1, 2))
    torch.testing.assert_close(empirical, -torch.expm1(-2 * r * t) / (length**2 * r), rtol=0.1, atol=0)


def test_polchinski_is_rdm_5_41_with_kernel_5_42():
    n, length, mass, t = 6, 1.0, 1.0, 0.02
    grid = Grid((n, n), length=length, symbol="lattice")
    a = length / n
    scheme = Polchinski(mass=mass, beta=a ** (-1.0))
    kernel = torch.exp(-(grid.k2() + mass**2) * t)  # K_t of RDM (5.42), K_0 = 1
    step = scheme.transition(grid, 0.0, t)
    torch.testing.assert_close(step.damping.reshape(kernel.shape), kernel)
    torch.testing.assert_close(step.variance.reshape(kernel.shape), (kernel - kernel**2) / (a**2 * (grid.k2() + mass**2)))


def test_polchinski_noise_is_minus_time_derivative_of_kernel():
    grid = Grid((8,), symbol="lattice")
    scheme = Polchinski(mass=0.5, m2=0.8)
    t, h = 0.3, 1e-5
    kernel = lambda s: torch.exp(-(grid.k2() + 0.25) * s)  # noqa: E731
    derivative = (kernel(t + h) - kernel(t - h)) / (2 * h)
    torch.testing.assert_close(scheme.diffusion(grid, t).flatten(), -derivative / (grid.k2() + 0.8), rtol=1e-8, atol=0)


@given(st.floats(0.0, 5.0), st.floats(0.1, 5.0), st.floats(0.0, 3.0), st.floats(0.0, 3.0), st.sampled_from(["auto", "exclude", "keep"]))
def test_scheme_configs_round_trip(alpha, beta, mass, gamma, zero_mode):
    for scheme in (
        Carosso(alpha=alpha, beta=beta, mass=mass, gamma=gamma, zero_mode=zero_mode),
        VariancePreserving(gamma=beta, zero_mode=zero_mode),
        Polchinski(mass=mass, beta=beta, m2=None if gamma < 1 else gamma, zero_mode=zero_mode),
    ):
        assert from_dict(type(scheme), to_dict(scheme)) == scheme
        assert from_tagged(tagged(scheme, SCHEMES), SCHEMES) == scheme


def test_registry_lists_the_schemes():
    assert {"carosso", "variance-preserving", "polchinski"} <= set(SCHEMES.names())
    assert SCHEMES.get("carosso") is Carosso


@pytest.mark.parametrize("scheme", [Carosso(), VariancePreserving(), Polchinski()])
def test_rate_and_diffusion_have_the_documented_shape(scheme):
    grid = Grid((8, 6))
    lam = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    assert scheme.rate(grid, lam).shape == (3, 1, 1, *grid.rfft_shape)
    assert scheme.diffusion(grid, lam).shape == (3, 1, 1, *grid.rfft_shape)
