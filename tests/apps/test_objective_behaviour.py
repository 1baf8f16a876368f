"""Objective records carry their behaviour: what a run simulates, samples and evaluates follows from them."""

from __future__ import annotations

import pytest
import torch

from pdd_core.apps.evaluation.run_metrics import TASKS, supported_tasks
from pdd_core.apps.inference.simulation_settings import SimulationSettings, simulation_settings
from pdd_core.errors import ConfigError
from pdd_core.grid import Grid
from pdd_core.score.kinds import NOISE_HEAD, PATH_SCORE, PATH_SCORE_PER_MODE_WITH_INITIAL
from pdd_core.score.path_density import PerModeNoise, ScalarNoise, increment_variance
from pdd_core.training import ConditionalDenoisingObjectiveConfig, DenoisingObjectiveConfig, PDDObjectiveConfig, SAPDDObjectiveConfig
from schemes import Carosso

GRID = Grid((8,), channels=2, length=3.0)
SCHEME = Carosso(alpha=0.1, beta=2**0.5)
DT = 0.05


@pytest.mark.parametrize(
    "objective, tasks, context, kind",
    [
        (PDDObjectiveConfig(), TASKS, 5, PATH_SCORE_PER_MODE_WITH_INITIAL),
        (PDDObjectiveConfig(noise_model="scalar"), TASKS, 5, PATH_SCORE),
        (SAPDDObjectiveConfig(), TASKS, 5, NOISE_HEAD),
        (DenoisingObjectiveConfig(), ("generate",), 5, NOISE_HEAD),
        (ConditionalDenoisingObjectiveConfig(), ("simulate",), 4, None),
    ],
    ids=["pdd", "pdd-scalar", "sa-pdd", "denoising", "conditional"],
)
def test_each_objective_names_its_tasks_context_and_score(objective, tasks, context, kind):
    """PDD B.4: the DDPM generates only, the conditional baseline simulates only, from W - 1 clean states."""
    assert supported_tasks(objective) == tasks
    assert objective.context_frames(5) == context
    assert objective.score_kind() == kind


def test_the_conditional_baseline_measures_its_increment_scale_unless_a_stored_run_knows_it():
    measured = lambda: (2.0, 3.0)  # noqa: E731
    assert ConditionalDenoisingObjectiveConfig().with_data_defaults(measured).increment_scale == (2.0, 3.0)
    stored = ConditionalDenoisingObjectiveConfig(increment_scale=(5.0, 7.0))
    assert ConditionalDenoisingObjectiveConfig().with_data_defaults(measured, stored).increment_scale == (5.0, 7.0)
    assert PDDObjectiveConfig().with_data_defaults(measured) == PDDObjectiveConfig()


def test_rollout_noise_is_the_noise_model_of_the_increments():
    """Scalar: σ_λ of Eq. 58; per mode: sqrt(Σ̃_λ(k)/Δt), the increment law the path density models."""
    lam = 0.3
    per_mode = PerModeNoise().rollout_sigma(lam, SCHEME, GRID, DT, 1e-3)
    expected = (increment_variance(SCHEME, GRID, torch.full((1,), lam, dtype=torch.float64), DT, delta_lambda=1e-3)[:, 0] / DT).sqrt()
    assert torch.equal(per_mode, expected) and per_mode.shape == (1, 1, *GRID.rfft_shape)
    assert ScalarNoise().rollout_sigma(lam, SCHEME, GRID, DT, 1e-3) == pytest.approx(float(SCHEME.sigma(GRID, lam, DT, delta_lambda=1e-3)[0]))
    assert PDDObjectiveConfig().increment_noise == PerModeNoise() and DenoisingObjectiveConfig().increment_noise == ScalarNoise()


def test_rollout_settings_are_a_typed_record_and_a_dict_is_checked():
    settings = simulation_settings({"integrator": "euler", "noise": True}, "simulation")
    assert isinstance(settings, SimulationSettings) and settings.noise and not settings.samples_increments
    generator = torch.Generator()
    assert settings.drawing_from(generator).keywords()["generator"] is generator
    assert SimulationSettings(sampler=object()).samples_increments
    with pytest.raises(ConfigError, match=r"simulation=\['integrater'\]: are not rollout settings"):
        simulation_settings({"integrater": "euler"}, "simulation")
