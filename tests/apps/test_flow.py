"""RDM's continuous normalizing flow: exact divergence, exact log density, the Gaussian flow, MH."""

import json
import math

import numpy as np
import pytest
import torch
from torchdiffeq import odeint

from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, FlowSettings
from pdd_core.apps.lattice.flow.objectives import RDMObjective, ReverseKL, lattice_action
from pdd_core.apps.lattice.flow.proposal import importance_ess_per_sample
from pdd_core.apps.lattice.flow.training import FlowTraining, load_flow, train_flow
from pdd_core.apps.lattice.flow.velocity import LatticeVelocity
from pdd_core.apps.lattice.gaussian_proposal import FourierGaussian
from pdd_core.apps.lattice.independence_mh import proposal_chain
from pdd_core.grid import Grid
from pdd_core.spectral import rfft
from systems.phi4 import LatticePhi4

N = 4
FREE = LatticePhi4(N=N, m2=0.25, lam=0.0)  # m² != M² = 1: the exact flow changes the mass
SCHEME = rdm_scheme("carosso", FREE.grid, 1.0)


def _random_flow(steps: int, seed: int = 0) -> ContinuousFlow:
    torch.manual_seed(seed)
    flow = ContinuousFlow(FREE.grid, SCHEME, FlowSettings(t_max=3.0, steps=steps)).double()
    for parameter in flow.velocity.parameters():  # the zero-initialised output layer too: a nonlinear, non-trivial flow
        torch.nn.init.normal_(parameter, std=0.3)
    return flow


def test_the_velocity_divergence_is_exact_and_the_field_odd_and_translation_equivariant():
    velocity = _random_flow(8).velocity
    phi, s = torch.randn(2, N, N, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), torch.full((2,), -1.0, dtype=torch.float64)
    b, divergence = velocity(phi, s)
    jacobian = torch.autograd.functional.jacobian(lambda x: velocity(x.reshape(1, N, N), s[:1])[0].reshape(-1), phi[0].reshape(-1))
    torch.testing.assert_close(divergence[0], torch.trace(jacobian), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(velocity(-phi, s)[0], -b)  # Z2
    torch.testing.assert_close(velocity(torch.roll(phi, (1, 2), dims=(-2, -1)), s)[0], torch.roll(b, (1, 2), dims=(-2, -1)))
    assert isinstance(velocity, LatticeVelocity) and float(b.detach().abs().max()) > 0.1


@pytest.mark.parametrize("sites, kernel", [(6, 3), (2, 5)])
def test_on_a_chain_the_divergence_is_exact_also_when_the_kernel_wraps_onto_the_site(sites, kernel):
    """d = 1; on N = 2 a kernel of 5 reaches the site itself at offsets ±2, which the hollow mask must drop."""
    grid = Grid((sites,), length=float(sites), symbol="lattice")
    torch.manual_seed(0)
    velocity = LatticeVelocity(grid, -3.0, 1.0, kernel=kernel).double()
    for parameter in velocity.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    phi, s = torch.randn(1, sites, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), torch.full((1,), -1.0, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda x: velocity(x.reshape(1, sites), s)[0].reshape(-1), phi[0])
    torch.testing.assert_close(velocity(phi, s)[1][0], torch.trace(jacobian), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(velocity(torch.roll(phi, 1, dims=-1), s)[0], torch.roll(velocity(phi, s)[0], 1, dims=-1))


def test_the_flow_log_density_is_the_change_of_variables_of_its_sample_map():
    """Brute force on a 4 x 4 lattice: log p_T(φ_T) - log|det ∂φ_0/∂φ_T| of the RK4 map, at 4th order in the step."""
    errors, round_trips = [], []
    for steps in (32, 64):
        flow = _random_flow(steps)
        recorded, log_density = flow.sample(3, torch.Generator().manual_seed(2))
        top = flow.prior_sample(3, torch.Generator().manual_seed(2))
        points = torch.tensor([flow.s_max, flow.s_min], dtype=torch.float64)

        def sample_map(x):
            phis, _ = odeint(flow._dynamics(), (x.reshape(1, N, N), torch.zeros(1, dtype=x.dtype)), points, method="rk4", options={"grid_constructor": flow._grid_with(points)})
            return phis[-1].reshape(-1)

        jacobian = torch.autograd.functional.jacobian(sample_map, top[0]).reshape(N * N, N * N)
        brute = flow.prior_log_density(top[:1])[0] - torch.linalg.slogdet(jacobian)[1]
        errors.append(abs(float(log_density[0].detach()) - float(brute.detach())))
        round_trips.append(float((flow.log_density(recorded[0.0]) - log_density).detach().abs().max()))
    # RK4: 16x per halving of the step; integrating φ_0 back up (as the Metropolis weights do) agrees as well.
    assert errors[1] < 1e-3 and errors[0] / errors[1] > 8 and round_trips[1] < 1e-2 and round_trips[0] / round_trips[1] > 8, (errors, round_trips)


def _gaussian_data(n: int) -> torch.Tensor:
    propagator = torch.from_numpy(FREE.free_propagator())[:, : N // 2 + 1]
    white = torch.randn(n, N, N, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return torch.fft.irfftn(torch.fft.rfftn(white, dim=(-2, -1), norm="ortho") * propagator.sqrt(), s=(N, N), dim=(-2, -1), norm="ortho")


def _mode_errors(flow: ContinuousFlow, ts) -> dict[float, float]:
    """Mean over modes of |K^θ_t / K_t - 1|, K_t = C̃_t² G + Σ̃_t the exact free-theory flow (4000 samples: ~3 % noise)."""
    propagator = torch.from_numpy(FREE.free_propagator())[:, : N // 2 + 1]
    with torch.no_grad():
        recorded, _ = flow.double().sample(4000, torch.Generator().manual_seed(1), ts=ts)
    errors = {}
    for t in ts:
        marginal = SCHEME.marginal(FREE.grid, torch.tensor([t], dtype=torch.float64))
        exact = marginal.damping.reshape(propagator.shape) ** 2 * propagator + marginal.variance.reshape(propagator.shape)
        errors[t] = float((rfft(recorded[t], 2).abs().square().mean(0) / exact - 1).abs().mean())
    return errors


def test_a_flow_trained_with_objective_5_22_approaches_the_exact_gaussian_flow_per_mode(tmp_path):
    """Free theory (m² = 0.25 against the prior's M² = 1): every p_t is Gaussian with K_t per mode. 80 steps take
    the mean error from 346 % to 17 % (t = 0), 11 % (t = 0.1) and 5 % (t = 1): the long modes learn slowest."""
    ts = (0.0, 0.1, 1.0)
    torch.manual_seed(0)
    flow = ContinuousFlow(FREE.grid, SCHEME, FlowSettings(t_max=3.0, steps=6), field_scale=1.0)
    before = _mode_errors(flow, ts)
    torch.manual_seed(0)
    flow = ContinuousFlow(FREE.grid, SCHEME, FlowSettings(t_max=3.0, steps=6), field_scale=1.0)
    training = FlowTraining(steps=80, batch_size=128, lr=0.03, decay=0.99, checkpoint_every=40)
    train_flow(flow, RDMObjective(), FREE, _gaussian_data(4096), training, tmp_path / "rdm", progress=False)
    after = _mode_errors(flow, ts)
    assert all(after[t] < 0.2 for t in ts) and before[0.0] > 1.0 and before[0.1] > 1.0, (before, after)
    reloaded, system, record = load_flow(tmp_path / "rdm")
    assert record["objective"] == "rdm" and system == FREE and _mode_errors(reloaded, ts) == after


def test_training_resumes_exactly_and_refuses_other_settings(tmp_path):
    settings, data = FlowSettings(t_max=3.0, steps=4), _gaussian_data(256)

    def run(steps: int, directory, objective=ReverseKL()):
        torch.manual_seed(0)
        flow = ContinuousFlow(FREE.grid, SCHEME, settings)
        return train_flow(flow, objective, FREE, data, FlowTraining(steps=steps, batch_size=16, checkpoint_every=2), directory, progress=False)

    whole = run(4, tmp_path / "whole")
    run(2, tmp_path / "split")
    resumed = run(4, tmp_path / "split")
    assert resumed.loss == whole.loss and resumed.step == 4
    with pytest.raises(Exception, match="other settings"):
        run(6, tmp_path / "split", RDMObjective())


def test_the_torch_action_is_the_systems_action():
    theory = LatticePhi4(N=6, m2=-2.0, lam=0.5)
    fields = np.random.default_rng(0).normal(size=(3, 6, 6)) * 2
    np.testing.assert_allclose(lattice_action(theory, torch.from_numpy(fields)).numpy(), theory.action(fields), rtol=1e-12)


def test_metropolis_with_the_free_theorys_own_density_accepts_everything():
    """An exact proposal: importance weights constant (ESS/N = 1) and every independence MH step accepted."""
    proposal = FourierGaussian.gaussian(FREE.free_propagator())
    rng = np.random.default_rng(3)
    draws = proposal.sample(256, rng)
    log_weights = -FREE.action(draws) - proposal.log_density(draws)
    assert importance_ess_per_sample(log_weights) == pytest.approx(1.0, abs=1e-10)
    chain = proposal_chain(FREE, proposal, proposal.sample(4, rng), 20, rng, hmc=False)
    assert chain.acceptance == 1.0
    assert importance_ess_per_sample(np.array([0.0, -50.0, -50.0, -50.0])) == pytest.approx(0.25, abs=1e-3)
    assert math.isfinite(importance_ess_per_sample(np.array([1e4, 0.0])))


def test_pdd_rg_flow_trains_both_flows_then_samples_with_one(tmp_path, capsys):
    from pdd_core.apps.cli.main import main

    theory = ["--set", "N=4", "m2=0.5", "lam=0.5", "--n-samples", "32", "--chains", "2", "--blocks", "4"]
    flows = ["--flow", "both", "--flow-steps", "2", "--flow-ode-steps", "4", "--flow-samples", "16", "--ts", "0", "0.1"]
    assert main(["rg-flow", "phi4", *theory, *flows, "--no-progress", "--out", str(tmp_path / "flows")]) == 0
    record = json.loads((tmp_path / "flows" / "flows.json").read_text())
    assert set(record["objectives"]) == {"rdm", "reverse-kl"} and record["ts"] == [0.0, 0.1]
    assert all(len(result["learned_flow"]) == 2 and result["training"]["steps"] == 2 for result in record["objectives"].values())
    assert (tmp_path / "flows" / "flows.png").exists() and (tmp_path / "flows" / "rdm" / "checkpoint.pt").exists()
    sampler = ["--flow-sampler", str(tmp_path / "flows" / "rdm"), "--flow-samples", "16", "--mh-chains", "2", "--mh-cycles", "8", "--mh-hmc"]
    assert main(["rg-flow", "phi4", *sampler, "--no-progress", "--out", str(tmp_path / "mh")]) == 0
    mh = json.loads((tmp_path / "mh" / "mh.json").read_text())
    assert 0 < mh["ess_per_sample"] <= 1 and mh["objective"] == "rdm" and "tau" in json.dumps(mh["study"])
    capsys.readouterr()
    assert main(["rg-flow", "phi4", "--flow", "rdm", "--learn", "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert main(["rg-flow", "phi4", "--flow-sampler", str(tmp_path / "mh"), "--out", str(tmp_path / "bad2"), "--no-progress"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "is a mode of its own" in errors[0] and "Traceback" not in "".join(errors)
