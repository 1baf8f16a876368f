"""The fine-scale state-space constraint of a system (Lorenz-96's replicated X), and rollouts that keep it at λ = 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import solvers  # noqa: F401  (registers the integrators)
from pdd_core.apps.inference.runs import TrainedRun, load_run
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.errors import ShapeError
from pdd_core.state_projection import ReplicatedCopies
from solvers import EulerMaruyama
from systems.lorenz96 import Lorenz96


def test_replicated_copies_averages_each_block_of_its_channel_only():
    u = torch.arange(2 * 2 * 8, dtype=torch.float64).reshape(2, 2, 8) ** 2
    projected = ReplicatedCopies(channel=0, copies=4)(u)
    expected = u[:, 0].reshape(2, 2, 4).mean(-1).repeat_interleave(4, dim=-1)
    assert torch.equal(projected[:, 0], expected)
    assert torch.equal(projected[:, 1], u[:, 1])  # the other channel is untouched
    assert torch.equal(ReplicatedCopies(channel=0, copies=4)(projected), projected)  # a projection
    with pytest.raises(ShapeError, match="blocks of 3"):
        ReplicatedCopies(channel=0, copies=3)(u)


def test_lorenz96_frames_lie_in_the_subspace_its_projection_keeps():
    system = Lorenz96(K=8, J=4)
    state = system.initial_state(3, np.random.default_rng(0))
    frames, _ = system.advance(state, 5, np.random.default_rng(1))
    frames = torch.as_tensor(frames)
    assert torch.equal(system.state_projection()(frames), frames)
    assert system.state_projection() == ReplicatedCopies(channel=0, copies=4)


def test_a_rollout_at_lambda_0_keeps_the_systems_replicated_copies(trained_runs, monkeypatch):
    """With the projection, every state of a stochastic rollout at λ = 0 has equal copies; at λ > 0 or with
    ``project_state=False`` the noise breaks them (so the projection, not the drift, keeps them)."""
    run = load_run(trained_runs["pdd"])
    projection = ReplicatedCopies(channel=0, copies=4)
    monkeypatch.setattr(TrainedRun, "state_projection", lambda self: projection)  # the toy system declares none
    initial = projection(torch.randn(3, run.grid.channels, *run.grid.shape, dtype=run.dtype, generator=torch.Generator().manual_seed(0)))

    def spread(lam, project):
        with torch.no_grad():
            path = simulate_run(run, initial, lam, 6, generator=torch.Generator().manual_seed(1), integrator=EulerMaruyama(), noise=True, project_state=project)
        blocks = path[:, 1:, 0].reshape(path.shape[0], path.shape[1] - 1, -1, 4)
        return float((blocks - blocks.mean(-1, keepdim=True)).abs().max())

    assert spread(0.0, True) < 1e-6
    assert spread(0.0, False) > 1e-3
    assert spread(0.2, True) > 1e-3


def test_generation_and_super_resolution_that_end_at_lambda_0_keep_the_systems_replicated_copies(trained_runs, monkeypatch):
    """Paths generated or refined down to λ = 0 are projected (every block of X equal, the rest untouched); with
    ``project_state=False`` or a schedule that stops at λ > 0 they are not."""
    from pdd_core.apps.inference.tasks import generate_run, super_resolve_run
    from pdd_core.schedules import uniform_schedule
    from solvers import ReverseEulerMaruyama

    run = load_run(trained_runs["pdd"])
    projection = ReplicatedCopies(channel=0, copies=4)
    monkeypatch.setattr(TrainedRun, "state_projection", lambda self: projection)
    sampler = ReverseEulerMaruyama()

    def spread(paths):
        blocks = paths[:, :, 0].reshape(*paths.shape[:2], -1, 4)
        return float((blocks - blocks.mean(-1, keepdim=True)).abs().max())

    def generated(schedule, project=True):
        return generate_run(run, 2, 4, sampler=sampler, lam_schedule=schedule, generator=torch.Generator().manual_seed(0), project_state=project)

    to_zero = uniform_schedule(1.0, 0.0, 4)
    projected, raw = generated(to_zero), generated(to_zero, project=False)
    assert spread(projected) < 1e-6 and spread(raw) > 1e-3
    assert torch.equal(projected, projection(raw))  # the same sample, projected
    assert spread(generated(uniform_schedule(1.0, 0.2, 4))) > 1e-3
    coarse = torch.randn(2, 4, run.grid.channels, *run.grid.shape, dtype=run.dtype, generator=torch.Generator().manual_seed(1))
    refined = super_resolve_run(run, coarse, sampler=sampler, lam_schedule=uniform_schedule(0.2, 0.0, 3), generator=torch.Generator().manual_seed(2))
    unprojected = super_resolve_run(run, coarse, sampler=sampler, lam_schedule=uniform_schedule(0.2, 0.0, 3), generator=torch.Generator().manual_seed(2), project_state=False)
    assert spread(refined) < 1e-6 and torch.equal(refined, projection(unprojected))


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    from tests.apps.test_inference import train_tiny_runs

    return train_tiny_runs(tmp_path_factory.mktemp("projection"))[1]
