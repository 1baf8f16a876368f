"""The cheap flow proposal: its sample map is the flow's, its log density is the change of variables
of the map it applies (brute force on a 3 x 3 lattice), the fused velocity it evaluates at each RK4
stage is the flow's velocity at that time, its draws are handed out in order, and the Metropolis
step takes each draw's density from the solve that made it (docs/rg_flows.md)."""

import numpy as np
import pytest
import torch

from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice.flow import sample_map
from pdd_core.apps.lattice.flow.base import DataBase
from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, FlowSettings
from pdd_core.apps.lattice.flow.proposal import FlowProposal
from pdd_core.apps.lattice.flow.sample_map import SampleMap
from pdd_core.apps.lattice.flow.stage_velocity import StageVelocity
from pdd_core.apps.lattice.flow.velocity import LatticeVelocity
from pdd_core.apps.lattice.gaussian_proposal import independence_metropolis_step
from pdd_core.errors import PDDError
from pdd_core.grid import Grid
from systems.phi4 import LatticePhi4

N = 3
THEORY = LatticePhi4(N=N, L=float(N), m2=-1.0, lam=6.0)
SCHEME = rdm_scheme("carosso", THEORY.grid, 1.0)


def _random_flow(steps: int = 8, seed: int = 0) -> ContinuousFlow:
    """A nonlinear flow with every weight random (the zero-initialised output layer too)."""
    torch.manual_seed(seed)
    flow = ContinuousFlow(THEORY.grid, SCHEME, FlowSettings(t_max=3.0, steps=steps)).double()
    for parameter in flow.velocity.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    return flow


def _brute_force_log_density(flow: ContinuousFlow, steps: int, top: torch.Tensor) -> torch.Tensor:
    """log p_T(φ_T) − log|det ∂φ_0/∂φ_T| of the ``steps``-step RK4 map, its Jacobian by autograd in float64."""
    exact_map = SampleMap(flow, steps, "float64")
    values = []
    for field in top:
        jacobian = torch.autograd.functional.jacobian(lambda x: exact_map.push(x.reshape(1, N, N))[0].reshape(-1), field)
        values.append(flow.prior_log_density(field[None])[0] - torch.linalg.slogdet(jacobian.reshape(N * N, N * N))[1])
    return torch.stack(values).detach()


def test_the_cheap_proposals_log_density_is_the_change_of_variables_of_the_map_it_applies():
    """float32 map with few RK4 steps: its one-solve density against log|det| of the same map, 4th order in the step.

    The density is the RK4 quadrature of the divergence along the path that made the draw (this random flow is far
    rougher than a trained one: 0.06 nats off at 8 steps, 0.005 at 16); float32 adds < 1e-4 to the float64 error.
    """
    flow = _random_flow()
    top = flow.prior_sample(4, torch.Generator().manual_seed(1))
    errors = {}
    for steps in (8, 16):
        brute = _brute_force_log_density(flow, steps, top)
        for precision in ("float64", "float32"):
            _, log_density = SampleMap(flow, steps, precision).push(top)
            errors[steps, precision] = float((log_density.detach() - brute).abs().max())
    # 4th order: 12x per halving here (a quadrature of 2nd order, e.g. classic RK4 weights on the 3/8 rule's stages, gives 8x and 0.01).
    assert errors[16, "float64"] < 6e-3 and errors[8, "float64"] / errors[16, "float64"] > 10, errors
    assert all(abs(errors[steps, "float32"] - errors[steps, "float64"]) < 1e-4 for steps in (8, 16)), errors


def test_at_the_flows_own_steps_the_sample_map_is_the_flows_sampler():
    flow = _random_flow(steps=6)
    recorded, log_density = flow.sample(5, torch.Generator().manual_seed(3))
    fields, map_log_density = SampleMap(flow).sample(5, torch.Generator().manual_seed(3))
    torch.testing.assert_close(fields, recorded[0.0].detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(map_log_density, log_density.detach(), rtol=0, atol=1e-10)
    # The backward solve on the same grid is the flow's log_density.
    torch.testing.assert_close(SampleMap(flow).log_density(fields), flow.log_density(fields).detach(), rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "shape, kernel, field_scale, with_base",
    [((3, 3), 3, 1.0, False), ((5, 4), 5, 2.5, True), ((6,), 3, 1.0, False), ((2,), 5, 0.5, True)],
    ids=["3x3", "5x4-kernel5-data-base", "chain", "chain-of-2-kernel-wraps"],
)
def test_a_stage_is_the_flows_velocity_at_its_time(shape, kernel, field_scale, with_base):
    """The fused evaluation (one convolution for two layers, tanh through the sigmoid, gains in the weights) against
    LatticeVelocity on random weights: the same velocity and divergence in float64, the divergence the trace of its own
    Jacobian, and float32 within its rounding. The taps are asymmetric, so a transposed or shifted neighbourhood shows."""
    grid = Grid(shape, length=float(shape[0]), symbol="lattice")
    generator = torch.Generator().manual_seed(2)
    data = 3 * torch.randn(64, *shape, dtype=torch.float64, generator=generator)
    base = DataBase.of_fields(data, grid, rdm_scheme("carosso", grid, 1.0)) if with_base else None
    torch.manual_seed(0)
    velocity = LatticeVelocity(grid, -3.0, 1.0, hidden=6, kernel=kernel, field_scale=field_scale, base=base).double()
    for parameter in velocity.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    phi, s = 2 * torch.randn(3, *shape, dtype=torch.float64, generator=generator), -1.3
    with torch.no_grad():
        expected = velocity(phi, torch.tensor([s], dtype=torch.float64))
    stage = StageVelocity.of(velocity, s, torch.float64)
    for got, want in zip(stage(phi), expected):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    jacobian = torch.autograd.functional.jacobian(lambda x: stage(x.reshape(1, *shape))[0].reshape(-1), phi[0].reshape(-1))
    torch.testing.assert_close(stage(phi[:1])[1][0], torch.trace(jacobian), rtol=1e-12, atol=1e-12)
    for got, want in zip(StageVelocity.of(velocity, s, torch.float32)(phi.float()), expected):
        assert got.dtype == torch.float32 and float((got.double() - want).abs().max()) < 1e-5 * (1 + float(want.abs().max()))


def test_a_map_pushed_in_cache_sized_chunks_gives_the_draws_and_densities_of_one_batch(monkeypatch):
    flow = _random_flow()
    whole = SampleMap(flow, 4, "float64")  # float64: the same draws to rounding whatever the chunk (float32 BLAS blocks by size)
    top = flow.prior_sample(5, torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected_fields, expected_density = whole.push(top)
    expected_up = whole.log_density(expected_fields)
    assert whole.chunk > 5
    monkeypatch.setattr(sample_map, "ACTIVATION_BYTES", 2 * 8 * N * N * 8)  # two 3 x 3 fields of 8 float64 channels
    chunked = SampleMap(flow, 4, "float64")
    assert chunked.chunk == 2
    fields, log_density = chunked.sample(5, torch.Generator().manual_seed(4))
    torch.testing.assert_close(fields, expected_fields, rtol=0, atol=1e-12)
    torch.testing.assert_close(log_density, expected_density, rtol=0, atol=1e-12)
    torch.testing.assert_close(chunked.log_density(expected_fields), expected_up, rtol=0, atol=1e-12)


def test_the_proposal_hands_out_batched_draws_in_order():
    flow = _random_flow()
    pooled, one_by_one = FlowProposal(flow, batch=5, steps=4), FlowProposal(flow, batch=5, steps=4)
    rng, same_rng = np.random.default_rng(0), np.random.default_rng(0)
    handed = [pooled.sample_with_log_density(3, rng) for _ in range(3)]  # 9 draws: two batches of 5
    whole = one_by_one.sample_with_log_density(10, same_rng)
    np.testing.assert_array_equal(np.concatenate([fields for fields, _ in handed]), whole[0][:9])
    np.testing.assert_array_equal(np.concatenate([density for _, density in handed]), whole[1][:9])
    assert handed[0][0].dtype == np.float64 and handed[0][0].shape == (3, N, N)


class _DensityOnlyFromItsSolve:
    """A proposal that gives its density with its draws and refuses to evaluate it anywhere else."""

    def __init__(self, proposal: FlowProposal):
        self.proposal = proposal

    def sample_with_log_density(self, n, rng):
        return self.proposal.sample_with_log_density(n, rng)

    def sample(self, n, rng):
        return self.proposal.sample(n, rng)

    def log_density(self, fields):
        raise AssertionError("the Metropolis step asked for a second solve")


def test_the_metropolis_step_takes_each_draws_density_from_its_solve():
    proposal = FlowProposal(_random_flow(), batch=8, steps=4)
    rng = np.random.default_rng(1)
    fields, log_density = proposal.sample_with_log_density(4, rng)
    log_weight = -THEORY.action(fields) - log_density
    step = independence_metropolis_step(THEORY.action, _DensityOnlyFromItsSolve(proposal), fields, log_weight, rng)
    proposed, proposed_density = FlowProposal(_random_flow(), batch=8, steps=4).sample_with_log_density(8, np.random.default_rng(1))
    accepted = step.accepted
    np.testing.assert_allclose(step.log_weight[accepted], (-THEORY.action(proposed[4:]) - proposed_density[4:])[accepted], rtol=1e-12)


@pytest.mark.parametrize("arguments, named", [({"precision": "float16"}, "precision"), ({"steps": 0}, "steps"), ({"batch": 0}, "batch")])
def test_bad_proposal_settings_are_refused_in_one_line(arguments, named):
    with pytest.raises(PDDError, match=named) as error:
        FlowProposal(_random_flow(), **arguments)
    assert "\n" not in str(error.value)
