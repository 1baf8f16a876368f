"""RDM 5.49-5.50: the Carosso flow with an a-priori field rescaling c_t = e^{g t}, against the sample-based c of 5.55."""

import json
import math

import numpy as np
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice import Jackknife, compare_flows, flow_samples
from pdd_core.grid import Grid
from schemes import Carosso, RescaledCarosso

GRID = Grid((4, 4), length=1.0, symbol="lattice")


def test_the_rescaled_kernel_is_carosso_with_every_rate_lowered_by_the_growth():
    """C̃ = e^{-(κ-g)t}, Σ̃ = β²(1 - e^{-2(κ-g)t})/(2(κ-g)) per mode, and β² t on the zero mode when g = M²."""
    scheme, plain = rdm_scheme("carosso-rescaled", GRID, 1.5), rdm_scheme("carosso", GRID, 1.5)
    assert isinstance(scheme, RescaledCarosso) and scheme.growth == 1.5**2 and scheme.rdm_kernel == "5.50"
    t = torch.tensor([0.3], dtype=torch.float64)
    rescaled, carosso = scheme.marginal(GRID, t), plain.marginal(GRID, t)
    rate = plain.rate(GRID, 0.0) - scheme.growth
    torch.testing.assert_close(rescaled.damping, carosso.damping * math.exp(scheme.growth * 0.3))
    moving = rate != 0  # all but the zero mode, whose rate M² - g is 0
    torch.testing.assert_close(rescaled.variance[moving], (scheme.beta**2 * -torch.expm1(-2 * rate * 0.3) / (2 * rate))[moving])
    assert int(moving.sum()) == 11 and float(rescaled.damping.flatten()[0]) == 1.0
    assert float(rescaled.variance.flatten()[0]) == pytest.approx(scheme.beta**2 * 0.3)
    same = RescaledCarosso(alpha=1.0, beta=plain.beta, mass=1.5, growth=0.0).marginal(GRID, t)
    torch.testing.assert_close(same.variance, carosso.variance)
    assert scheme.field_rescaling(0.3) == pytest.approx(math.exp(2.25 * 0.3))


def test_where_the_zero_mode_dominates_the_sample_based_c_of_5_55_recovers_the_a_priori_c_t():
    """Two vacua ±A (a deep broken phase): Carosso damps the mean by e^{-M²t}, the rescaled flow keeps it, so
    c(t) = e^{M²t} up to the noise the flows add (< 1 % here)."""
    generator = np.random.default_rng(0)
    vacua = np.where(generator.random(256) < 0.5, -1.0, 1.0)[:, None, None] * 400.0 + generator.normal(size=(256, 4, 4))
    ts = [0.0, 0.2, 0.5]
    carosso = flow_samples(vacua, rdm_scheme("carosso", GRID, 1.0), GRID, ts, torch.Generator().manual_seed(1))
    rescaled = flow_samples(vacua, rdm_scheme("carosso-rescaled", GRID, 1.0), GRID, ts, torch.Generator().manual_seed(1))
    for point in compare_flows(carosso, rescaled, GRID, 1.0, Jackknife(n_blocks=16)):
        assert point.c.value == pytest.approx(math.exp(point.t), rel=0.01), point.t


def test_pdd_rg_flow_compare_records_the_a_priori_c_beside_the_fitted_one(tmp_path):
    theory = ["--set", "N=4", "m2=0.5", "lam=0.5", "--n-samples", "32", "--chains", "2", "--blocks", "4", "--ts", "0", "0.1", "1"]
    assert main(["rg-flow", "phi4", "--scheme", "carosso", "carosso-rescaled", "--compare", *theory, "--no-progress", "--out", str(tmp_path / "out")]) == 0
    comparison = json.loads((tmp_path / "out" / "flows.json").read_text())["comparison"]
    assert comparison["ts"] == [0.0, 0.1, 1.0] and comparison["a_priori_c"] == pytest.approx([1.0, math.exp(0.1), math.e])
    assert len(comparison["points"]) == 3
    assert main(["rg-flow", "phi4", "--compare", *theory, "--no-progress", "--out", str(tmp_path / "plain")]) == 0
    assert "a_priori_c" not in json.loads((tmp_path / "plain" / "flows.json").read_text())["comparison"]  # neither scheme rescales
    assert Carosso.rdm_kernel == "5.20"


def test_the_within_scheme_heuristic_5_53_rescales_the_couplings_and_fits_b():
    """r = Λ_{t*+δt'}/Λ_{t*} from 7.3-7.4; m², λ scale by r^d and a² by r^{d+2}; b of a field scaled by 1.3 is 1.3."""
    from pdd_core.apps.lattice.rg_flow import cutoff_ratio, within_scheme_rescaling
    from pdd_core.errors import PDDError
    from systems.phi4 import LatticePhi4

    ratio = cutoff_ratio(0.1, 0.2, 1.0, GRID)
    assert ratio == pytest.approx(math.sqrt((1 / 0.3 - 1) / (1 / 0.1 - 1)))
    theory = LatticePhi4(N=4, m2=-2.0, lam=0.5, a=1.5)
    rescaled = theory.with_couplings_rescaled(ratio)
    assert (rescaled.m2, rescaled.lam, rescaled.a**2) == pytest.approx((-2.0 * ratio**2, 0.5 * ratio**2, 2.25 * ratio**4))
    fields = np.random.default_rng(0).normal(size=(64, 4, 4))
    point = within_scheme_rescaling(fields, 1.3 * fields, GRID, 0.3, 1.0, Jackknife(n_blocks=8))
    assert point.c.value == pytest.approx(1.3) and point.residual == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(PDDError, match=r"dt=1.0: takes the cutoff to 0"):
        cutoff_ratio(0.1, 1.0, 1.0, GRID)
    with pytest.raises(PDDError, match=r"ratio=1.5: must be a cutoff ratio in \(0, 1\]"):
        theory.with_couplings_rescaled(1.5)
