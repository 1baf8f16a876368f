"""Training levers beside the paper's loss: the learning-rate schedule and the pushforward term."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pdd_core.apps.trainer import loop, train
from pdd_core.apps.trainer.checkpoint import read_log
from pdd_core.errors import ConfigError
from pdd_core.grid import Grid
from pdd_core.score import PerModeNoise
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA, ScalarNoise, increment_quadratic_form
from pdd_core.training import config_from_dict
from pdd_core.training.learning_rate import learning_rate
from pdd_core.training.objectives import PDDObjective, pushforward_loss
from schemes import Carosso
from tests.apps.test_trainer import linear_config, losses, random_paths

GRID = Grid((8,), channels=2, length=3.0)
DT = 0.05
SCHEME = Carosso(alpha=0.1, beta=2**0.5)


def test_learning_rate_warms_up_linearly_then_decays_on_the_cosine():
    rate = lambda step, **options: learning_rate(step, lr=1.0, steps=104, **options)  # noqa: E731
    assert [rate(step, warmup_steps=4) for step in (1, 2, 4, 50, 104)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    cosine = dict(schedule="cosine", warmup_steps=4)
    assert rate(2, **cosine) == 0.5
    assert rate(54, **cosine) == pytest.approx(0.5)  # half of the 100 decay steps: (1 + cos(π/2)) / 2
    assert rate(29, **cosine) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert rate(104, **cosine) == pytest.approx(0.0, abs=1e-15)
    assert rate(104, final_fraction=0.1, **cosine) == pytest.approx(0.1)


class Crash(Exception):
    pass


def test_the_trainer_uses_the_scheduled_rate_and_a_resume_continues_it(tmp_path, monkeypatch):
    data = random_paths()
    config = lambda steps: linear_config(steps=steps, lr_schedule="cosine", warmup_steps=2)  # noqa: E731
    train(config(6), tmp_path / "whole", data=data, progress=False)
    logged = [record["lr"] for record in read_log(tmp_path / "whole" / "log.jsonl")]
    assert logged == pytest.approx([learning_rate(step, lr=1e-2, steps=6, schedule="cosine", warmup_steps=2) for step in range(1, 7)], rel=1e-12)
    constant = linear_config(steps=6)
    train(constant, tmp_path / "constant", data=data, progress=False)
    assert losses(tmp_path / "constant")[2:] != losses(tmp_path / "whole")[2:]  # the rate reaches the optimizer
    log_step = loop._log_step

    def crash_at_step_5(log, step, *args):
        if step == 5:
            raise Crash
        log_step(log, step, *args)

    monkeypatch.setattr(loop, "_log_step", crash_at_step_5)
    with pytest.raises(Crash):  # after the checkpoint of step 3 (checkpoint_every = 3)
        train(config(6), tmp_path / "split", data=data, progress=False)
    monkeypatch.setattr(loop, "_log_step", log_step)
    train(config(6), tmp_path / "split", resume=True, data=data, progress=False)
    assert losses(tmp_path / "split") == losses(tmp_path / "whole")  # the schedule is a function of the step alone


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"lr_schedule": "step"}, r"lr_schedule='step': unknown learning-rate schedule"),
        ({"warmup_steps": 10, "steps": 10}, r"warmup_steps=10: must be below steps"),
        ({"warmup_steps": -1}, r"warmup_steps=-1"),
        ({"objective": {"name": "pdd", "pushforward": -1.0}}, r"objective.pushforward=-1.0"),
        ({"objective": {"name": "denoising", "pushforward": 1.0}}, r"applies to 'pdd'"),
    ],
)
def test_bad_lever_settings_raise_clear_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(settings)


class TwoFrameDrift(nn.Module):
    """f = a·u_n + b·u_{n-1} with scalar parameters: a window of two frames, easy to follow by hand."""

    window = 2

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(-0.7, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(0.3, dtype=torch.float64))

    def forward(self, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        return self.a * history[:, -1] + self.b * history[:, -2]


def hand_pushforward_loss(drift: TwoFrameDrift, u: torch.Tensor, lam: torch.Tensor, noise_model) -> torch.Tensor:
    """ũ_n = u_{n-1} + f(u_{n-2}, u_{n-1})Δt (zero before t0, no gradient); r_n = u_{n+1} - ũ_n - f(u_{n-1}, ũ_n)Δt."""
    residuals = []
    for n in range(1, u.shape[1] - 1):
        before = u[:, n - 2] if n >= 2 else torch.zeros_like(u[:, 0])
        pushed = (u[:, n - 1] + (drift.a * u[:, n - 1] + drift.b * before) * DT).detach()
        residuals.append(u[:, n + 1] - pushed - (drift.a * pushed + drift.b * u[:, n - 1]) * DT)
    residual = torch.stack(residuals, 1)
    return (0.5 * GRID.cell_volume * increment_quadratic_form(residual, lam, SCHEME, GRID, DT, noise_model=noise_model)).mean()


@pytest.mark.parametrize("noise_model", [PerModeNoise(), ScalarNoise()], ids=["per-mode", "scalar"])
def test_pushforward_loss_and_its_gradient_follow_the_hand_computed_states(noise_model):
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(3, 6, GRID.channels, *GRID.shape, generator=generator, dtype=torch.float64).cumsum(1)
    lam = torch.tensor([0.0, 0.2, 0.7], dtype=torch.float64)
    drift = TwoFrameDrift()
    ours = pushforward_loss(drift, u, lam, SCHEME, GRID, DT, DEFAULT_DELTA_LAMBDA, noise_model)
    expected = hand_pushforward_loss(drift, u, lam, noise_model)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-12)
    gradient = torch.autograd.grad(ours, [drift.a, drift.b])
    reference = torch.autograd.grad(expected, [drift.a, drift.b])
    assert all(torch.allclose(g, r, rtol=1e-10) for g, r in zip(gradient, reference))


def test_the_pdd_objective_adds_the_weighted_pushforward_term():
    generator = torch.Generator().manual_seed(1)
    u = torch.randn(2, 5, GRID.channels, *GRID.shape, generator=generator, dtype=torch.float64).cumsum(1)
    lam = torch.tensor([0.1, 0.5], dtype=torch.float64)
    drift = TwoFrameDrift()
    plain = PDDObjective(SCHEME, GRID, DT).loss(drift, (u,), lam)
    pushed = PDDObjective(SCHEME, GRID, DT, pushforward=0.5).loss(drift, (u,), lam)
    term = pushforward_loss(drift, u, lam, SCHEME, GRID, DT, DEFAULT_DELTA_LAMBDA, ScalarNoise())
    assert pushed.item() == pytest.approx(plain.item() + 0.5 * term.item(), rel=1e-12)
    assert term.item() > 0
