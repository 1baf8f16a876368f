"""RDM 5.51: the Λ_t-modified Carosso SDE in position space, against its moment equations and against 5.50."""

import json
import math

import numpy as np
import pytest
import scipy.integrate
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice import effective_cutoff, flow_samples
from pdd_core.apps.lattice.dilated_carosso import DilatedCarosso
from pdd_core.apps.lattice.lattice_operators import dilatation_generator, lattice_laplacian
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft

# Λ0² = 8/ε² (Λ0 = 2 sqrt(2) N/L), so for M = 1 the dilatation sets in at t = 1/(Λ0² + M²): 0.219 on GRID4 (ε = 1.5),
# 1/9 on GRID3 (ε = 1).
GRID4 = Grid((4, 4), length=6.0, symbol="lattice")
GRID3 = Grid((3, 3), length=3.0, symbol="lattice")


def dilatation_rate(t: float, grid: Grid, mass: float) -> float:
    """-∂t log Λ_t of RDM 7.3: 0 while Λ_t = Λ0, then 1/(2t(1 - M²t)) (checked against a finite difference)."""
    onset = 1.0 / (effective_cutoff(0.0, mass, grid).cutoff0 ** 2 + mass**2)
    return 0.0 if t <= onset else 1.0 / (2.0 * t * (1.0 - mass**2 * t))


def moment_reference(process: DilatedCarosso, grid: Grid, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Φ and Q of 5.51 by integrating ∂Φ = AΦ, ∂Q = AQ + QAᵀ + β² with an adaptive Runge-Kutta method (DOP853), split at the onset."""
    sites = math.prod(grid.shape)
    static, generator = lattice_laplacian(grid) + (process.growth - process.mass**2) * np.eye(sites), dilatation_generator(grid)

    def derivative(t, state):
        drift = static + dilatation_rate(t, grid, process.mass) * generator
        damping, covariance = state[: sites * sites].reshape(sites, sites), state[sites * sites :].reshape(sites, sites)
        change = drift @ covariance + covariance @ drift.T + process.beta**2 * np.eye(sites)
        return np.concatenate([(drift @ damping).ravel(), change.ravel()])

    onset = 1.0 / (effective_cutoff(0.0, process.mass, grid).cutoff0 ** 2 + process.mass**2)
    state = np.concatenate([np.eye(sites).ravel(), np.zeros(sites * sites)])
    for a, b in ((start, min(end, onset)), (max(start, onset), end)):
        if b > a:
            state = scipy.integrate.solve_ivp(derivative, (a, b), state, method="DOP853", rtol=1e-11, atol=1e-12).y[:, -1]
    return state[: sites * sites].reshape(sites, sites), state[sites * sites :].reshape(sites, sites)


def test_the_dilatation_rate_is_minus_the_derivative_of_log_lambda_t():
    for t in (0.25, 0.5, 0.8):
        step = 1e-6
        difference = (math.log(effective_cutoff(t - step, 1.0, GRID4).cutoff) - math.log(effective_cutoff(t + step, 1.0, GRID4).cutoff)) / (2 * step)
        assert dilatation_rate(t, GRID4, 1.0) == pytest.approx(difference, rel=1e-6)
    assert dilatation_rate(0.2, GRID3, 1.0) > 0.0 and dilatation_rate(0.2, GRID4, 1.0) == 0.0


def test_the_dilatation_is_x_dot_gradient_by_upwind_forward_differences_with_the_seam_at_the_far_edge():
    """x·Dφ = Σ x_i ∂_iφ (second order at the midpoint x + ε/2 of each forward difference), x from the corner site 0;
    off-diagonals n_i >= 0 (upwind for 5.51's sign), constants fixed, and the seam row reads site 0 with weight N - 1."""
    grid = Grid((32, 32), length=1.0, symbol="lattice")
    spacing = grid.spacing[0]
    x = np.arange(32) * spacing
    x1, x2 = np.meshgrid(x, x, indexing="ij")
    field = np.sin(2 * np.pi * x1) + np.cos(2 * np.pi * x2)
    generator = dilatation_generator(grid)
    expected = x1 * 2 * np.pi * np.cos(2 * np.pi * (x1 + spacing / 2)) - x2 * 2 * np.pi * np.sin(2 * np.pi * (x2 + spacing / 2))
    applied = (generator @ field.ravel()).reshape(32, 32)
    interior = (slice(0, 31), slice(0, 31))  # off the seam
    np.testing.assert_allclose(applied[interior], expected[interior], atol=0.02)
    off_diagonal = generator - np.diag(np.diag(generator))
    assert off_diagonal.min() == 0.0 and np.abs(generator.sum(axis=1)).max() == 0.0
    assert generator[31 * 32 + 5, 0 * 32 + 5] == 31.0  # site (31, 5) reads its periodic neighbour (0, 5)


def test_before_the_cutoff_moves_the_transition_is_exactly_the_kernel_of_5_50():
    """Λ_t = Λ0 for t <= 0.219 here, so ∂t log Λ_t = 0 and 5.51 is 5.50: Φ and Q are its per-mode C̃ and Σ̃ in position space."""
    process, rescaled = rdm_scheme("carosso-dilated", GRID4, 1.0), rdm_scheme("carosso-rescaled", GRID4, 1.0)
    assert isinstance(process, DilatedCarosso) and process.rdm_kernel == "5.51" and process.growth == 1.0
    damping, covariance = process.transition_moments(GRID4, 0.02, 0.2)
    step = rescaled.transition(GRID4, 0.02, 0.2, batch=1)
    basis = torch.eye(16, dtype=torch.float64).reshape(16, 1, 1, 4, 4)
    columns = irfft(rfft(basis, 2) * step.damping, GRID4.shape).reshape(16, 16).T
    spread = irfft(rfft(basis, 2) * step.variance, GRID4.shape).reshape(16, 16).T
    np.testing.assert_allclose(damping, columns.numpy(), atol=1e-12)
    np.testing.assert_allclose(covariance, spread.numpy(), rtol=1e-10, atol=1e-10)


def test_across_the_onset_the_transition_solves_the_moment_equations():
    process = rdm_scheme("carosso-dilated", GRID4, 1.0)
    damping, covariance = process.transition_moments(GRID4, 0.05, 0.7)
    reference_damping, reference_covariance = moment_reference(process, GRID4, 0.05, 0.7)
    np.testing.assert_allclose(damping, reference_damping, atol=2e-4 * np.abs(reference_damping).max())
    np.testing.assert_allclose(covariance, reference_covariance, atol=2e-4 * np.abs(reference_covariance).max())
    assert np.abs(damping - np.eye(16)).max() > 0.1 and not np.allclose(damping, damping.T, atol=1e-3)  # the dilatation is not symmetric


def test_sampled_flow_paths_have_the_mean_and_covariance_of_the_linear_sde():
    """20 000 paths of one start through t = 0.05, 0.3, 0.6 against Φ φ_0 and Q of the moment equations, within 5σ."""
    process = rdm_scheme("carosso-dilated", GRID3, 1.0)
    start = np.random.default_rng(0).normal(size=(3, 3)) * 2.0
    paths = flow_samples(np.broadcast_to(start, (20000, 3, 3)).copy(), process, GRID3, [0.0, 0.05, 0.3, 0.6], torch.Generator().manual_seed(1))
    damping, covariance = moment_reference(process, GRID3, 0.0, 0.6)
    flat = paths[0.6].reshape(20000, 9)
    mean, centred = damping @ start.ravel(), flat - damping @ start.ravel()
    mean_sigma = (flat.mean(axis=0) - mean) / np.sqrt(np.diag(covariance) / 20000)
    products = centred[:, :, None] * centred[:, None, :]
    error = np.sqrt((np.outer(np.diag(covariance), np.diag(covariance)) + covariance**2) / 20000)
    covariance_sigma = (products.mean(axis=0) - covariance) / error
    assert np.abs(mean_sigma).max() < 5 and np.abs(covariance_sigma).max() < 5, (np.abs(mean_sigma).max(), np.abs(covariance_sigma).max())


def test_pdd_rg_flow_flows_with_5_51_and_refuses_what_it_cannot_flow(tmp_path, capsys):
    theory = ["--set", "N=4", "m2=0.5", "lam=0.5", "thermalisation_trajectories=10", "--n-samples", "16", "--chains", "2", "--blocks", "4"]
    arguments = ["rg-flow", "phi4", "--scheme", "carosso-rescaled", "carosso-dilated", "--compare", *theory, "--no-progress"]
    assert main([*arguments, "--ts", "0", "0.001", "0.5", "--out", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "flows.json").read_text())
    dilated = record["schemes"]["carosso-dilated"]
    assert dilated["rdm_kernel"] == "5.51" and dilated["config"]["name"] == "carosso-dilated" and dilated["config"]["growth"] == 1.0
    assert record["comparison"]["a_priori_c"] == pytest.approx([1.0, 1.0, 1.0]) and len(record["comparison"]["points"]) == 3
    capsys.readouterr()
    refusals = [
        ([*arguments, "--ts", "0", "0.5", "1"], "--ts=1.0: RDM 5.51 needs ∂t log Λ_t, which diverges at t = 1/M² = 1"),
        ([*arguments, "--ts", "0", "0.1", "--set", "N=40"], "--set N=40: the position-space flow of RDM 5.51 keeps dense 1600 x 1600 matrices"),
        (["rg-flow", "phi4", "--flow", "rdm", "--scheme", "carosso-dilated"], "the flows are trained on the Carosso flow alone"),
    ]
    for command, fragment in refusals:
        assert main([*command, "--out", str(tmp_path / "bad")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], lines
        assert not (tmp_path / "bad").exists()  # refused before any HMC sampling, which runs in the locked directory
