"""The lattice flow's data base (docs/rg_flows.md): the exact Carosso flow of a law fitted to the training samples."""

import json

import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice.flow.base import DataBase
from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, FlowSettings
from pdd_core.apps.lattice.flow.training import load_flow
from pdd_core.spectral import irfft, rfft
from systems.phi4 import LatticePhi4

N = 4
THEORY = LatticePhi4(N=N, m2=0.25, lam=0.0)
SCHEME = rdm_scheme("carosso", THEORY.grid, 1.0)
SHIFT = 12.0  # the zero mode's pair ½N(±SHIFT, 1): a broken phase's two vacua


def _two_vacua_data(n: int) -> torch.Tensor:
    """Free-field non-zero modes (m² = 0.25) and a zero mode ±SHIFT + N(0, 1): the base law's own family."""
    generator = torch.Generator().manual_seed(0)
    propagator = torch.from_numpy(THEORY.free_propagator())[:, : N // 2 + 1]
    modes = rfft(torch.randn(n, N, N, generator=generator, dtype=torch.float64), 2) * propagator.sqrt()
    signs = torch.randint(2, (n,), generator=generator, dtype=torch.float64) * 2 - 1
    modes[:, 0, 0] = signs * SHIFT + torch.randn(n, generator=generator, dtype=torch.float64)
    return irfft(modes, (N, N))


BASE = DataBase.of_fields(_two_vacua_data(20000), THEORY.grid, SCHEME)


def _flow(base, steps: int = 16) -> ContinuousFlow:
    torch.manual_seed(0)
    return ContinuousFlow(THEORY.grid, SCHEME, FlowSettings(t_max=3.0, steps=steps), base=base).double()


def test_the_untrained_flow_on_the_data_base_carries_the_datas_law_along_the_exact_rg_flow():
    """Per mode the power C̃_t² G + Σ̃_t, and on the zero mode the pair's fourth moment, at t = 0, 0.1, 1 (3000 samples)."""
    assert BASE.zero_mean == pytest.approx(SHIFT, rel=0.01) and BASE.zero_variance == pytest.approx(1.0, rel=0.2)
    ts = (0.0, 0.1, 1.0)
    with torch.no_grad():
        recorded, _ = _flow(BASE, steps=8).sample(3000, torch.Generator().manual_seed(1), ts=ts)
    for t in ts:
        marginal = SCHEME.marginal(THEORY.grid, torch.tensor([t], dtype=torch.float64))
        damping, variance = (value.reshape(N, N // 2 + 1) for value in (marginal.damping, marginal.variance))
        exact = damping.square() * BASE.power + variance
        modes = rfft(recorded[t], 2)
        power = modes.abs().square().mean(0)
        assert float((power / exact - 1).abs().max()) < 0.12, (t, power / exact)  # 3000 samples: ~3-6 % per mode
        shift, spread = float(damping[0, 0]) * SHIFT, float(damping[0, 0] ** 2 + variance[0, 0])  # the flowed pair, w² = 1
        fourth = shift**4 + 6 * shift**2 * spread + 3 * spread**2
        assert float(modes[:, 0, 0].real.pow(4).mean()) == pytest.approx(fourth, rel=0.08), t
    with torch.no_grad():  # RDM's base, untrained, is far from the data at t = 0
        carosso, _ = _flow(None, steps=8).sample(3000, torch.Generator().manual_seed(1), ts=(0.0,))
    assert float(rfft(carosso[0.0], 2)[:, 0, 0].real.square().mean()) < 0.7 * float(BASE.power[0, 0])


def test_with_the_data_base_the_divergence_is_exact_and_the_log_density_the_change_of_variables():
    """The base's analytic divergence (zero-mode pair included) against the Jacobian's trace, and log p^θ_0 of the
    sample map against log p_T(φ_T) - log|det ∂φ_0/∂φ_T| (RK4 with 64 steps on 4 x 4), on a random network."""
    flow = _flow(BASE, steps=64)
    for parameter in flow.velocity.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    phi = _two_vacua_data(2)
    for s in (flow.s_min + 0.5, flow.s_max - 2.0):
        times = torch.full((1,), s, dtype=torch.float64)
        jacobian = torch.autograd.functional.jacobian(lambda x: flow.velocity(x.reshape(1, N, N), times)[0].reshape(-1), phi[0].reshape(-1))
        torch.testing.assert_close(flow.velocity(phi[:1], times)[1][0], torch.trace(jacobian), rtol=1e-9, atol=1e-9)
    recorded, log_density = flow.sample(2, torch.Generator().manual_seed(2))
    round_trip = flow.log_density(recorded[0.0])
    assert float((round_trip - log_density).detach().abs().max()) < 1e-3


def test_pdd_rg_flow_trains_on_the_data_base_reloads_it_and_refuses_to_resume_on_another(tmp_path, capsys):
    theory = ["rg-flow", "phi4", "--set", "N=4", "m2=0.5", "lam=0.5", "--n-samples", "32", "--chains", "2", "--blocks", "4", "--ts", "0", "0.1", "--no-progress"]
    flows = ["--flow", "rdm", "--flow-steps", "2", "--flow-ode-steps", "4", "--flow-samples", "16"]
    out = ["--out", str(tmp_path / "flows")]
    assert main([*theory, *flows, *out]) == 0
    assert json.loads((tmp_path / "flows" / "flows.json").read_text())["flow_base"] == "data"  # the default
    flow, _, record = load_flow(tmp_path / "flows" / "rdm")
    assert isinstance(flow.base, DataBase) and record["base"]["power"] == flow.base.power.tolist()
    capsys.readouterr()
    assert record["training"]["lr"] == 5e-4  # the data base's own default
    assert main([*theory, *flows, "--flow-base", "carosso", "--flow-lr", "5e-4", *out]) == 2  # the same samples, another base
    assert "holds a flow trained with other settings (base)" in capsys.readouterr().err
    refused = [
        (["--flow", "rdm", "--flow-base", "gauss"], "--flow-base='gauss': is not a base of the flows. Fix: pass one of carosso, data"),
        (["--learn", "--flow-base", "data"], "--flow-base='data': is not read by --learn"),
        (["--flow", "rdm", "--flow-lr", "nan"], "--flow-lr=nan: must be a finite number > 0"),
        (["--flow", "rdm", "--flow-lr", "0"], "--flow-lr=0.0: must be a finite number > 0"),
    ]
    for bad, named in refused:
        assert main(["rg-flow", "phi4", *bad, "--no-progress", "--out", str(tmp_path / "bad")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and named in lines[0] and not (tmp_path / "bad").exists()
