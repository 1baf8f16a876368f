"""The data-informed prior, the exponential samplers around the data's Gaussian marginal and the
per-mode corrector, against the exact Gaussian path distribution."""

import math

import numpy as np
import pytest
import torch

from pdd_core import ArgumentError, Grid, ShapeError
from pdd_core.noise_source import GeneratorNoise
from pdd_core.sampling import sample
from pdd_core.schedules import power_schedule, uniform_schedule
from pdd_core.score import GaussianMarginal, GaussianPathScore, data_autocovariance, data_mean, data_power
from pdd_core.spectral import irfft, rfft
from schemes import Carosso
from solvers import ETDPredictor, GaussianExponential, GaussianLangevin, PredictorCorrector
from tests.gaussian_field import covariance_error, toeplitz_covariance

# The case: the L96 scheme (α = 0.1, β = √2) on 32 points x 8 frames, where λ = 1 barely
# damps the lowest modes (C̃_1² = e^{-0.2} at k = 1), so the prior matters there.
GRID = Grid((32,))
FRAMES = 8
SCHEME = Carosso(alpha=0.1, beta=2**0.5, zero_mode="keep")
K0 = toeplitz_covariance(GRID, FRAMES, nu=0.05, gamma=0.5, dt=0.05)
SCORE = GaussianPathScore(K0, SCHEME, GRID)
EXACT = GaussianMarginal(K0.unsqueeze(0))
SAMPLES = 8000


def _mode_variance(u: torch.Tensor) -> torch.Tensor:
    """E|û(k)|² per mode, averaged over frames."""
    return rfft(u.to(torch.float64), 1).abs().pow(2).mean(dim=(0, 1, 2))


def _variance_error(u: torch.Tensor) -> torch.Tensor:
    return _mode_variance(u) / torch.diagonal(K0, dim1=-2, dim2=-1).mean(-1) - 1


def _floor() -> float:
    return covariance_error(SCORE.exact_sample(0.0, SAMPLES, torch.Generator().manual_seed(7)), K0, GRID)


# Monte Carlo: the relative standard error of a variance from SAMPLES x FRAMES correlated draws is
# below ~4 %; 0.08 is twice that, while the noise-only prior misses k = 1 by 50-70 %.
VARIANCE_TOLERANCE = 0.08


def test_data_autocovariance_and_the_toeplitz_marginal():
    u = SCORE.exact_sample(0.0, SAMPLES, torch.Generator().manual_seed(1))
    autocovariance = data_autocovariance(u, GRID)
    torch.testing.assert_close(autocovariance[..., 0], data_power(u, GRID))  # lag 0 is the power spectrum
    expected = K0[..., 0, :]  # the first row of the Toeplitz covariance is A(k, ℓ)
    assert float((autocovariance[0] - expected).norm() / expected.norm()) < 0.03
    rebuilt = GaussianMarginal.from_autocovariance(expected.unsqueeze(0), FRAMES)
    torch.testing.assert_close(rebuilt.covariance[0], K0)
    longer = GaussianMarginal.from_autocovariance(expected.unsqueeze(0), FRAMES + 4)  # unseen lags: uncorrelated, still a covariance
    assert longer.frames == FRAMES + 4 and bool((longer.spectrum >= 0).all())
    with pytest.raises(ArgumentError, match="frames"):
        GaussianMarginal.from_autocovariance(expected.unsqueeze(0), 0)


def test_data_prior_is_the_exact_marginal_and_the_noise_prior_is_not():
    """K_λ = C̃_λ² G + Σ̃_λ: the data-informed prior draws the exact λ = 1 marginal (temporal correlations included)."""
    drawn = EXACT.sample((SAMPLES, FRAMES, 1, 32), SCHEME, GRID, 1.0, torch.Generator().manual_seed(2), dtype=torch.float64)
    exact = SCORE.exact_sample(1.0, SAMPLES, torch.Generator().manual_seed(3))
    assert covariance_error(drawn, SCORE.covariance_at(torch.ones(1, dtype=torch.float64))[0, 0], GRID) < 0.05
    ratio = _mode_variance(drawn) / _mode_variance(exact)
    assert float((ratio - 1).abs().max()) < VARIANCE_TOLERANCE
    noise_only = GaussianMarginal().sample((SAMPLES, FRAMES, 1, 32), SCHEME, GRID, 1.0, torch.Generator().manual_seed(2), dtype=torch.float64)
    assert float(_mode_variance(noise_only)[1] / _mode_variance(exact)[1]) < 0.8  # C̃²G is missing: k = 1 starts 29 % too narrow


@pytest.mark.parametrize(
    "sampler",
    [
        PredictorCorrector(GaussianExponential(EXACT, gate=1.0), GaussianLangevin(EXACT, gate=1.0), 1),  # gpc, the default
        GaussianExponential(EXACT, gate=1.0),  # gpf
        GaussianExponential(EXACT, stochastic=True, gate=1.0),  # gsde
    ],
    ids=["gpc", "gpf", "gsde"],
)
def test_default_samplers_generate_the_exact_marginal_from_the_data_prior(sampler):
    """Default settings (25 steps, power grid, data prior): every mode's variance, k = 1 included, within Monte Carlo error."""
    out = sample(SCORE, SCHEME, GRID, sampler, power_schedule(1.0, 0.0, 25), generator=torch.Generator().manual_seed(4), shape=(SAMPLES, FRAMES, 1, 32), prior=EXACT, dtype=torch.float64)
    assert float(_variance_error(out).abs().max()) < VARIANCE_TOLERANCE
    assert covariance_error(out, K0, GRID) < 2 * _floor()


def test_the_noise_prior_leaves_the_largest_scales_too_narrow_whatever_the_sampler():
    sampler = GaussianExponential(EXACT, gate=1.0)
    out = sample(SCORE, SCHEME, GRID, sampler, power_schedule(1.0, 0.0, 10), generator=torch.Generator().manual_seed(4), shape=(2000, FRAMES, 1, 32), dtype=torch.float64)
    assert float(_variance_error(out)[1]) < -0.4


def _linear_map(sampler, steps: int, lam_start: float = 1.0) -> torch.Tensor:
    """A deterministic sampler with a linear score is a linear map A on paths (column j = A e_j)."""
    dimension = FRAMES * GRID.n_points
    basis = torch.eye(dimension, dtype=torch.float64).reshape(dimension, FRAMES, 1, *GRID.shape)
    return sample(SCORE, SCHEME, GRID, sampler, power_schedule(lam_start, 0.0, steps), generator=torch.Generator(), u_init=basis).reshape(dimension, dimension).T


def _exact_map_error(sampler, steps: int) -> float:
    dimension = FRAMES * GRID.n_points
    basis = torch.eye(dimension, dtype=torch.float64).reshape(dimension, FRAMES, 1, *GRID.shape)
    start = SCORE.apply_covariance(basis, torch.ones(dimension)).reshape(dimension, dimension)
    exact = SCORE.apply_covariance(basis, torch.zeros(dimension)).reshape(dimension, dimension)
    matrix = _linear_map(sampler, steps)
    return float((matrix @ start @ matrix.T - exact).norm() / exact.norm())


def test_with_the_exact_reference_one_step_is_exact():
    """Special case = general case: for a Gaussian marginal the residual vanishes and the closed-form map is exact."""
    assert _exact_map_error(GaussianExponential(EXACT), 1) < 1e-9


def test_with_a_mismatched_reference_the_residual_converges_at_second_order():
    """Reference frames drawn independently (G's diagonal only): the residual carries the temporal
    correlations, extrapolated by Adams-Bashforth 2 (order 2; first order without ``multistep``)."""
    white = GaussianMarginal(torch.diag_embed(torch.diagonal(K0, dim1=-2, dim2=-1)).unsqueeze(0))
    errors = [_exact_map_error(GaussianExponential(white, gate=0.0), steps) for steps in (16, 32, 64)]
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(1.6 < order < 2.6 for order in orders), (errors, orders)
    first = [_exact_map_error(GaussianExponential(white, multistep=False, gate=0.0), steps) for steps in (32, 64)]
    assert 0.7 < math.log2(first[0] / first[1]) < 1.3, first


def test_gaussian_langevin_leaves_the_exact_marginal_invariant_at_any_step():
    """The Ornstein-Uhlenbeck form: no step-size bias on N(0, K_λ) (an Euler step, 2εK noise, would widen it by 1/(1 - ε/2))."""
    lam = torch.full((SAMPLES,), 0.5, dtype=torch.float64)
    start = SCORE.exact_sample(0.5, SAMPLES, torch.Generator().manual_seed(5))
    corrector = GaussianLangevin(EXACT, step_size=3.0)
    coefficients = corrector.init(SCHEME, GRID, lam[:1], lam[:1], device=start.device, dtype=start.dtype)
    u, noise = start, GeneratorNoise(torch.Generator().manual_seed(6))
    for _ in range(10):
        u = corrector.correct(SCORE, u, lam, coefficients, noise, lambda x: x)
    ratio = _mode_variance(u) / torch.diagonal(SCORE.covariance_at(lam[:1])[0, 0], dim1=-2, dim2=-1).mean(-1)
    assert float((ratio - 1).abs().max()) < VARIANCE_TOLERANCE
    assert float((u - start).std() / start.std()) > 0.5  # it did move the sample


def test_etd_step_multiplies_the_score_by_phi1_at_nonzero_rate():
    """One ETD step (PDD Eq. 66) by hand with φ1(z) = (e^z - 1)/z written out: at z = α|k|²Δ ≈ 0.4-20 replacing φ1 by 1 fails."""
    scheme = Carosso(alpha=0.5, beta=1.0, zero_mode="keep")
    score = GaussianPathScore(K0, scheme, GRID)
    u = score.exact_sample(0.6, 4, torch.Generator().manual_seed(8))
    lam_from, lam_to = torch.full((4,), 0.6, dtype=torch.float64), torch.full((4,), 0.4, dtype=torch.float64)
    sampler = ETDPredictor()
    coefficients = sampler.init(scheme, GRID, lam_from[:1], lam_to[:1], device=u.device, dtype=u.dtype)
    out, _ = sampler.step(score, u, lam_from, lam_to, coefficients, GeneratorNoise(torch.Generator().manual_seed(9)), None, lambda x: x)
    z = 0.5 * GRID.k2(torch.float64).numpy() * 0.2
    phi1 = torch.from_numpy(np.where(z == 0, 1.0, np.expm1(z) / np.where(z == 0, 1.0, z)))
    noise = torch.randn(u.shape, generator=torch.Generator().manual_seed(9), dtype=u.dtype)
    expected = irfft(torch.exp(torch.from_numpy(z)) * rfft(u, 1) + phi1 * 0.2 * rfft(score(u, lam_from), 1) + math.sqrt(0.2) * rfft(noise, 1), GRID.shape)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


def test_sample_stops_when_the_energy_leaves_the_band_before_any_nan():
    """A score that pushes outward (s = +u) grows the sample without bound: stopped at 1e3 x the start's energy."""
    start = SCORE.exact_sample(1.0, 4, torch.Generator().manual_seed(10))
    with pytest.raises(ArgumentError, match="mean square grew to .* x the start's"):
        sample(lambda u, lam: 50 * u, SCHEME, GRID, ETDPredictor(), uniform_schedule(1.0, 0.0, 20), generator=torch.Generator().manual_seed(11), u_init=start)


def test_bad_settings_are_rejected_with_the_fix():
    with pytest.raises(ArgumentError, match="noise-only Gaussian"):
        GaussianExponential(GaussianMarginal())
    with pytest.raises(ArgumentError, match="gate=-1"):
        GaussianExponential(EXACT, gate=-1)
    with pytest.raises(ArgumentError, match="step_size=0"):
        GaussianLangevin(EXACT, step_size=0)
    with pytest.raises(ShapeError, match="covariance.shape"):
        EXACT.sample((2, FRAMES + 1, 1, 32), SCHEME, GRID, 1.0, torch.Generator())


# The default scheme excludes k = 0 (massless Carosso, PDD A.2): the spatial mean never diffuses.
EXCLUDED = Carosso(alpha=0.1, beta=2**0.5)
EXCLUDED_SCORE = GaussianPathScore(K0, EXCLUDED, GRID)


def test_generation_gives_the_excluded_zero_mode_its_data_law():
    """Under a scheme that excludes k = 0 only the prior can set the spatial mean: the data prior draws it from G(0)'s law.

    Its variance and temporal covariance match K_0(k = 0) within Monte Carlo error after the
    default sampler, and every other mode still matches too. The noise-only prior leaves it at zero.
    """
    assert not bool(EXCLUDED.marginal(GRID, torch.ones(1, dtype=torch.float64)).active[..., 0].any())
    sampler = PredictorCorrector(GaussianExponential(EXACT, gate=1.0), GaussianLangevin(EXACT, gate=1.0), 1)  # gpc
    out = sample(EXCLUDED_SCORE, EXCLUDED, GRID, sampler, power_schedule(1.0, 0.0, 25), generator=torch.Generator().manual_seed(5), shape=(2000, FRAMES, 1, 32), prior=EXACT, dtype=torch.float64)
    zero = rfft(out, 1)[..., 0].real.squeeze(-1)  # [B, T]: √N x the spatial mean
    covariance = zero.T @ zero / zero.shape[0]
    assert float((covariance - K0[0]).norm() / K0[0].norm()) < 0.08
    assert float(_variance_error(out).abs().max()) < 2 * VARIANCE_TOLERANCE
    noise_only = sample(EXCLUDED_SCORE, EXCLUDED, GRID, sampler, power_schedule(1.0, 0.0, 5), generator=torch.Generator().manual_seed(5), shape=(16, FRAMES, 1, 32), dtype=torch.float64)
    assert float(rfft(noise_only, 1)[..., 0].abs().max()) < 1e-12


def _residual_effect(sampler) -> float:
    """How far a score residual on the k = 12 mode moves a deterministic start from λ = 1 to 0.5 (relative to the sample).

    At λ ∈ [0.5, 1] the coarse-graining has forgotten k = 12 (signal fraction C̃²G/K < 1e-5 there),
    which is where a learned score's error is stiff model error and the gate must silence it.
    """
    x = torch.arange(32, dtype=torch.float64) * 2 * math.pi / 32
    residual = 5.0 * torch.cos(12 * x).expand(1, FRAMES, 1, 32)

    def perturbed(u, lam):
        return SCORE(u, lam) + residual

    start = EXACT.sample((4, FRAMES, 1, 32), SCHEME, GRID, 1.0, torch.Generator().manual_seed(8), dtype=torch.float64)
    outputs = [
        sample(score, SCHEME, GRID, sampler, power_schedule(1.0, 0.5, 10), generator=torch.Generator().manual_seed(9), u_init=start.clone(), dtype=torch.float64)
        for score in (SCORE, perturbed)
    ]
    return float((outputs[1] - outputs[0]).norm() / outputs[0].norm())


@pytest.mark.parametrize(
    "make",
    [
        lambda gate: GaussianExponential(EXACT, gate=gate),
        lambda gate: PredictorCorrector(GaussianExponential(EXACT, gate=gate), GaussianLangevin(EXACT, gate=gate), 1),
    ],
    ids=["gpf", "gpc"],
)
def test_the_gate_silences_a_score_residual_on_modes_the_coarse_graining_has_forgotten(make):
    """The exact Gaussian score has no residual, so only a perturbed score shows what the gate does."""
    assert _residual_effect(make(1.0)) < 1e-4
    assert _residual_effect(make(0.0)) > 0.05


def test_a_conserved_spatial_mean_is_drawn_constant_in_time():
    """Data whose k = 0 mode is conserved (Kolmogorov vorticity, KS) have G(0) = g 11ᵀ: each drawn path keeps one mean."""
    covariance = K0.unsqueeze(0).clone()
    covariance[0, 0] = 0.3
    drawn = GaussianMarginal(covariance).sample((3000, FRAMES, 1, 32), EXCLUDED, GRID, 1.0, torch.Generator().manual_seed(6), dtype=torch.float64)
    mean = drawn.mean(dim=-1).squeeze(-1)  # [B, T]
    assert float((mean - mean[:, :1]).abs().max()) < 1e-12
    assert float(mean[:, 0].var() * 32) == pytest.approx(0.3, rel=0.08)  # |û(0)|² = N x mean²


# -- a marginal with a mean: the data's mean field ū, constant in time, at k = 0 and two more modes
# (a forced pattern, as Kolmogorov flow's forcing pins one mode's phase in every path).
_X = torch.arange(32, dtype=torch.float64) * 2 * math.pi / 32
MEAN = (0.8 + 1.5 * torch.cos(_X + 0.3) + 0.7 * torch.sin(5 * _X)).reshape(1, 32)
SHIFTED = GaussianPathScore(K0, SCHEME, GRID, mean=MEAN)
EXACT_SHIFTED = GaussianMarginal(K0.unsqueeze(0), mean=MEAN)


def _mean_error(u: torch.Tensor, lam: float) -> torch.Tensor:
    """|E û(k) - C̃_λ μ(k)| per mode over its Monte Carlo standard error sqrt(1ᵀK_λ1 / (T² N))."""
    target = rfft(SHIFTED.mean_at(torch.tensor([lam], dtype=torch.float64))[0, 0, 0], 1)
    estimate = rfft(u.to(torch.float64), 1).mean(dim=(0, 1, 2))
    covariance = SHIFTED.covariance_at(torch.tensor([lam], dtype=torch.float64))[0, 0]
    standard_error = (covariance.sum(dim=(-1, -2)) / FRAMES**2 / u.shape[0]).sqrt()
    return (estimate - target).abs() / standard_error


def _centred_variance_error(u: torch.Tensor, lam: float = 0.0) -> torch.Tensor:
    centred = u - SHIFTED.mean_at(torch.tensor([lam], dtype=torch.float64))
    variance = torch.diagonal(SHIFTED.covariance_at(torch.tensor([lam], dtype=torch.float64))[0, 0], dim1=-2, dim2=-1).mean(-1)
    return _mode_variance(centred) / variance - 1


def test_the_data_mean_centres_the_covariance_and_the_prior_draws_it():
    u = SHIFTED.exact_sample(0.0, SAMPLES, torch.Generator().manual_seed(1))
    mean = data_mean(u, GRID)
    assert float(_mean_error(mean.reshape(1, 1, 1, 32), 0.0).max() / SAMPLES**0.5) < 5  # one path's standard error, scaled by N
    centred = GaussianMarginal.from_autocovariance(data_autocovariance(u, GRID), FRAMES, mean=mean)
    assert float((centred.covariance[0] - K0).norm() / K0.norm()) < 0.03
    raw = GaussianMarginal.from_autocovariance(data_autocovariance(u, GRID), FRAMES)  # about zero: |μ|² on every lag
    assert float((raw.covariance[0] - K0).norm() / K0.norm()) > 0.3
    drawn = EXACT_SHIFTED.sample((SAMPLES, FRAMES, 1, 32), SCHEME, GRID, 1.0, torch.Generator().manual_seed(2), dtype=torch.float64)
    assert float(_mean_error(drawn, 1.0).max()) < 5
    assert float(_centred_variance_error(drawn, 1.0).abs().max()) < VARIANCE_TOLERANCE
    with pytest.raises(ArgumentError, match="mean"):
        GaussianMarginal(mean=MEAN)  # a mean without the covariance about it
    with pytest.raises(ShapeError, match="mean"):
        GaussianMarginal(K0.unsqueeze(0), mean=torch.zeros(1, 16, dtype=torch.float64))
    with pytest.raises(ShapeError, match="mean"):
        GaussianMarginal(K0.unsqueeze(0), mean=torch.zeros(1, 33, dtype=torch.float64)).check(GRID, FRAMES)


def test_with_a_mean_one_probability_flow_step_is_still_exact():
    """The map is affine: the mean path m_1 goes to ū exactly, the fluctuations by the exact linear map."""
    dimension = FRAMES * GRID.n_points
    mean_path = SHIFTED.mean_at(torch.ones(1, dtype=torch.float64)).expand(1, FRAMES, 1, 32)
    basis = torch.eye(dimension, dtype=torch.float64).reshape(dimension, FRAMES, 1, *GRID.shape)
    run = lambda u: sample(SHIFTED, SCHEME, GRID, GaussianExponential(EXACT_SHIFTED), power_schedule(1.0, 0.0, 1), generator=torch.Generator(), u_init=u)  # noqa: E731
    torch.testing.assert_close(run(mean_path)[0], MEAN.expand(FRAMES, 1, 32), atol=1e-9, rtol=0)
    matrix = (run(mean_path + basis) - run(mean_path)).reshape(dimension, dimension).T
    start = SCORE.apply_covariance(basis, torch.ones(dimension)).reshape(dimension, dimension)
    exact = SCORE.apply_covariance(basis, torch.zeros(dimension)).reshape(dimension, dimension)
    assert float((matrix @ start @ matrix.T - exact).norm() / exact.norm()) < 1e-9


@pytest.mark.parametrize("stochastic", [False, True], ids=["gpc", "gsde"])
def test_samplers_around_a_mean_generate_its_mean_and_covariance(stochastic):
    """From the prior N(m_1, K_1) to N(ū, K_0) in 8 steps (the exact reference leaves no residual): every
    mode's mean (k = 0 included) within 5 standard errors, its variance within Monte Carlo error."""
    predictor = GaussianExponential(EXACT_SHIFTED, stochastic=stochastic)
    sampler = predictor if stochastic else PredictorCorrector(predictor, GaussianLangevin(EXACT_SHIFTED), 1)
    out = sample(SHIFTED, SCHEME, GRID, sampler, power_schedule(1.0, 0.0, 8), generator=torch.Generator().manual_seed(4), shape=(4000, FRAMES, 1, 32), prior=EXACT_SHIFTED, dtype=torch.float64)
    assert float(_mean_error(out, 0.0).max()) < 5
    assert float(_centred_variance_error(out).abs().max()) < VARIANCE_TOLERANCE


def test_gaussian_langevin_keeps_a_marginal_with_a_mean():
    lam = torch.full((2000,), 0.5, dtype=torch.float64)
    start = SHIFTED.exact_sample(0.5, 2000, torch.Generator().manual_seed(5))
    corrector = GaussianLangevin(EXACT_SHIFTED, step_size=3.0)
    coefficients = corrector.init(SCHEME, GRID, lam[:1], lam[:1], device=start.device, dtype=start.dtype)
    u, noise = start, GeneratorNoise(torch.Generator().manual_seed(6))
    for _ in range(10):
        u = corrector.correct(SHIFTED, u, lam, coefficients, noise, lambda x: x)
    assert float(_mean_error(u, 0.5).max()) < 5
    assert float(_centred_variance_error(u, 0.5).abs().max()) < 2 * VARIANCE_TOLERANCE
