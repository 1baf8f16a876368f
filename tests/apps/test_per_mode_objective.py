"""The per-mode-weighted PDD loss (``objective.noise_model = "per-mode"``) and the Gaussian r_λ of a run.

Ground truth: Eq. 9 written as Δx/2 Σ_n r_nᵀ V⁻¹ r_n with r_n = Δu_n - f Δt; the per-mode
option replaces V = σ_λ²Δt I (Eq. 58) by diag Σ̃_λ(k), so its gradient in a drift that adds a
field b to every increment is, in closed form, -Δx Δt Σ_n V⁻¹ r_n (per path, batch mean).
"""

import json

import attrs
import pytest
import torch
from torch import nn

from pdd_core.apps.cli.main import main
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import PATH_SCORE_PER_MODE, PATH_SCORE_PER_MODE_WITH_INITIAL, load_run, run_boundary, run_marginal, run_score, training_power
from pdd_core.apps.inference.tasks import generate_run
from pdd_core.drifts.linear import LinearDrift
from pdd_core.errors import ArgumentError, ConfigError
from pdd_core.grid import Grid
from pdd_core.schedules import power_schedule
from pdd_core.score import NOISE_MODELS, PathScore, PerModeNoise, data_power
from pdd_core.score.path_density import increment_variance
from pdd_core.spectral import apply_diagonal
from pdd_core.training import DenoisingObjectiveConfig, PDDObjectiveConfig, SAPDDObjectiveConfig, config_from_dict
from pdd_core.training.objectives import PDDObjective
from schemes import Carosso
from solvers import GaussianExponential, GaussianLangevin, PredictorCorrector
from tests.apps.test_inference import write_tiny_data

GRID = Grid((16,), channels=2, length=3.0)
DT = 0.05
SCHEME = Carosso(alpha=0.1, beta=2**0.5)


class ConstantDrift(nn.Module):
    """f = b, one learnable field: ∂(loss)/∂b is the residual-weighted sum of Eq. 9 itself."""

    window = 2

    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.field = nn.Parameter(torch.randn(GRID.channels, *GRID.shape, generator=generator, dtype=torch.float64))

    def forward(self, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        return self.field.expand(history.shape[0], *self.field.shape)


def corrupted_paths(scheme, seed: int = 0) -> tuple[tuple[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    u0 = torch.randn(3, 5, GRID.channels, *GRID.shape, generator=generator, dtype=torch.float64).cumsum(1)
    lam = torch.tensor([0.05, 0.4, 0.9], dtype=torch.float64)
    return PDDObjective(scheme, GRID, DT).corrupt(u0, lam, generator), lam


def test_per_mode_loss_is_eq9_when_every_mode_has_the_same_variance():
    """With α = 0 every Σ̃_λ(k) equals tr(Σ_λ)/D = σ_λ²Δt, so both weightings are Eq. 9."""
    flat = Carosso(alpha=0.0, beta=2**0.5, gamma=0.7)
    corrupted, lam = corrupted_paths(flat)
    drift = LinearDrift(GRID, 2, coefficients=torch.randn(1, GRID.channels, 2, *GRID.rfft_shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    with torch.no_grad():
        scalar = PDDObjective(flat, GRID, DT).loss(drift, corrupted, lam)
        per_mode = PDDObjective(flat, GRID, DT, noise_model=PerModeNoise()).loss(drift, corrupted, lam)
    assert per_mode.item() == pytest.approx(scalar.item(), rel=1e-10)


def test_per_mode_loss_weights_each_mode_by_its_inverse_increment_variance():
    corrupted, lam = corrupted_paths(SCHEME)
    drift = ConstantDrift(torch.Generator().manual_seed(2))
    gradients = {}
    for noise_model in ("scalar", "per-mode"):
        drift.zero_grad()
        PDDObjective(SCHEME, GRID, DT, noise_model=NOISE_MODELS[noise_model]).loss(drift, corrupted, lam).backward()
        gradients[noise_model] = drift.field.grad.clone()
    (u,) = corrupted
    residual = u[:, 1:] - u[:, :-1] - drift.field.detach() * DT
    variance = increment_variance(SCHEME, GRID, lam, DT)  # [B, 1, 1, *rfft]
    expected = -GRID.cell_volume * DT * apply_diagonal(residual, 1.0 / variance, GRID.shape).sum(1).mean(0)
    torch.testing.assert_close(gradients["per-mode"], expected, rtol=1e-10, atol=1e-12)
    sigma2_dt = (SCHEME.sigma(GRID, lam, DT) ** 2 * DT).reshape(-1, 1, 1, 1)
    torch.testing.assert_close(gradients["scalar"], -GRID.cell_volume * DT * (residual / sigma2_dt).sum(1).mean(0), rtol=1e-10, atol=1e-12)
    assert float((gradients["per-mode"] - gradients["scalar"]).norm()) > 0.1 * float(gradients["scalar"].norm())


def test_objective_config_takes_the_noise_model_of_pdd_and_sa_pdd_only():
    assert PDDObjectiveConfig().noise_model == "per-mode"  # the default: the paper's Eq. 9 diverges in generation
    assert SAPDDObjectiveConfig().noise_model == "per-mode" and not hasattr(DenoisingObjectiveConfig(), "noise_model")
    assert PDDObjectiveConfig(noise_model="scalar").noise_model == "scalar"  # the paper's setting, one option away
    assert config_from_dict({"objective": {"name": "sa-pdd", "noise_model": "per-mode"}}).objective.noise_model == "per-mode"
    with pytest.raises(ConfigError, match="objective.noise_model='diagonal': unknown noise model"):
        PDDObjectiveConfig(noise_model="diagonal")
    with pytest.raises(ConfigError, match="not 'denoising'"):
        config_from_dict({"objective": {"name": "denoising", "noise_model": "per-mode"}})
    # A config.json written before the tagged union (every objective's settings, unused ones at
    # their defaults) still reads; a used setting of another objective does not.
    legacy = {"name": "denoising", "noise_free": False, "w_drift": 1.0, "w_score": 1.0, "delta_lambda": 0.002, "noise_model": "scalar", "increment_scale": None}
    assert config_from_dict({"objective": legacy}).objective == DenoisingObjectiveConfig(delta_lambda=0.002)
    with pytest.raises(ConfigError, match=r"objective.w_drift=0.5: applies to 'sa-pdd' only, not 'denoising'"):
        config_from_dict({"objective": {**legacy, "w_drift": 0.5}})
    # In the library a noise model is an object; its name belongs to configs and the command line.
    with pytest.raises(ArgumentError, match=r"noise_model='per-mode': is a name.*pass PerModeNoise\(\)"):
        PDDObjective(SCHEME, GRID, DT, noise_model="per-mode")


def test_pdd_train_toml_with_the_per_mode_loss_and_the_gaussian_initial_density(tmp_path):
    data = write_tiny_data(tmp_path / "walks.h5")
    losses = {}
    for noise_model in ("scalar", "per-mode"):
        toml = tmp_path / f"{noise_model}.toml"
        toml.write_text(
            f'data = "{data}"\nout = "{tmp_path / noise_model}"\nsteps = 2\nbatch_size = 4\nwindow = 2\ndtype = "float64"\nlr = 1e-2\n'
            f'[model]\nname = "linear"\noverrides = {{ lam_nodes = 3 }}\n[objective]\nname = "pdd"\nnoise_model = "{noise_model}"\n'
        )
        assert main(["train", str(toml), "--no-progress"]) == 0
        assert json.loads((tmp_path / noise_model / "config.json").read_text())["objective"]["noise_model"] == noise_model
        losses[noise_model] = [json.loads(line)["loss"] for line in (tmp_path / noise_model / "log.jsonl").read_text().splitlines()]
    assert losses["scalar"][0] != pytest.approx(losses["per-mode"][0], rel=1e-3)  # same seed and batch: only the weights differ

    run = load_run(tmp_path / "per-mode")
    with_initial = run_score(run)  # auto: as trained, with r_λ (without it the first frame diverges)
    assert isinstance(with_initial, PathScore) and with_initial.noise_model == PerModeNoise() and with_initial.initial is not None
    without_initial = run_score(run, PATH_SCORE_PER_MODE)
    assert without_initial.noise_model == PerModeNoise() and without_initial.initial is None
    power = data_power(read_paths(run, data, split="train").u, run.grid)
    torch.testing.assert_close(with_initial.initial.power, power)  # stored in the checkpoint by the trainer
    torch.testing.assert_close(with_initial.initial.mean, run.data_mean)  # r_λ is taken about the data's mean, as the marginal is
    torch.testing.assert_close(training_power(attrs.evolve(run, data_power=None)), power)  # older checkpoints: from the file
    assert run_boundary(None, with_initial, 5) is None and run_boundary(None, without_initial, 5) is not None  # r_λ replaces the t0 rule
    data.rename(tmp_path / "moved.h5")  # the run no longer needs its training file for r_λ
    moved = load_run(tmp_path / "per-mode")  # nor for the data-informed prior and sampler: the covariance is in the checkpoint too
    reference = run_marginal(moved, 5)
    torch.testing.assert_close(reference.mean, run.data_mean)
    sampler = PredictorCorrector(GaussianExponential(reference, gate=1.0), GaussianLangevin(reference, gate=1.0), 1)
    paths = generate_run(moved, 2, 5, sampler=sampler, lam_schedule=power_schedule(1.0, 0.0, 8), generator=torch.Generator().manual_seed(0), score=PATH_SCORE_PER_MODE_WITH_INITIAL)
    assert paths.shape == (2, 5, 2, 16) and bool(torch.isfinite(paths).all())
