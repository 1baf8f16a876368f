"""Inference with trained runs: the rollout driver (window, σ = 0 special case, no graphs), simulation,
generation and super-resolution of every objective, the conditional baseline of PDD B.4 against the
exact statistics of Gaussian increments, and the output files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import attrs
import h5py
import numpy as np
import pytest
import torch

import schemes  # noqa: F401  (registers the schemes the run configs name)
from pdd_core.apps.cli.choices import SCORE_KINDS, choose
from pdd_core.apps.datasets import PathDataset
from pdd_core.apps.inference.file_io import COMMAND_ATTRIBUTE, read_paths, write_inference_file
from pdd_core.apps.inference.runs import NOISE_HEAD, PATH_SCORE, load_run, run_boundary, run_marginal, run_score
from pdd_core.apps.inference.tasks import generate_run, simulate_run, super_resolve_run
from pdd_core.apps.trainer import train
from pdd_core.baseline_rollout import ConditionalIncrementScore
from pdd_core.data import write_dataset_file
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.drifts.linear import LinearDrift
from pdd_core.errors import ArgumentError, ConfigError, DataError, PDDError, ShapeError
from pdd_core.grid import Grid
from pdd_core.rollout import rollout
from pdd_core.sampling import extrapolate_t0, no_boundary
from pdd_core.schedules import power_schedule, uniform_schedule
from pdd_core.score import DenoisingScore, PathScore, SAPDDScore
from pdd_core.spectral import irfft, rfft
from pdd_core.training import ConditionalDenoisingObjectiveConfig, DenoisingObjectiveConfig, ModelConfig, PDDObjectiveConfig, SAPDDObjectiveConfig, TrainConfig
from schemes import Carosso, VariancePreserving
from solvers import (
    ETDPredictor,
    Euler,
    EulerMaruyama,
    ExponentialMultistep,
    GaussianExponential,
    GaussianLangevin,
    PredictorCorrector,
    ReverseEulerMaruyama,
    conditional_rollout,
)

GRID = Grid((16,), channels=2)
DT = 0.1
# Physical units far from standard ones, so a missing or doubled standardisation shows.
DATA_MEAN, DATA_STD = 5.0, 2.0


def write_tiny_data(path: Path, seed: int = 0) -> Path:
    """A dataset file of smooth random walks, [N, 6, 2, 16], in physical units."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(15, 6, GRID.channels, *GRID.shape))
    paths = DATA_MEAN + DATA_STD * np.cumsum(steps, axis=1) / 2
    write_dataset_file(path, {"train": paths[:8], "valid": paths[8:11], "test": paths[11:]}, system="toy-walks", config={"kind": "test"}, dt=DT, grid=GRID)
    return path


def tiny_configs(data: Path) -> dict[str, TrainConfig]:
    """One tiny config per objective (seconds of CPU training)."""
    common = {"data": str(data), "batch_size": 4, "window": 3, "device": "cpu", "checkpoint_every": 100}
    fno = ModelConfig(name="fno", preset="tiny")
    variance_preserving = {"name": "variance-preserving", "gamma": 3.0}
    return {
        # The paper's scalar noise model (Eq. 9), so the t0 rule of B.6 and Eq. 58's score are exercised. A barely trained
        # drift (3 steps at lr 1e-3): at 1e-2 its λ = 0.2 rollouts diverge within the climate closure's 1000-step calibration.
        "pdd": TrainConfig(model=ModelConfig(name="linear", overrides={"lam_nodes": 3}), scheme=Carosso(), objective=PDDObjectiveConfig(noise_model="scalar"), steps=3, lr=1e-3, dtype="float64", **common),
        "sa-pdd": TrainConfig(model=fno, scheme=Carosso(), objective=SAPDDObjectiveConfig(), steps=2, **common),
        "denoising": TrainConfig(model=fno, objective=DenoisingObjectiveConfig(), scheme=variance_preserving, steps=2, **common),
        "conditional-denoising": TrainConfig(model=fno, objective=ConditionalDenoisingObjectiveConfig(), scheme=variance_preserving, steps=2, **common),
    }


def train_tiny_runs(directory: Path) -> tuple[Path, dict[str, Path]]:
    """The data file and one trained run directory per objective."""
    data = write_tiny_data(directory / "walks.h5")
    runs = {}
    for objective, config in tiny_configs(data).items():
        runs[objective] = directory / f"run_{objective}"
        train(config, runs[objective], progress=False)
    return data, runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_runs(tmp_path_factory.mktemp("inference"))


def initial_data(data: Path, count: int = 3, frames: int = 1) -> torch.Tensor:
    return torch.stack([PathDataset(data, "test")[i][:frames] for i in range(count)]).double()


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- the rollout driver -----------------------------------------------------------------


def random_linear_drift(window: int = 3, seed: int = 0) -> LinearDrift:
    generator = seeded(seed)
    coefficients = -0.5 * torch.rand(1, GRID.channels, window, *GRID.rfft_shape, generator=generator, dtype=torch.float64)
    return LinearDrift(GRID, window=window, coefficients=coefficients)


def test_euler_maruyama_with_zero_sigma_is_euler_and_noise_is_seeded():
    drift = random_linear_drift()
    initial = torch.randn(4, 2, *GRID.shape, generator=seeded(1), dtype=torch.float64)
    euler = rollout(drift, Euler(), initial, 0.0, DT, 30, grid=GRID)
    maruyama = rollout(drift, EulerMaruyama(), initial, 0.0, DT, 30, grid=GRID, sigma=0.0, generator=seeded(5))
    assert torch.equal(euler.u, maruyama.u) and euler.u.shape == (4, 31, 2, 16)
    noisy = [rollout(drift, EulerMaruyama(), initial, 0.0, DT, 30, grid=GRID, sigma=0.3, generator=seeded(seed)).u for seed in (7, 7, 8)]
    assert torch.equal(noisy[0], noisy[1]) and not torch.equal(noisy[0], noisy[2]) and not torch.equal(noisy[0], euler.u)


class ZeroDrift:
    """f = 0 with a one-frame window: every increment is the integrator's noise alone."""

    window = 1

    def __call__(self, history, lam):
        return torch.zeros_like(history[:, -1])


def test_euler_maruyama_noise_has_size_sigma_sqrt_dt():
    """With a zero drift every increment is σ √Δt ξ (a σ Δt noise would be 5x too small here)."""

    dt, sigma = 0.04, 0.5
    path = rollout(ZeroDrift(), EulerMaruyama(), torch.zeros(64, 1, 2, 16, dtype=torch.float64), 0.0, dt, 50, grid=GRID, sigma=sigma, generator=seeded(4))
    increments = path.u[:, 1:] - path.u[:, :-1]
    assert float(increments.std()) == pytest.approx(sigma * dt**0.5, rel=0.03)


def test_rollout_carries_the_window_through_a_lag_two_recursion():
    """f = a u_{n-2} + b u_n (constant symbols are multiples of the identity): u_{n+1} = u_n + Δt (a u_{n-2} + b u_n)."""
    a, b = -0.7, 0.3
    coefficients = torch.zeros(1, GRID.channels, 3, *GRID.rfft_shape, dtype=torch.float64)
    coefficients[:, :, 0], coefficients[:, :, 2] = a, b
    drift = LinearDrift(GRID, window=3, coefficients=coefficients)
    history = torch.randn(2, 2, 2, *GRID.shape, generator=seeded(2), dtype=torch.float64)  # two initial frames
    with torch.no_grad():  # the driver leaves autograd to its caller
        path = rollout(drift, Euler(), history, 0.0, DT, 12, grid=GRID)
    states = [np.zeros((2, 2, 16)), history[:, 0].numpy(), history[:, 1].numpy()]  # zero padding before t0 (B.2)
    for _ in range(12):
        states.append(states[-1] + DT * (a * states[-3] + b * states[-1]))
    expected = np.stack(states[1:], axis=1)
    np.testing.assert_allclose(path.u.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_long_rollout_keeps_only_saved_frames_and_builds_no_graph():
    drift = random_linear_drift()
    initial = torch.randn(2, 2, *GRID.shape, generator=seeded(3), dtype=torch.float64)
    with torch.no_grad():  # the driver leaves autograd to its caller (tests/core/test_driver_shape.py)
        path = rollout(drift, EulerMaruyama(), initial, 0.0, DT, 3000, grid=GRID, sigma=0.1, generator=seeded(0), save_every=500)
    assert path.u.shape == (2, 7, 2, 16) and path.dt == pytest.approx(50.0)
    assert not path.u.requires_grad and path.u.grad_fn is None and drift.coefficients.grad is None


# -- loading runs and choosing scores --------------------------------------------------------


def test_load_run_rebuilds_model_scheme_and_statistics(trained):
    data, runs = trained
    run = load_run(runs["pdd"])
    assert run.grid == GRID and run.dt == DT and run.objective.name == "pdd" and run.dtype == torch.float64
    assert isinstance(run.scheme, Carosso) and run.data_path == data and run.data.system == "toy-walks"
    assert not any(p.requires_grad for p in run.model.parameters()) and not run.model.training
    assert isinstance(load_run(runs["denoising"]).scheme, VariancePreserving)
    with pytest.raises(DataError, match="no such run directory"):
        load_run(data.parent / "missing")
    with pytest.raises(DataError, match="checkpoint"):
        load_run(data.parent)


def test_the_run_keeps_its_data_mean_and_its_marginal_is_taken_about_it(trained):
    """The checkpoint stores ū of the training paths; run_marginal centres G on it; an older checkpoint without it reads the file."""
    data, runs = trained
    run = load_run(runs["pdd"])
    u = read_paths(run, data, split="train", n=8).u  # standardised, as the trainer saw them
    torch.testing.assert_close(run.data_mean, u.to(torch.float64).mean(dim=(0, 1)))
    assert float(run.data_mean.abs().max()) > 0.1  # random walks: a mean to get wrong
    marginal = run_marginal(run, 6)
    torch.testing.assert_close(marginal.mean, run.data_mean)
    centred = (u.to(torch.float64) - run.data_mean).movedim(1, -1)  # [B, C, *space, T]
    u_hat = rfft(centred.movedim(-1, 1), 1).movedim(1, -1)  # [B, C, *rfft, T]
    direct = torch.einsum("b...i,b...j->...ij", u_hat, u_hat.conj()).real / u.shape[0]
    torch.testing.assert_close(torch.diagonal(marginal.covariance, dim1=-2, dim2=-1).mean(-1), torch.diagonal(direct, dim1=-2, dim2=-1).mean(-1))
    older = attrs.evolve(run, data_mean=None)
    torch.testing.assert_close(run_marginal(older, 6).mean, run.data_mean)
    assert run_marginal(attrs.evolve(older, data_path=None), 6).mean is None  # neither stored nor readable: about zero, as trained


def test_scores_follow_the_objective(trained):
    _, runs = trained
    pdd, sa_pdd, denoising, conditional = (load_run(runs[name]) for name in ("pdd", "sa-pdd", "denoising", "conditional-denoising"))
    assert isinstance(run_score(pdd), PathScore) and isinstance(run_score(sa_pdd), SAPDDScore) and isinstance(run_score(denoising), DenoisingScore)
    assert isinstance(run_score(sa_pdd, PATH_SCORE), PathScore)
    with pytest.raises(ArgumentError, match="no noise head"):
        run_score(pdd, NOISE_HEAD)
    with pytest.raises(ArgumentError, match="no drift"):
        run_score(denoising, PATH_SCORE)
    with pytest.raises(ArgumentError, match="increments given clean states"):
        run_score(conditional)
    with pytest.raises(ArgumentError, match="is not a score kind"):
        run_score(pdd, "path")  # names belong to the command line
    with pytest.raises(ConfigError, match="--score='exact': unknown score kind"):
        choose(SCORE_KINDS, "--score", "exact", "score kind")


def test_boundary_rule_defaults_to_extrapolation_for_path_scores_only(trained):
    _, runs = trained
    path_score, noise_score = run_score(load_run(runs["pdd"])), run_score(load_run(runs["sa-pdd"]))
    assert run_boundary(None, path_score, 3) is extrapolate_t0 and run_boundary(None, path_score, 2) is None
    assert run_boundary(None, noise_score, 6) is None and run_boundary(extrapolate_t0, noise_score, 6) is extrapolate_t0
    assert run_boundary(no_boundary, path_score, 6) is None
    with pytest.raises(ShapeError, match="T >= 3"):
        run_boundary(extrapolate_t0, path_score, 2)


# -- simulation ---------------------------------------------------------------------------------


def test_simulation_coarse_grains_the_initial_condition_then_rolls_out(trained):
    data, runs = trained
    run = load_run(runs["pdd"])
    u0 = initial_data(data, 3, frames=2)
    simulated = simulate_run(run, u0, 0.3, 8, integrator=Euler(), batch_size=2)
    reference = rollout(run.model, Euler(), run.scheme.coarse_grain(u0, GRID, 0.3), 0.3, DT, 8, grid=GRID)
    assert simulated.shape == (3, 10, 2, 16)
    torch.testing.assert_close(simulated, reference.u, rtol=0, atol=1e-12)
    sigma = float(run.scheme.sigma(GRID, 0.3, DT)[0])
    noisy = simulate_run(run, u0, 0.3, 8, integrator=EulerMaruyama(), noise=True, generator=seeded(4))
    noisy_reference = rollout(run.model, EulerMaruyama(), u0, 0.3, DT, 8, grid=GRID, sigma=sigma, generator=seeded(4), scheme=run.scheme)
    torch.testing.assert_close(noisy, noisy_reference.u, rtol=0, atol=1e-12)
    assert not torch.equal(noisy, simulated)


def test_simulation_rejects_what_the_run_cannot_do(trained):
    data, runs = trained
    run = load_run(runs["pdd"])
    u0 = initial_data(data)
    with pytest.raises(ArgumentError, match="outside the range"):
        simulate_run(run, u0, 1.5, 2, integrator=Euler())
    with pytest.raises(ArgumentError, match=">= 0"):
        simulate_run(run, u0, -0.1, 2, integrator=Euler())
    with pytest.raises(ArgumentError, match="is deterministic"):
        simulate_run(run, u0, 0.1, 2, integrator=Euler(), noise=True)
    with pytest.raises(ArgumentError, match="time integrator"):
        simulate_run(run, u0, 0.1, 2)
    with pytest.raises(ArgumentError, match="no drift"):
        simulate_run(load_run(runs["denoising"]), u0, 0.0, 2, integrator=Euler())
    with pytest.raises(ShapeError, match="grid of the run"):
        simulate_run(run, torch.zeros(2, 1, 1, 16), 0.0, 2, integrator=Euler())
    conditional = load_run(runs["conditional-denoising"])
    with pytest.raises(ArgumentError, match="coarse-graining hierarchy"):
        simulate_run(conditional, u0, 0.2, 2, sampler=ETDPredictor(), lam_schedule=uniform_schedule(1.0, 0.0, 4), generator=seeded())


def test_conditional_baseline_simulation_of_a_trained_run_is_seeded(trained):
    data, runs = trained
    run = load_run(runs["conditional-denoising"])
    u0 = initial_data(data, 2)
    options = {"sampler": ETDPredictor(), "lam_schedule": uniform_schedule(1.0, 0.1, 10)}  # an untrained denoiser: stop before λ = 0
    first, again, other = (simulate_run(run, u0, 0.0, 3, generator=seeded(seed), **options) for seed in (1, 1, 2))
    assert first.shape == (2, 4, 2, 16) and bool(torch.isfinite(first).all()) and torch.equal(first[:, 0], u0[:, 0].float())
    assert torch.equal(first, again) and not torch.equal(first, other)


class GaussianIncrementOracle:
    """The exact noise prediction for increments δ | context ~ N(a u_n + c u_{n-1}, I) under a VP scheme.

    δ_λ = C δ + sqrt(Σ) ε with C² + Σ = 1, so E[ε | δ_λ] = sqrt(Σ) (δ_λ - C m) and the score
    -Σ^{-1/2} ε̂ = -(δ_λ - C m) is exact: the baseline must sample δ ~ N(m, I) exactly.
    """

    window = 3

    def __init__(self, gamma: float, a: float, c: float):
        self.gamma, self.a, self.c = gamma, a, c

    def __call__(self, window: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        previous, current, noisy = window[:, 0], window[:, 1], window[:, 2]
        lam = lam.to(window.dtype).reshape(-1, 1, 1)
        damping, variance = torch.exp(-self.gamma * lam), -torch.expm1(-2 * self.gamma * lam)
        return variance.sqrt() * (noisy - damping * (self.a * current + self.c * previous))


def test_conditional_baseline_reproduces_the_exact_statistics_of_gaussian_increments():
    """u_{n+1} = u_n + s (a u_n + c u_{n-1} + ξ): means and variances by the exact linear recursion."""
    a, c, scale, steps = -0.5, 0.3, (0.5, 1.0), 4
    scheme = VariancePreserving(gamma=3.0)
    batch = 600
    start = torch.tensor([2.0, -1.0], dtype=torch.float64).reshape(1, 1, 2, 1).expand(batch, 2, 2, 16).clone()  # u_{-1} = u_0
    oracle = GaussianIncrementOracle(3.0, a, c)
    path = conditional_rollout(oracle, scheme, GRID, ETDPredictor(), uniform_schedule(1.0, 0.0, 100), start, DT, steps, increment_scale=scale, generator=seeded(11))
    assert path.u.shape == (batch, 2 + steps, 2, 16) and float(path.lam.max()) == 0.0
    for channel, s in enumerate(scale):
        transition = np.array([[1 + s * a, s * c], [1.0, 0.0]])
        mean, covariance = np.array([start[0, 1, channel, 0].item()] * 2), np.zeros((2, 2))
        for _ in range(steps):
            mean, covariance = transition @ mean, transition @ covariance @ transition.T + np.diag([s**2, 0.0])
        final = path.u[:, -1, channel].flatten()
        standard_error = math.sqrt(covariance[0, 0] / final.numel())
        assert abs(final.mean().item() - mean[0]) < 5 * standard_error + 0.02 * abs(mean[0])
        assert final.var().item() == pytest.approx(covariance[0, 0], rel=0.1)


def test_conditional_increment_score_and_rollout_errors():
    scheme = VariancePreserving(gamma=3.0)
    oracle = GaussianIncrementOracle(3.0, 0.0, 0.0)
    context = torch.zeros(2, 2, 2, 16, dtype=torch.float64)
    score = ConditionalIncrementScore(oracle, context, scheme, GRID)
    delta = torch.randn(2, 1, 2, 16, generator=seeded(), dtype=torch.float64)
    torch.testing.assert_close(score(delta, torch.full((2,), 0.4, dtype=torch.float64)), -delta)  # exact score of N(0, I)
    with pytest.raises(ShapeError, match="one increment per context"):
        score(torch.zeros(2, 3, 2, 16, dtype=torch.float64), 0.4)
    arguments = (scheme, GRID, ETDPredictor(), uniform_schedule(1.0, 0.0, 3), context[:, 0], DT, 2)
    with pytest.raises(ArgumentError, match="one finite scale > 0 per channel"):
        conditional_rollout(oracle, *arguments, increment_scale=(1.0,), generator=seeded())

    class Unconditional:
        window = 1

    with pytest.raises(ArgumentError, match="clean state plus the noisy increment"):
        conditional_rollout(Unconditional(), *arguments, increment_scale=(1.0, 1.0), generator=seeded())


# -- generation and super-resolution ------------------------------------------------------------


@pytest.mark.parametrize("objective, score", [("pdd", None), ("sa-pdd", None), ("sa-pdd", PATH_SCORE), ("denoising", None)])
def test_generation_is_seeded_finite_and_leaves_no_gradients(trained, objective, score):
    _, runs = trained
    run = load_run(runs[objective])
    for parameter in run.model.parameters():  # trainable parameters: the autograd path score must still leave no .grad
        parameter.requires_grad_(True)
    reference = run_marginal(run, 5)  # the default sampler: exponential predictor + per-mode corrector around the data's Gaussian
    sampler = PredictorCorrector(GaussianExponential(reference, gate=1.0), GaussianLangevin(reference, gate=1.0), 1)
    grid = power_schedule(1.0, 0.0, 6)
    first, again, other = (generate_run(run, 3, 5, sampler=sampler, lam_schedule=grid, generator=seeded(seed), score=score, batch_size=2) for seed in (0, 0, 1))
    assert first.shape == (3, 5, 2, 16) and first.dtype == run.dtype and bool(torch.isfinite(first).all())
    assert torch.equal(first, again) and not torch.equal(first, other) and not first.requires_grad and first.grad_fn is None
    assert all(p.grad is None for p in run.model.parameters())
    if isinstance(run_score(run, score), PathScore):  # the t0 rule of B.6 was applied after the last update
        torch.testing.assert_close(first[:, 0], 2 * first[:, 1] - first[:, 2])


def test_super_resolution_starts_from_the_coarse_path(trained):
    data, runs = trained
    run = load_run(runs["pdd"])
    coarse = simulate_run(run, initial_data(data, 2), 0.2, 5, integrator=Euler())
    grid = uniform_schedule(0.2, 0.0, 4)
    refined = super_resolve_run(run, coarse, sampler=ExponentialMultistep(), lam_schedule=grid, generator=seeded(3))
    assert refined.shape == coarse.shape and bool(torch.isfinite(refined).all()) and not torch.equal(refined, coarse)
    # One reverse Euler-Maruyama step by hand (PDD Eq. 11): û' = û + Δ(κû + b² ŝ) + b sqrt(Δ) η̂, from the coarse path at λ_from.
    step = super_resolve_run(run, coarse, sampler=ReverseEulerMaruyama(), lam_schedule=uniform_schedule(0.2, 0.15, 1), generator=seeded(3), boundary=no_boundary)
    score = PathScore(run.model, run.scheme, GRID, DT)(coarse, torch.full((2,), 0.2, dtype=torch.float64))
    noise = torch.randn(coarse.shape, generator=seeded(3), dtype=coarse.dtype)
    rate, diffusion = run.scheme.rate(GRID, 0.2), run.scheme.diffusion(GRID, 0.2)
    expected = irfft(rfft(coarse, 1) * (1 + 0.05 * rate) + 0.05 * diffusion * rfft(score, 1) + (0.05 * diffusion).sqrt() * rfft(noise, 1), GRID.shape)
    torch.testing.assert_close(step, expected, rtol=1e-10, atol=1e-10)
    with pytest.raises(ArgumentError, match="outside the range"):
        super_resolve_run(run, coarse, sampler=ETDPredictor(), lam_schedule=uniform_schedule(1.5, 0.0, 3), generator=seeded())
    with pytest.raises(ShapeError, match="T >= 2"):
        super_resolve_run(run, coarse[:, :1], sampler=ETDPredictor(), lam_schedule=grid, generator=seeded())


# -- files --------------------------------------------------------------------------------------


def test_inference_files_are_datasets_with_provenance_and_are_written_atomically(trained, tmp_path, monkeypatch):
    data, runs = trained
    run = load_run(runs["pdd"])
    paths = simulate_run(run, initial_data(data, 3), 0.2, 4, integrator=Euler())
    out = tmp_path / "nested" / "sim.h5"
    settings = {"lambda": 0.2, "note": Path("x")}
    write_inference_file(out, paths, run=run, dt=DT, command="simulate", lam=0.2, sampler="euler", steps=4, settings=settings, seed=5)
    metadata = read_metadata(out)
    assert metadata.splits == {"train": (3, 5, 2, 16), "valid": (0, 5, 2, 16), "test": (0, 5, 2, 16)} and metadata.system == "toy-walks" and metadata.seed == 5
    stored = torch.stack(list(PathDataset(out, "train", standardize=False)))
    torch.testing.assert_close(stored, paths.float())
    with h5py.File(out) as file:
        attributes = dict(file.attrs)
    assert attributes[COMMAND_ATTRIBUTE] == "simulate" and attributes["lambda"] == 0.2 and attributes["sampler"] == "euler" and attributes["steps"] == 4
    assert attributes["source_run"] == str(runs["pdd"].resolve()) and attributes["source_objective"] == "pdd" and attributes["values"] == "standardized"
    np.testing.assert_allclose(attributes["source_mean"], read_metadata(data).mean)
    np.testing.assert_allclose(attributes["source_std"], read_metadata(data).std)
    assert json.loads(attributes["settings"]) == {"lambda": 0.2, "note": "x"}
    # The file read back is already standardised; data files are standardised with the run's statistics.
    again = read_paths(run, out)
    assert again.lam == 0.2 and again.split == "train" and torch.allclose(again.u, paths.double(), atol=1e-6)
    raw = read_paths(run, data, n=2, frames=3)
    torch.testing.assert_close(raw.u.float(), torch.stack([PathDataset(data, "test")[i][:3] for i in range(2)]))
    assert raw.lam is None and raw.split == "test"
    with pytest.raises(DataError, match="already exists"):
        write_inference_file(out, paths, run=run, dt=DT, command="simulate", lam=0.2, sampler="euler", steps=4, settings={})

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pdd_core.files.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_inference_file(tmp_path / "new.h5", paths, run=run, dt=DT, command="simulate", lam=0.2, sampler="euler", steps=4, settings={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nested"]


def test_reading_inputs_rejects_other_grids_and_empty_splits(trained, tmp_path):
    data, runs = trained
    run = load_run(runs["pdd"])
    other = tmp_path / "other.h5"
    empty = np.zeros((0, 3, 1, 16))
    write_dataset_file(other, {"train": np.ones((2, 3, 1, 16)) + np.arange(16), "valid": empty, "test": empty}, system="x", config={}, dt=DT, grid=Grid((16,)))
    with pytest.raises(DataError, match="differs from the run's grid"):
        read_paths(run, other)
    with pytest.raises(ArgumentError, match=r"n=99: must be an integer in \[1, 4\]"):
        read_paths(run, data, n=99)
    with pytest.raises(PDDError, match="unknown split"):
        read_paths(run, data, split="holdout")


def test_output_paths_refuse_device_nodes_and_file_parents(tmp_path):
    """`--overwrite --out /dev/full` replaced the device node; a file as parent gave a traceback."""
    from pdd_core.apps.inference.file_io import check_output_path

    with pytest.raises(DataError, match="is not a regular file"):
        check_output_path("/dev/null", overwrite=True)
    (tmp_path / "plain").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        check_output_path(tmp_path / "plain" / "out.h5", overwrite=False)
    assert check_output_path(tmp_path / "new" / "out.h5", overwrite=False).parent.is_dir()
