"""Reverse-λ generation with the path score of the EXACT optimal drift.

Ground truth: a linear Gaussian field (DESIGN) whose optimal drift at every λ is the Gaussian
regression of the increment on the window (PDD Eqs. 44-47, 52-54; see test_optimal_drift).
Its path score is built exactly as for a learned drift (autograd of Eq. 36), so any failure
here belongs to the path density of Eqs. 35-36, not to training.

Mechanism checked: with the scalar σ_λ of Eq. 58 a noise-dominated mode gets the precision
~1/(σ_λ²Δt) instead of 1/Σ̃_λ(k). Wherever β²·λ_max(P_k) < α|k|², every direction of mode k
grows in the reverse flow (Eq. 11) at a rate ≥ α|k|² − β²λ_max(P_k) > 0: no sampler or step
size can help. The per-mode variance Σ̃_λ(k) (``PerModeNoise``) has b²/Σ̃ ≥ 2κ.

The first frame has no transition density; without the initial density r_λ of Eq. 36 (B.6)
nothing restrains it against the anti-diffusion. The Gaussian r_λ = N(0, C̃²G + Σ̃) is this
field's exact marginal, so with it generation reproduces u(t0) too, with no t0 rule.
"""

import math

import pytest
import torch

from pdd_core import ArgumentError, Grid, LinearDrift, PathScore, PDDError
from pdd_core.sampling import extrapolate_t0, sample
from pdd_core.schedules import uniform_schedule
from pdd_core.score import NOISE_MODELS, GaussianInitial, GaussianPathScore, PerModeNoise, log_density
from schemes import Carosso
from solvers import ETDPredictor
from tests.gaussian_field import toeplitz_covariance

GRID = Grid((32,))
FRAMES, DT, WINDOW = 8, 0.05, 2
SCHEME = Carosso(alpha=0.1, beta=2**0.5, zero_mode="keep")  # the L96 scheme of PDD B.3
K0 = toeplitz_covariance(GRID, FRAMES, nu=0.05, gamma=0.5, s=1.0, dt=DT)
GAUSSIAN = GaussianPathScore(K0, SCHEME, GRID)
# Down to λ = 0.3 the density's one approximation, A.7's neglect of the field's own innovation
# (s²Δt = 0.05 next to Σ̃_λ ≥ 0.6 · 0.3 on the low modes), costs < ~10% on every mode; at
# λ -> 0 it is the dominant term for this stochastic field, so the law there is not the target.
LAM_END = 0.3
LAM_GRID = uniform_schedule(1.0, LAM_END, 70)


def optimal_coefficients(covariance: torch.Tensor) -> torch.Tensor:
    """Least squares per mode over the windows ending at t0..t_{T-2} (zero padding, PDD B.2): ``[modes, W]``."""
    gram = torch.zeros(covariance.shape[0], WINDOW, WINDOW, dtype=torch.float64)
    cross = torch.zeros(covariance.shape[0], WINDOW, dtype=torch.float64)
    for n in range(FRAMES - 1):
        for i, a in enumerate(range(n - WINDOW + 1, n + 1)):
            if a < 0:
                continue
            cross[:, i] += (covariance[:, n + 1, a] - covariance[:, n, a]) / DT
            for j, b in enumerate(range(n - WINDOW + 1, n + 1)):
                if b >= 0:
                    gram[:, i, j] += covariance[:, a, b]
    gram[:, 0, 0] += (gram[:, 0, 0] == 0).to(gram.dtype)  # never-seen lag of the n = 0 window only: pin it
    return torch.linalg.solve(gram, cross.unsqueeze(-1)).squeeze(-1)


def exact_path_score(noise_model: str, initial: GaussianInitial | None = None) -> PathScore:
    """The path score of the optimal linear drift, exact at every node of the λ schedule."""
    nodes = LAM_GRID.flip(0)
    covariances = GAUSSIAN.covariance_at(nodes)[:, 0]  # [nodes, modes, T, T]
    coefficients = torch.stack([optimal_coefficients(c) for c in covariances]).transpose(1, 2).unsqueeze(1)
    drift = LinearDrift(GRID, WINDOW, nodes, coefficients).eval()
    return PathScore(drift, SCHEME, GRID, DT, noise_model=NOISE_MODELS[noise_model], initial=initial)


def mode_precision(score: PathScore, lam: float, k: int) -> torch.Tensor:
    """P_k = -∂s/∂u restricted to the cosine of mode k, ``[T, T]`` (the score is linear in u)."""
    pattern = torch.cos(2 * math.pi * k * torch.arange(GRID.shape[0], dtype=torch.float64) / GRID.shape[0])
    basis = torch.eye(FRAMES, dtype=torch.float64)[:, :, None, None] * pattern  # [T, T, 1, N]
    response = score(basis, torch.full((FRAMES,), lam, dtype=torch.float64))
    return -(response * pattern).sum(-1)[..., 0].T / pattern.pow(2).sum()


def frame_variance_ratios(u: torch.Tensor, lam: float = LAM_END) -> torch.Tensor:
    """E|û_k(t_n)|² / K_λ(k)[n, n] per frame and mode ``[T, modes]``."""
    u_hat = torch.fft.rfft(u.to(torch.float64), norm="ortho")[:, :, 0]  # [B, T, modes]
    exact = GAUSSIAN.covariance_at(torch.tensor([lam], dtype=torch.float64))[0, 0].diagonal(dim1=-2, dim2=-1)
    return u_hat.abs().pow(2).mean(0) / exact.T


def variance_ratios(u: torch.Tensor, lam: float = LAM_END) -> torch.Tensor:
    """:func:`frame_variance_ratios` averaged over frames 1..T-1 (t0 is extrapolated)."""
    return frame_variance_ratios(u, lam)[1:].mean(0)


@pytest.fixture(scope="module")
def start() -> torch.Tensor:
    """Exact draws of the λ = 1 marginal: the prior N(0, Σ_1) is not exact for low modes."""
    return GAUSSIAN.exact_sample(1.0, 600, torch.Generator().manual_seed(0))


def generate(noise_model: str, start: torch.Tensor, initial: GaussianInitial | None = None, boundary=extrapolate_t0) -> torch.Tensor:
    """The paper's ETD predictor (Eq. 66), by default with the t0 extrapolation (B.6), λ = 1 -> 0.3 in steps of 0.01."""
    score = exact_path_score(noise_model, initial)
    return sample(score, SCHEME, GRID, ETDPredictor(), LAM_GRID, generator=torch.Generator().manual_seed(1), u_init=start, boundary=boundary)


def noise_dominated() -> torch.Tensor:
    """Modes the coarse-graining noise dominates at the end of the λ schedule (κλ >= 1: k >= 6)."""
    return SCHEME.rate(GRID, torch.tensor([LAM_END]))[0, 0, 0] * LAM_END >= 1.0


def test_per_mode_density_is_eq58_when_every_mode_has_the_same_variance():
    """With α = 0 every Σ̃_λ(k) equals tr(Σ_λ)/D, so both noise models are the same density."""
    flat = Carosso(alpha=0.0, beta=2**0.5, gamma=0.7)
    drift = LinearDrift(GRID, WINDOW, coefficients=torch.randn(1, 1, WINDOW, *GRID.rfft_shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    u = torch.randn(3, FRAMES, 1, *GRID.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    lam = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    scalar = log_density(u, lam, drift, flat, GRID, DT)
    per_mode = log_density(u, lam, drift, flat, GRID, DT, noise_model=PerModeNoise())
    assert torch.allclose(scalar, per_mode, rtol=1e-10)
    with pytest.raises(ArgumentError, match="noise_model"):
        PathScore(drift, flat, GRID, DT, noise_model="per-mode")


def test_scalar_sigma_leaves_high_modes_unbalanced_against_the_anti_diffusion():
    """Stability bound: β² λ_max(P_k) < α|k|² means mode k grows in every direction."""
    score = exact_path_score("scalar")
    kappa = SCHEME.rate(GRID, torch.tensor([0.5]))[0, 0, 0]
    precision = mode_precision(score, 0.5, 16)
    assert torch.allclose(precision, precision.T, atol=1e-8)  # a Gaussian path density: symmetric P
    growth = float(kappa[16]) - SCHEME.beta**2 * float(torch.linalg.eigvalsh(precision).max())
    assert growth > 10.0, growth  # 25.6 - 2 * 5.6 at λ = 0.5
    per_mode = mode_precision(exact_path_score("per-mode"), 0.5, 16)
    # The per-mode density restores the exact noise precision 1/Σ̃ ≥ 2κ/β² of this mode.
    exact = torch.linalg.inv(GAUSSIAN.covariance_at(torch.tensor([0.5], dtype=torch.float64))[0, 0, 16])
    assert SCHEME.beta**2 * float(torch.linalg.eigvalsh(per_mode).max()) > float(kappa[16])
    assert float(torch.linalg.eigvalsh(per_mode).max()) == pytest.approx(float(torch.linalg.eigvalsh(exact).max()), rel=0.1)


def test_generation_with_the_scalar_sigma_of_eq58_blows_up_the_high_modes(start):
    try:
        ratios = variance_ratios(generate("scalar", start))
    except PDDError:  # the NaN guard of sample(): the same divergence, caught earlier
        return
    assert float(ratios[-1]) > 1e3, ratios


def test_generation_with_the_per_mode_variance_is_finite_and_matches_the_gaussian_statistics(start):
    out = generate("per-mode", start)
    assert bool(torch.isfinite(out).all())
    ratios = variance_ratios(out)
    noisy = noise_dominated()  # the density is exact there
    # 600 paths x 7 frames: Monte Carlo ~4%; first-order ETD at Δλ = 0.01 adds ~2% (cf. the exact score).
    assert float((ratios[noisy] - 1).abs().max()) < 0.1, ratios
    # Signal-dominated modes come out narrower, as A.7 predicts: σ_λ (and so Σ̃_λ here) leaves out
    # the uncertainty of predicting C_λu0(t_{n+1}), so the density is overconfident there (~0.8).
    assert bool(((ratios[~noisy] > 0.7) & (ratios[~noisy] < 1.0)).all()), ratios


def test_gaussian_initial_density_is_the_coarse_grained_marginal_of_a_gaussian_field():
    """Closed form: û_λ(t0) ~ N(0, C̃²G + Σ̃) is a circulant Gaussian in real space; excluded modes drop out."""
    small = Grid((8,))
    power = torch.linspace(0.5, 2.0, 5, dtype=torch.float64).unsqueeze(0)
    frame = torch.randn(3, 1, 1, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    lam = torch.tensor([0.01, 0.2, 0.7], dtype=torch.float64)  # above Δλ = 1e-3: no floor
    marginal = SCHEME.transition(small, 0.0, lam, 3)
    spectrum = (marginal.damping**2 * power + marginal.variance)[:, 0, 0]  # [B, rfft]
    full = torch.cat([spectrum, spectrum[:, 1:-1].flip(-1)], -1)  # the full spectrum of a real field
    index = torch.arange(8, dtype=torch.float64)
    phases = torch.cos(2 * math.pi * index[:, None, None] * (index[:, None] - index[None, :]) / 8)  # [mode, x, y]
    covariance = (full[:, :, None, None] * phases).sum(1) / 8
    dense = torch.distributions.MultivariateNormal(torch.zeros(8, dtype=torch.float64), covariance).log_prob(frame[:, 0, 0])
    torch.testing.assert_close(GaussianInitial(power).log_density(frame, lam, SCHEME, small), dense, rtol=1e-10, atol=1e-10)
    excluded = Carosso(alpha=0.1, beta=2**0.5, zero_mode="exclude")
    shifted = GaussianInitial(power).log_density(frame + 3.0, lam, excluded, small)
    torch.testing.assert_close(shifted, GaussianInitial(power).log_density(frame, lam, excluded, small), rtol=1e-12, atol=1e-12)
    # With the data's mean field ū: N(C_λ ū, the circulant covariance of G - |μ|²) (power = G, the raw second moments).
    mean = (0.3 * torch.cos(2 * math.pi * index / 8) - 0.2 * torch.sin(2 * math.pi * 3 * index / 8) + 0.1).reshape(1, 8)
    centred = (power - torch.fft.rfft(mean, norm="ortho").abs().square())
    spectrum = (marginal.damping**2 * centred + marginal.variance)[:, 0, 0]
    full = torch.cat([spectrum, spectrum[:, 1:-1].flip(-1)], -1)
    covariance = (full[:, :, None, None] * phases).sum(1) / 8
    coarse_mean = SCHEME.coarse_grain(mean.reshape(1, 1, 1, 8).expand(3, -1, -1, -1), small, lam)[:, 0, 0]
    dense = torch.distributions.MultivariateNormal(coarse_mean, covariance).log_prob(frame[:, 0, 0])
    torch.testing.assert_close(GaussianInitial(power, mean=mean).log_density(frame, lam, SCHEME, small), dense, rtol=1e-10, atol=1e-10)
    # A mode without power at λ = 0 keeps the A.7 floor Σ̃_Δλ as its variance, so the density stays finite.
    silent = GaussianInitial(torch.zeros(1, 5, dtype=torch.float64), delta_lambda=0.01)
    floor = SCHEME.transition(small, 0.0, 0.01, 1).variance[0, 0, 0]
    torch.testing.assert_close(silent.variance(SCHEME, small, torch.zeros(1, dtype=torch.float64))[0][0, 0, 0], floor, rtol=1e-12, atol=0)
    assert math.isfinite(float(silent.log_density(frame[:1], torch.zeros(1, dtype=torch.float64), SCHEME, small)))


def test_without_an_initial_density_or_a_t0_rule_the_first_frame_blows_up(start):
    try:
        ratios = frame_variance_ratios(generate("per-mode", start, boundary=None))
    except PDDError:  # the NaN guard of sample(): the same divergence
        return
    growth = ratios[:, noise_dominated()].max(1).values  # per frame
    assert float(growth[0]) > 1e3 and float(growth[3:].max()) < 1.2, growth  # it starts at t0 and reaches only the next frames


def test_generation_with_the_gaussian_initial_density_reproduces_every_frame(start):
    """Per-mode noise + the exact Gaussian r_λ, no t0 rule: u(t0) gets the exact marginal on every mode."""
    power = K0[..., 0, 0].unsqueeze(0)  # G(k) of the field: its stationary variance per mode
    ratios = frame_variance_ratios(generate("per-mode", start, GaussianInitial(power.clone()), boundary=None))
    # 600 paths: Monte Carlo ~6% per frame and mode; ETD at Δλ = 0.01 ~2%.
    assert float((ratios[0] - 1).abs().max()) < 0.12, ratios[0]
    assert float((ratios[:, noise_dominated()] - 1).abs().max()) < 0.15, ratios
    # Signal-dominated modes of later frames stay narrower (A.7's overconfident transitions, as above).
    assert bool(((ratios[1:, ~noise_dominated()] > 0.55) & (ratios[1:, ~noise_dominated()] < 1.05)).all()), ratios
