"""The calibrated increment noise of the path density: V_λ = max(Σ̃_λ, v_λ) per mode, v interpolated in λ."""

import math

import pytest
import torch

from pdd_core.errors import ArgumentError
from pdd_core.grid import Grid
from pdd_core.score import CalibratedNoise, PerModeNoise
from pdd_core.score.path_density import increment_variance
from schemes import Carosso

GRID = Grid((16,), channels=2)
SCHEME = Carosso(alpha=0.1, beta=2**0.5)
DT = 0.05
RFFT = (GRID.channels, *GRID.rfft_shape)


def test_the_table_is_interpolated_linearly_in_lambda_and_held_beyond_its_ends():
    lams = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    variance = torch.stack([torch.full(RFFT, value, dtype=torch.float64) for value in (1.0, 3.0, 4.0)])
    noise = CalibratedNoise(lams, variance)
    at = noise.at(torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 1.5], dtype=torch.float64))
    assert at.shape == (6, 1, *RFFT)
    torch.testing.assert_close(at[:, 0, 0, 0], torch.tensor([1.0, 2.0, 3.0, 3.5, 4.0, 4.0], dtype=torch.float64))


def test_a_variance_above_the_coarse_graining_noise_is_the_gaussian_of_that_variance():
    """A constant v above every Σ̃_λ(k): Σ_n ‖r_n‖²/v (Parseval) and the normaliser of N(0, v) per real number."""
    lam = torch.tensor([0.3, 0.7], dtype=torch.float64)
    level = 10 * float(increment_variance(SCHEME, GRID, lam, DT).max())
    noise = CalibratedNoise(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.full((2, *RFFT), level, dtype=torch.float64))
    residual = torch.randn(2, 5, GRID.channels, *GRID.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    quadratic = noise.quadratic_form(residual, lam, SCHEME, GRID, DT, 1e-3)
    torch.testing.assert_close(quadratic, residual.pow(2).flatten(1).sum(1) / level)
    normaliser = noise.log_normaliser(residual, lam, SCHEME, GRID, DT, 1e-3)
    torch.testing.assert_close(normaliser, torch.full((2,), 5 * GRID.channels * GRID.shape[0] * math.log(2 * math.pi * level), dtype=torch.float64))


def test_below_the_coarse_graining_noise_it_is_the_per_mode_model():
    lam = torch.tensor([0.2], dtype=torch.float64)
    noise = CalibratedNoise(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.zeros(2, *RFFT, dtype=torch.float64))
    residual = torch.randn(1, 4, GRID.channels, *GRID.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for method in ("quadratic_form", "log_normaliser"):
        torch.testing.assert_close(getattr(noise, method)(residual, lam, SCHEME, GRID, DT, 1e-3), getattr(PerModeNoise(), method)(residual, lam, SCHEME, GRID, DT, 1e-3))


def test_bad_tables_are_refused_naming_the_argument():
    with pytest.raises(ArgumentError, match="lams"):
        CalibratedNoise(torch.tensor([0.5, 0.2], dtype=torch.float64), torch.ones(2, *RFFT, dtype=torch.float64))
    with pytest.raises(ArgumentError, match="variance"):
        CalibratedNoise(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.ones(3, *RFFT, dtype=torch.float64))
    with pytest.raises(ArgumentError, match="variance"):
        CalibratedNoise(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.full((2, *RFFT), float("nan"), dtype=torch.float64))
