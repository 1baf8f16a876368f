"""Every λ-sampler against the exact Gaussian path distribution (DESIGN: ground truth)."""

import math

import pytest
import torch

from pdd_core import ArgumentError, ShapeError
from pdd_core.sampling import extrapolate_t0, sample
from pdd_core.schedules import power_schedule, uniform_schedule
from schemes import Carosso, FourierDiagonal
from solvers import ETDPredictor, ExponentialMultistep, LangevinCorrector, PredictorCorrector, ProbabilityFlowHeun, ReverseEulerMaruyama
from tests.gaussian_field import FRAMES, GRID, covariance_error, gaussian_score, toeplitz_covariance

SAMPLES = 20000
K0 = toeplitz_covariance()
SCORE = gaussian_score()
SCHEME = SCORE.scheme


def _exact_output_covariance(sampler, steps: int, lam_start: float = 1.0) -> torch.Tensor:
    """A deterministic sampler is a linear map A on paths: Cov_out = A K_λ A^T, computed exactly."""
    dimension = FRAMES * GRID.n_points
    basis = torch.eye(dimension, dtype=torch.float64).reshape(dimension, FRAMES, 1, *GRID.shape)
    mapped = sample(SCORE, SCHEME, GRID, sampler, uniform_schedule(lam_start, 0.0, steps), generator=torch.Generator(), u_init=basis)
    matrix = mapped.reshape(dimension, dimension).T  # column j = A e_j
    covariance_in = SCORE.apply_covariance(basis, torch.full((dimension,), lam_start)).reshape(dimension, dimension)
    return matrix @ covariance_in @ matrix.T


def _exact_real_space_covariance() -> torch.Tensor:
    dimension = FRAMES * GRID.n_points
    basis = torch.eye(dimension, dtype=torch.float64).reshape(dimension, FRAMES, 1, *GRID.shape)
    return SCORE.apply_covariance(basis, torch.zeros(dimension)).reshape(dimension, dimension)


def _observed_orders(errors: list[float]) -> list[float]:
    return [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]


@pytest.mark.parametrize("sampler, step_counts", [(ProbabilityFlowHeun(), (4, 8, 16)), (ExponentialMultistep(), (32, 64, 128))])
def test_deterministic_samplers_converge_at_their_declared_order(sampler, step_counts):
    """Exact covariance (no Monte Carlo). The multistep method reaches order 2 later (1.5 at
    8 -> 16 steps, 1.87 at 64 -> 128): its one-step start and stiff modes pre-asymptotically."""
    exact = _exact_real_space_covariance()
    errors = [float((_exact_output_covariance(sampler, steps) - exact).norm() / exact.norm()) for steps in step_counts]
    assert all(abs(order - sampler.order) < 0.35 for order in _observed_orders(errors)), errors
    assert float((_exact_output_covariance(sampler, 128) - exact).norm() / exact.norm()) < 1e-3


def _monte_carlo_error(sampler, steps: int, seed: int = 1, **kwargs) -> float:
    start = SCORE.exact_sample(1.0, SAMPLES, torch.Generator().manual_seed(0))
    out = sample(SCORE, SCHEME, GRID, sampler, uniform_schedule(1.0, 0.0, steps), generator=torch.Generator().manual_seed(seed), u_init=start, **kwargs)
    return covariance_error(out, K0)


def _monte_carlo_floor() -> float:
    return covariance_error(SCORE.exact_sample(0.0, SAMPLES, torch.Generator().manual_seed(7)), K0)


@pytest.mark.parametrize("sampler", [ReverseEulerMaruyama(), ETDPredictor()])
def test_stochastic_samplers_converge_at_first_order_to_the_monte_carlo_floor(sampler):
    errors = [_monte_carlo_error(sampler, steps) for steps in (10, 20, 40)]
    assert all(abs(order - sampler.order) < 0.35 for order in _observed_orders(errors)), errors
    assert _monte_carlo_error(sampler, 120) < 3 * _monte_carlo_floor()


def test_predictor_corrector_reaches_the_floor_with_a_gentle_corrector():
    sampler = PredictorCorrector(ETDPredictor(), LangevinCorrector(snr=0.05), corrector_steps=1)
    assert _monte_carlo_error(sampler, 120) < 3 * _monte_carlo_floor()


def test_generation_from_the_prior_matches_when_the_prior_is_exact():
    """With α|k|² large enough that C̃_λmax ≈ 0, the prior N(0, Σ_λmax) is the exact marginal."""
    scheme = Carosso(alpha=1.0, beta=1.0, gamma=8.0)  # C̃_1 <= e^-8
    score = gaussian_score(scheme)
    out = sample(score, scheme, GRID, ProbabilityFlowHeun(), power_schedule(1.0, 0.0, 40), generator=torch.Generator().manual_seed(3), shape=(SAMPLES, FRAMES, 1, 8), dtype=torch.float64)
    assert covariance_error(out, K0) < 3 * _monte_carlo_floor()


def test_super_resolution_reproduces_the_exact_conditional_statistics():
    """Reverse SDE from exact coarse samples: joint of (u_0, u_λ) equals the forward joint,
    so Cov(u_0) = K_0 and the cross-covariance E[û_0 û_λ^H] = K_0 C̃_λ per mode."""
    lam = 0.2
    coarse = SCORE.exact_sample(lam, SAMPLES, torch.Generator().manual_seed(5))
    fine = sample(SCORE, SCHEME, GRID, ETDPredictor(), uniform_schedule(lam, 0.0, 100), generator=torch.Generator().manual_seed(6), u_init=coarse)
    assert covariance_error(fine, K0) < 3 * _monte_carlo_floor()
    fine_hat = torch.fft.rfft(fine, norm="ortho")[:, :, 0].movedim(1, -1)
    coarse_hat = torch.fft.rfft(coarse, norm="ortho")[:, :, 0].movedim(1, -1)
    cross = torch.einsum("bki,bkj->kij", fine_hat, coarse_hat.conj()).real / SAMPLES
    expected = K0 * SCHEME.transition(GRID, 0.0, lam).damping.flatten()[:, None, None]
    assert float((cross - expected).norm() / expected.norm()) < 0.04


def test_predictor_corrector_without_corrector_steps_is_the_predictor():
    start = SCORE.exact_sample(1.0, 64, torch.Generator().manual_seed(0))
    grid = uniform_schedule(1.0, 0.0, 20)
    bare = sample(SCORE, SCHEME, GRID, ETDPredictor(), grid, generator=torch.Generator().manual_seed(9), u_init=start)
    wrapped = sample(SCORE, SCHEME, GRID, PredictorCorrector(ETDPredictor(), corrector_steps=0), grid, generator=torch.Generator().manual_seed(9), u_init=start)
    assert torch.equal(bare, wrapped)


def test_etd_with_zero_linear_part_is_reverse_euler_maruyama():
    scheme = FourierDiagonal(rate=lambda k2, lam: 0.0 * k2, noise=lambda k2, lam: 1.0 + 0.0 * k2, zero_mode="keep")
    score = gaussian_score(scheme)
    start = score.exact_sample(1.0, 64, torch.Generator().manual_seed(0))
    grid = uniform_schedule(1.0, 0.0, 20)
    etd = sample(score, scheme, GRID, ETDPredictor(), grid, generator=torch.Generator().manual_seed(2), u_init=start)
    em = sample(score, scheme, GRID, ReverseEulerMaruyama(), grid, generator=torch.Generator().manual_seed(2), u_init=start)
    torch.testing.assert_close(etd, em, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sampler", [ReverseEulerMaruyama(), ETDPredictor(), PredictorCorrector(ETDPredictor(), corrector_steps=1), ProbabilityFlowHeun(), ExponentialMultistep()])
@pytest.mark.parametrize("steps", [10, 1000])
def test_samplers_are_deterministic_and_finite(sampler, steps):
    scheme = Carosso(alpha=0.1, beta=2**0.5)
    score = gaussian_score(scheme)
    run = lambda: sample(score, scheme, GRID, sampler, uniform_schedule(1.0, 0.0, steps), generator=torch.Generator().manual_seed(4), shape=(4, FRAMES, 1, 8), boundary=extrapolate_t0)  # noqa: E731
    first, second = run(), run()
    assert torch.isfinite(first).all() and torch.equal(first, second)


def test_samplers_declare_their_cost():
    assert PredictorCorrector(ETDPredictor(), corrector_steps=3).evaluations_per_step == 4
    assert ProbabilityFlowHeun().evaluations_per_step == 2 and ExponentialMultistep().evaluations_per_step == 1


def test_sample_rejects_bad_arguments():
    with pytest.raises(ArgumentError, match="^lam_schedule="):
        sample(SCORE, SCHEME, GRID, ETDPredictor(), torch.tensor([0.0, 1.0]), generator=torch.Generator(), shape=(2, FRAMES, 1, 8))
    with pytest.raises(ArgumentError, match="^u_init="):
        sample(SCORE, SCHEME, GRID, ETDPredictor(), uniform_schedule(1.0, 0.0, 4), generator=torch.Generator())
    with pytest.raises(ShapeError, match="T >= 3"):
        extrapolate_t0(torch.zeros(1, 2, 1, 8))


def test_extrapolation_overwrites_only_the_first_frame():
    u = torch.arange(4.0).reshape(1, 4, 1, 1).expand(1, 4, 1, 3) ** 2
    out = extrapolate_t0(u)
    assert out[0, 0, 0, 0].item() == 2 * 1.0 - 4.0 and torch.equal(out[:, 1:], u[:, 1:])


def test_power_grid_is_decreasing_and_denser_near_the_end():
    grid = power_schedule(1.0, 0.0, 10, power=2.0)
    steps = grid[:-1] - grid[1:]
    assert grid[0] == 1.0 and grid[-1] == 0.0 and bool((steps > 0).all()) and steps[-1] < steps[0]
