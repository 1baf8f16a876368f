"""The learned inverse RG of lattice φ⁴ (RDM 5.23-5.25, Figs. 7-8) and ``pdd rg-flow --learn``.

Ground truth: a free lattice field S = ½ φᵀAφ, A = D + ε²m² (D the periodic graph Laplacian,
ε = L/N), flowed by the M-modified Carosso SDE dφ = -Bφ dt + β dW, B = D/ε² + M², β² = 2/ε²
(RDM 5.20 in site variables), stays Gaussian with covariance

    K_t = e^{-tB} A^{-1} e^{-tB} + β² (2B)^{-1} (1 - e^{-2tB}),

built here from dense N² x N² matrices (no FFT), so E[ε | φ_t] = -Σ_t^{1/2} ∇log p_t = Σ_t^{1/2} K_t^{-1} φ_t.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch

import solvers
from pdd_core.apps.cli.main import main
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice import Jackknife, flow_estimators
from pdd_core.apps.lattice.estimators import FlowPoint
from pdd_core.apps.lattice.inverse_rg import (
    RESIDUAL_MODEL,
    BaseLaw,
    Difference,
    FlowTimes,
    LearnedInverseRG,
    carrier_grid,
    choose_times,
    compare_learned_flow,
    residual_model_config,
)
from pdd_core.apps.lattice.inverse_rg.learned_flow import CARRIER_SHAPE
from pdd_core.apps.lattice.inverse_rg.times import mode_power, signal_to_noise
from pdd_core.apps.lattice.inverse_rg.training import ZERO_MODE_NETWORK, lattice_network
from pdd_core.grid import Grid
from pdd_core.metrics.resampling import Estimate
from pdd_core.spectral import rfft
from pdd_core.training.config import ModelConfig
from pdd_core.training.models import build_model
from schemes import Carosso

N, LENGTH, MASS, M2 = 4, 1.0, 1.0, 4.0
GRID = Grid((N, N), length=LENGTH, symbol="lattice")
SPACING = LENGTH / N
SCHEME = rdm_scheme("carosso", GRID, MASS)


def graph_laplacian(n: int) -> np.ndarray:
    """-Δ of the periodic n x n lattice in site units (4 on the diagonal, -1 per neighbour)."""
    one_d = 2 * np.eye(n) - np.roll(np.eye(n), 1, axis=1) - np.roll(np.eye(n), -1, axis=1)
    return np.kron(one_d, np.eye(n)) + np.kron(np.eye(n), one_d)


def free_covariances(t: float) -> tuple[np.ndarray, np.ndarray]:
    """(K_t, Σ_t) of the flowed free field (module docstring)."""
    laplacian = graph_laplacian(N)
    precision = laplacian + SPACING**2 * M2 * np.eye(N * N)
    rate = laplacian / SPACING**2 + MASS**2 * np.eye(N * N)
    damping = scipy.linalg.expm(-t * rate)
    noise = (2 / SPACING**2) * np.linalg.solve(2 * rate, np.eye(N * N) - damping @ damping)
    return damping @ np.linalg.inv(precision) @ damping + noise, noise


def free_power() -> torch.Tensor:
    """G_p = 1/(ε²(|p̂|² + m²)) per orthonormal rfft mode (RDM 5.13 in the project's normalisation)."""
    p0, p1 = np.meshgrid(np.arange(N), np.arange(N // 2 + 1), indexing="ij")
    p_hat2 = 4 / SPACING**2 * (np.sin(np.pi * p0 / N) ** 2 + np.sin(np.pi * p1 / N) ** 2)
    return torch.from_numpy(1.0 / (SPACING**2 * (p_hat2 + M2)))


# The untrained network only adds zeros; the smallest U-Net keeps the sampling test fast.
SMALL_UNET = ModelConfig("unet", "tiny", {"widths": [4, 8]})
FREE_LAW = BaseLaw(free_power(), zero_mean=0.0, zero_variance=float(free_power()[0, 0]))


def untrained(grid: Grid, network, scheme, law: BaseLaw) -> torch.nn.Module:
    """A residual denoiser whose network is untrained (zero output layer): ε̂ = ε̂_base."""
    return build_model(RESIDUAL_MODEL, grid, 1, preset="tiny", overrides=residual_model_config(network, scheme, law).overrides)


@pytest.mark.parametrize("t", [0.003, 0.05, 0.6])
def test_base_noise_is_sqrt_sigma_times_minus_exact_score_of_flowed_free_field(t):
    model = untrained(GRID, lattice_network(GRID), SCHEME, FREE_LAW)
    fields = torch.randn(5, 1, 1, N, N, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3.0
    with torch.no_grad():
        predicted = model(fields.float(), torch.full((5,), t, dtype=torch.float64)).double()[:, 0].reshape(5, -1).numpy()
    covariance, noise = free_covariances(t)
    expected = (scipy.linalg.sqrtm(noise).real @ np.linalg.solve(covariance, fields.reshape(5, -1).numpy().T)).T
    np.testing.assert_allclose(predicted, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())


def test_base_noise_of_the_zero_mode_pair_is_the_mixture_score():
    law = BaseLaw(torch.zeros(CARRIER_SHAPE[0], CARRIER_SHAPE[1] // 2 + 1, dtype=torch.float64), zero_mean=3.0, zero_variance=0.5)
    carrier = carrier_grid(GRID)
    scheme = Carosso(alpha=0.0, beta=2.0, mass=MASS)
    model = untrained(carrier, ZERO_MODE_NETWORK, scheme, law)
    t, z = 0.3, torch.tensor([-4.0, -1.0, 0.2, 2.5])
    fields = (z / 2)[:, None, None, None, None].expand(4, 1, 1, *CARRIER_SHAPE).contiguous()
    with torch.no_grad():
        predicted = rfft(model(fields, torch.full((4,), t, dtype=torch.float64)).double(), 2)[:, 0, 0, 0].real
    damping, variance = math.exp(-MASS**2 * t), 4.0 * (1 - math.exp(-2 * MASS**2 * t)) / 2
    spread = damping**2 * 0.5 + variance

    def log_density(x: np.ndarray) -> np.ndarray:
        return np.logaddexp(-((x - damping * 3.0) ** 2) / (2 * spread), -((x + damping * 3.0) ** 2) / (2 * spread))

    x, h = z.numpy().astype(np.float64), 1e-6
    score = (log_density(x + h) - log_density(x - h)) / (2 * h)
    np.testing.assert_allclose(predicted.numpy(), -math.sqrt(variance) * score, rtol=1e-4, atol=1e-6)


def test_base_law_zero_mode_matches_the_second_and_fourth_moments():
    rng = torch.Generator().manual_seed(4)
    fields = torch.randn(4000, N, N, generator=rng, dtype=torch.float64)
    signs = torch.where(torch.rand(4000, 1, 1, generator=rng, dtype=torch.float64) < 0.5, -1.0, 1.0)
    broken = BaseLaw.of_fields(fields + signs * 0.75, GRID)  # ẑ ~ ½N(±3, 1)
    modes = (fields + signs * 0.75).sum(dim=(-2, -1)) / N
    a, w2 = broken.zero_mean, broken.zero_variance
    assert a**2 + w2 == pytest.approx(float(modes.pow(2).mean()), rel=1e-12)
    assert a**4 + 6 * a**2 * w2 + 3 * w2**2 == pytest.approx(float(modes.pow(4).mean()), rel=1e-9)
    assert a == pytest.approx(3.0, abs=0.1) and w2 == pytest.approx(1.0, abs=0.15)
    # A kurtosis above the pair's reach (3) falls back to the Gaussian a = 0, w² = ⟨ẑ²⟩.
    heavy = fields * torch.where(torch.rand(4000, 1, 1, generator=rng, dtype=torch.float64) < 0.2, 3.0, 1.0)
    gaussian = BaseLaw.of_fields(heavy, GRID)
    assert gaussian.zero_mean == 0.0 and gaussian.zero_variance == pytest.approx(float((heavy.sum(dim=(-2, -1)) / N).pow(2).mean()), rel=1e-12)
    # The law survives the config round trip of the residual model.
    rebuilt = untrained(GRID, SMALL_UNET, SCHEME, broken).law
    assert (rebuilt.zero_mean, rebuilt.zero_variance) == (broken.zero_mean, broken.zero_variance) and torch.equal(rebuilt.power, broken.power)


def test_untrained_model_samples_the_flowed_free_field_spectrum():
    carrier = carrier_grid(GRID)
    carrier_law = BaseLaw(torch.zeros(2, 2, dtype=torch.float64), zero_mean=0.0, zero_variance=FREE_LAW.zero_variance)
    zero_scheme = Carosso(alpha=0.0, beta=SCHEME.beta, mass=MASS)
    model = LearnedInverseRG(
        lattice_network=untrained(GRID, SMALL_UNET, SCHEME, FREE_LAW),
        zero_mode_network=untrained(carrier, ZERO_MODE_NETWORK, zero_scheme, carrier_law),
        grid=GRID, scheme=SCHEME, scale=1.0, zero_mode_scale=1.0, times=FlowTimes(t_split=0.1, t_max=4.0),
    )  # fmt: skip
    n, ts = 300, [0.0, 0.02, 0.1, 1.0, 6.0]
    flow = model.sample_flow(n, ts, solvers.ETDPredictor(), torch.Generator().manual_seed(3), zero_mode_steps=40)
    # κ_max t_split / 0.2 = 129 * 0.1 / 0.2 uniform steps, one more for the stop at t = 0.02.
    assert flow.score_evaluations == {"lattice": 66, "zero_mode": 40}
    kappa = SCHEME.rate(GRID, 0.0)[0, 0, 0].double()
    for t in ts:
        power = mode_power(torch.from_numpy(flow.samples[t]), GRID)
        expected = torch.exp(-2 * kappa * t) * FREE_LAW.power + SCHEME.marginal(GRID, t, 1).variance[0, 0, 0]
        # |φ̂|² of a complex (real) Gaussian mode has relative spread 1 (sqrt 2); ETD adds <= 1.6 % at κΔt = 0.2.
        spread = torch.where(GRID.mode_multiplicity() == 2, 1.0, math.sqrt(2.0)) / math.sqrt(n)
        deviation = (power / expected - 1) / spread
        assert deviation.abs().max() < 4.5, (t, deviation)
        assert abs(float((power / expected).mean()) - 1) < 0.05, t


def test_choose_times_meets_both_tolerances():
    fields = torch.randn(400, N, N, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 5.0
    times = choose_times(fields.numpy(), GRID, SCHEME, prior_tolerance=0.05, split_tolerance=0.02)
    power = mode_power(fields, GRID)
    ratios = signal_to_noise(power, GRID, SCHEME, times.t_split)
    ratios[0, 0] = 0.0
    assert ratios.max() <= 0.02 < signal_to_noise(power, GRID, SCHEME, 0.99 * times.t_split)[1:].max()
    assert signal_to_noise(power, GRID, SCHEME, times.t_max).max() <= 0.05 < signal_to_noise(power, GRID, SCHEME, 0.99 * times.t_max).max()


def test_difference_and_comparison_of_identical_flows():
    entry = Difference.of(Estimate(1.1, 0.03), Estimate(1.0, 0.04))
    assert entry.sigmas == pytest.approx(2.0) and entry.relative == pytest.approx(0.1)
    fields = {t: np.random.default_rng(0).normal(size=(64, N, N)) * (1 + t) for t in (0.0, 0.1)}
    points = flow_estimators(fields, GRID, MASS, Jackknife(8))
    comparison = compare_learned_flow(points, points)
    assert comparison["summary"]["all"]["max_abs_sigma"] == 0.0 and comparison["summary"]["all"]["median_abs_relative"] == 0.0
    assert comparison["summary"]["Z"]["count"] == 2
    with pytest.raises(Exception, match="shares no flow time"):
        compare_learned_flow(points, [FlowPoint(t=5.0, cutoff=points[0].cutoff, estimates=points[0].estimates)])


def test_rg_flow_learn_command_writes_json_and_plots(tmp_path, capsys):
    out = tmp_path / "learned"
    settings = ["--set", "N=4", "thermalisation_trajectories=20", "--n-samples", "32", "--chains", "4", "--blocks", "4"]
    learn = ["--learn", "--train-steps", "3", "--zero-mode-train-steps", "3", "--n-learned", "8", "--zero-mode-sampler-steps", "5", "--stiffness", "1"]
    study = ["--hmc-study", "--hmc-trajectories", "12"]
    code = main(["rg-flow", "phi4", *learn, *study, *settings, "--ts", "0", "0.5", "--seed", "1", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "median |Δ|" in printed and "effective samples warm/plain" in printed
    record = json.loads((out / "learned_flow.json").read_text())
    assert record["n_learned"] == 8 and record["ts"] == [0.0, 0.5] and record["scheme"]["mass"] == 1.0
    assert 0 < record["times"]["t_split"] < 0.5 < record["times"]["t_max"]
    assert record["training"]["lattice_steps"] == 3 and record["sampling"]["score_evaluations_per_sample"]["zero_mode"] == 5
    assert [point["t"] for point in record["comparison"]["points"]] == [0.0, 0.5]
    assert set(record["comparison"]["summary"]) >= {"m_R", "Z", "lambda_R", "max_abs_phi", "all"}
    for name in ("learned_flow.png", "learned_fields.png", "learned_difference.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "model" / "inverse_rg.json").is_file() and not list(out.glob(".*.tmp"))
    warm = record["hmc_warm_start"]
    # 8 chains from the learned samples; plain HMC runs 20 thermalisation + 12 trajectories, rounded up to
    # whole frames of 5 (35), and discards all but the last 12.
    assert warm["warm"]["n_chains"] == warm["plain"]["n_chains"] == 8 and warm["plain"]["discarded_steps"] == 23
    assert warm["plain"]["measured_steps"] == 12 and warm["generation_seconds"] == record["sampling"]["seconds"] > 0
    assert set(warm["ratios"]) == {"abs_magnetisation", "action"} and warm["training_seconds_not_charged"] == record["training"]["seconds"]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--learn", "--compare"], "--learn"),
        (["--learn", "--scheme", "polchinski"], "--learn"),
        (["--learn", "--train-steps", "0"], "--train-steps"),
        (["--learn", "--n-learned", "1"], "--n-learned"),
        (["--learn", "--stiffness", "0"], "--stiffness"),
        (["--learn", "--hmc-trajectories", "5"], "--hmc-trajectories"),
        (["--learn", "--hmc-study", "--ts", "0.1", "1"], "--ts"),
    ],
)
def test_rg_flow_learn_rejects_bad_arguments_with_one_line(tmp_path, capsys, arguments, fragment):
    assert main(["rg-flow", "phi4", *arguments, "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pdd rg-flow: error:") and fragment in lines[0]
