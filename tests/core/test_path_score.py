"""PathScore: autograd of the Euler-Maruyama path density equals its closed form."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pdd_core import Grid, ShapeError, Trajectory, irfft, rfft
from pdd_core.drifts.linear import LinearDrift
from pdd_core.drifts.windows import drift_on_path, history_windows
from pdd_core.score import NoisePredictionScore, PathScore, log_density, path_log_density
from schemes import Carosso


def _random_linear_drift(grid, window, generator, nodes=3):
    coefficients = 0.5 * torch.randn(nodes, grid.channels, window, *grid.rfft_shape, generator=generator, dtype=torch.float64)
    return LinearDrift(grid, window, torch.linspace(0, 1, nodes), coefficients)


def _closed_form_score(u, lam, drift, scheme, grid, dt):
    """ŝ_m = -(1/σ²Δt) [r̂_{m-1} - r̂_m - Δt Σ_w a_w r̂_{m+W-1-w}] per mode (real symmetric a_w)."""
    sigma2 = scheme.sigma(grid, lam, dt) ** 2
    modes = rfft(u, grid.ndim)  # [B, T, C, *rfft]
    coefficients = drift.coefficients_at(lam)  # [B, C, W, *rfft]
    batch, frames = u.shape[:2]
    window = drift.window
    residual = []
    for n in range(frames - 1):
        drift_hat = sum(coefficients[:, :, w] * modes[:, n - window + 1 + w] for w in range(window) if n - window + 1 + w >= 0)
        residual.append(modes[:, n + 1] - modes[:, n] - dt * drift_hat)
    score = torch.zeros_like(modes)
    for m in range(frames):
        total = torch.zeros_like(modes[:, 0])
        if m >= 1:
            total = total + residual[m - 1]
        if m <= frames - 2:
            total = total - residual[m]
        for w in range(window):
            n = m + window - 1 - w
            if n <= frames - 2:
                total = total - dt * coefficients[:, :, w] * residual[n]
        score[:, m] = -total / (sigma2 * dt).reshape(-1, *([1] * (total.ndim - 1)))
    return irfft(score, grid.shape)


@given(
    st.lists(st.integers(3, 6), min_size=1, max_size=2),
    st.integers(1, 2),
    st.integers(2, 6),
    st.integers(1, 4),
    st.floats(0.0, 1.0),
    st.floats(0.01, 0.5),
)
def test_path_score_equals_closed_form_for_linear_drift(shape, channels, frames, window, lam, dt):
    grid = Grid(tuple(shape), channels=channels)
    generator = torch.Generator().manual_seed(0)
    drift = _random_linear_drift(grid, window, generator)
    scheme = Carosso(alpha=0.2, beta=1.0)
    u = torch.randn(2, frames, channels, *shape, generator=generator, dtype=torch.float64)
    lam_t = torch.tensor([lam, 1.0 - lam], dtype=torch.float64)
    score = PathScore(drift, scheme, grid, dt)(u, lam_t)
    expected = _closed_form_score(u, lam_t, drift, scheme, grid, dt)
    torch.testing.assert_close(score, expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())


def test_path_score_matches_finite_differences():
    grid = Grid((8,), channels=2)
    generator = torch.Generator().manual_seed(1)
    drift = _random_linear_drift(grid, 3, generator)
    scheme = Carosso(alpha=0.1, beta=2**0.5)
    u = torch.randn(2, 5, 2, 8, generator=generator, dtype=torch.float64)
    lam = torch.tensor([0.3, 0.7], dtype=torch.float64)
    score = PathScore(drift, scheme, grid, 0.05)(u, lam)
    direction = torch.randn(u.shape, generator=generator, dtype=torch.float64)
    h = 1e-5
    with torch.no_grad():
        difference = (log_density(u + h * direction, lam, drift, scheme, grid, 0.05) - log_density(u - h * direction, lam, drift, scheme, grid, 0.05)).sum() / (2 * h)
    assert difference.item() == pytest.approx((score * direction).sum().item(), rel=1e-7)


def test_log_density_is_the_gaussian_em_transition_density():
    """With f = 0 and one mode the density is a product of N(u_n, σ²Δt) transitions (Eq. 27)."""
    grid = Grid((4,))
    drift = LinearDrift(grid, 1)
    scheme = Carosso(alpha=0.5, beta=1.0)
    u = torch.randn(1, 3, 1, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    dt, lam = 0.1, torch.tensor([0.4], dtype=torch.float64)
    sigma = scheme.sigma(grid, lam, dt)
    normal = torch.distributions.Normal(u[:, :-1], (sigma * math.sqrt(dt)).item())
    torch.testing.assert_close(log_density(u, lam, drift, scheme, grid, dt), normal.log_prob(u[:, 1:]).sum().reshape(1))
    assert path_log_density(Trajectory(u, grid, dt, lam), drift, scheme) == log_density(u, lam, drift, scheme, grid, dt)


def test_path_score_keeps_no_graph_and_no_parameter_gradients():
    grid = Grid((8,))
    drift = _random_linear_drift(grid, 2, torch.Generator().manual_seed(3))
    score = PathScore(drift, Carosso(), grid, 0.05)
    u = torch.randn(2, 4, 1, 8, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        result = score(u, torch.tensor([0.2, 0.5], dtype=torch.float64))
    assert not result.requires_grad and result.grad_fn is None
    assert drift.coefficients.grad is None and u.grad is None


def test_windows_are_zero_padded_and_ordered_oldest_first():
    u = torch.arange(1.0, 5.0).reshape(1, 4, 1, 1).expand(1, 4, 1, 2)
    windows = history_windows(u, 3)
    assert windows.shape == (1, 4, 3, 1, 2)
    assert windows[0, 0, :, 0, 0].tolist() == [0.0, 0.0, 1.0]
    assert windows[0, 3, :, 0, 0].tolist() == [2.0, 3.0, 4.0]


def test_drift_on_path_is_one_batched_call():
    calls = []

    class CountingDrift:
        window = 2

        def __call__(self, history, lam):
            calls.append(history.shape)
            return history[:, -1]

    u = torch.randn(3, 6, 1, 8)
    out = drift_on_path(CountingDrift(), u, torch.zeros(3, dtype=torch.float64))
    assert len(calls) == 1 and calls[0] == (15, 2, 1, 8)
    torch.testing.assert_close(out, u[:, :-1])
    with pytest.raises(ShapeError, match="T >= 2"):
        drift_on_path(CountingDrift(), u[:, :1], torch.zeros(3, dtype=torch.float64))


def test_noise_prediction_score_with_the_true_noise_is_the_transition_score():
    grid = Grid((8, 8))
    scheme = Carosso(alpha=0.3, beta=6**0.5)
    generator = torch.Generator().manual_seed(4)
    u0 = torch.randn(2, 3, 1, 8, 8, generator=generator, dtype=torch.float64)
    lam = torch.tensor([0.2, 0.9], dtype=torch.float64)
    u_lam, noise = scheme.forward_sample(u0, grid, lam, generator, return_noise=True)
    oracle = NoisePredictionScore(lambda history, lam_: noise.reshape(6, 1, 8, 8), scheme, grid, window=1)
    # The oracle's ε includes the k = 0 component that the excluded mode never used.
    expected = scheme.transition_score(u_lam, u0, grid, lam)
    torch.testing.assert_close(oracle(u_lam, lam), expected)
