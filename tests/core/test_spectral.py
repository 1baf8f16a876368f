import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pdd_core import Grid, apply_diagonal, irfft, phi1, rfft


def test_phi1_is_exact_at_zero_and_matches_series():
    z = torch.tensor([0.0, 1e-12, -1e-8, 1e-4, -3.0, 2.0], dtype=torch.float64)
    series = 1 + z / 2 + z**2 / 6 + z**3 / 24
    values = phi1(z)
    assert values[0].item() == 1.0
    torch.testing.assert_close(values[:4], series[:4], rtol=1e-12, atol=0)
    torch.testing.assert_close(values[4:], torch.expm1(z[4:]) / z[4:])


def test_phi1_float32_has_no_cancellation():
    z = torch.tensor([1e-7, -1e-6], dtype=torch.float32)
    torch.testing.assert_close(phi1(z), torch.ones(2), rtol=1e-6, atol=0)


@given(st.lists(st.integers(2, 8), min_size=1, max_size=3), st.integers(1, 3))
def test_orthonormal_rfft_preserves_the_norm(shape, channels):
    grid = Grid(tuple(shape), channels=channels)
    u = torch.randn(2, 3, channels, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u_hat = rfft(u, grid.ndim)
    energy = (grid.mode_multiplicity() * u_hat.abs() ** 2).sum()
    torch.testing.assert_close(energy, (u**2).sum())
    torch.testing.assert_close(irfft(u_hat, grid.shape), u)


def test_white_noise_has_unit_variance_per_mode():
    grid = Grid((16, 16))
    noise = torch.randn(4000, 1, 1, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    power = (rfft(noise, 2).abs() ** 2).mean(dim=(0, 1, 2))
    # Complex modes carry unit variance split over real and imaginary parts; |û|² has mean 1.
    assert torch.allclose(power, torch.ones_like(power), atol=0.12)
    assert grid.rfft_shape == power.shape


def test_apply_diagonal_with_ones_is_identity_and_with_symbol_is_laplacian():
    grid = Grid((32,))
    x = torch.linspace(0, 2 * torch.pi, 33, dtype=torch.float64)[:-1]
    u = torch.sin(3 * x).reshape(1, 1, 1, 32)
    torch.testing.assert_close(apply_diagonal(u, torch.ones(grid.rfft_shape), grid.shape), u)
    torch.testing.assert_close(apply_diagonal(u, -grid.k2(), grid.shape), -9 * u)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_apply_diagonal_keeps_dtype(dtype):
    grid = Grid((8, 8))
    u = torch.ones(1, 1, 1, 8, 8, dtype=dtype)
    assert apply_diagonal(u, grid.k2(), grid.shape).dtype == dtype
