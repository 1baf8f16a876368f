"""An objective added in one file trains, simulates and generates through the command line.

The toy objective below is the whole plug-in (docs/guide.md, "Adding an objective"): a settings
record registered by name and the loss it builds. It regresses the drift on the raw increments,
mean |Δu/Δt - f_λ(u)|², at λ = 0 only: the λ-dependence is left to the network's λ input.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.inference.runs import load_run
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.drifts.windows import drift_on_path
from pdd_core.registry import OBJECTIVES
from pdd_core.score.kinds import PATH_SCORE
from pdd_core.training import ObjectiveConfig, config_from_dict
from tests.apps.test_inference import write_tiny_data


@attrs.frozen
class IncrementRegression:
    """The loss: the clean path (no forward noise), mean |Δu/Δt - f|² over its increments."""

    dt: float
    weight: float

    def corrupt(self, u0: torch.Tensor, lam: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor]:
        return (u0,)

    def loss(self, drift, corrupted: tuple[torch.Tensor], lam: torch.Tensor) -> torch.Tensor:
        (u,) = corrupted
        rate = (u[:, 1:] - u[:, :-1]) / self.dt
        return self.weight * (rate - drift_on_path(drift, u, lam)).pow(2).mean()


@attrs.frozen
class IncrementRegressionConfig(ObjectiveConfig):
    """``increment-mse``: a drift objective with one setting, the weight of its loss."""

    name: ClassVar[str] = "increment-mse"

    weight: float = 1.0

    def build(self, scheme, grid, dt: float) -> IncrementRegression:
        return IncrementRegression(dt, self.weight)


@pytest.fixture
def registered():
    OBJECTIVES.register(IncrementRegressionConfig.name)(IncrementRegressionConfig)
    yield IncrementRegressionConfig
    OBJECTIVES._entries.pop(IncrementRegressionConfig.name)  # leave the registry as the other tests know it


def test_a_registered_objective_is_structured_by_name_and_refuses_others_settings(registered):
    config = config_from_dict({"objective": {"name": "increment-mse", "weight": 2.0}})
    assert config.objective == IncrementRegressionConfig(weight=2.0) and config.objective.score_kind() == PATH_SCORE
    with pytest.raises(Exception, match=r"objective.noise_model=.*applies to 'pdd' / 'sa-pdd' only, not 'increment-mse'"):
        config_from_dict({"objective": {"name": "increment-mse", "noise_model": "per-mode"}})


def test_a_registered_objective_trains_simulates_and_generates_through_the_cli(registered, tmp_path):
    data = write_tiny_data(tmp_path / "walks.h5")
    run = tmp_path / "run"
    train = ["train", "--data", str(data), "--out", str(run), "--objective", "increment-mse", "--set", "objective.weight=0.5"]
    assert main([*train, "--model", "linear", "--steps", "3", "--batch-size", "4", "--window", "2", "--no-progress"]) == 0
    trained = load_run(run)
    assert trained.objective == IncrementRegressionConfig(weight=0.5)
    simulated = tmp_path / "sim.h5"
    assert main(["simulate", str(run), "--lambda", "0", "--steps", "4", "--n", "2", "--out", str(simulated), "--no-progress"]) == 0
    assert read_metadata(simulated).splits["train"][:2] == (2, 5)  # the initial frame, then four steps
    generated = tmp_path / "gen.h5"
    assert main(["generate", str(run), "--n", "2", "--frames", "3", "--steps", "3", "--out", str(generated), "--no-progress"]) == 0
    assert read_metadata(generated).splits["train"][:2] == (2, 3)


def test_an_unknown_objective_lists_the_registered_ones(capsys):
    with pytest.raises(Exception, match=r"objective.name='increment-mse': unknown objective.*\['conditional-denoising', 'denoising', 'pdd', 'sa-pdd'\]"):
        config_from_dict({"objective": {"name": "increment-mse"}})
