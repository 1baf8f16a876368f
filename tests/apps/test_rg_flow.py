"""Exact RG flows of lattice samples (RDM 5.20, 5.40-5.42), the rescaling comparison (5.54-5.55)
and the ``pdd rg-flow`` command.

Ground truth: a free lattice field of mass m flowed by a Fourier-diagonal scheme stays
Gaussian with, per mode (RDM normalisation, κ = |p̂|² + M², G0 = 1/(L^d(|p̂|² + m²))),

    Carosso (5.20):    G_t = e^{-2κt} G0 + (1 - e^{-2κt}) / (L^d κ)
    Polchinski (5.41): G_t = K_t² G0 + (K_t - K_t²) / (L^d κ),  K_t = e^{-κt}  (5.42, m² = M²)

which for m = M are the stationary free field of mass M (5.20) and K_t G0 (5.40).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice import FIELD_POWERS, Jackknife, compare_at, compare_flows, flow_estimators, flow_samples, iter_flow, rdm_fourier
from pdd_core.errors import ArgumentError, DTypeError, ShapeError
from pdd_core.grid import Grid
from tests.apps.test_lattice_estimators import exact_two_point, free_field, lattice_p_hat_squared

N, LENGTH, MASS = 8, 2.0, 1.0
GRID = Grid((N, N), length=LENGTH, symbol="lattice")
TS = [0.0, 0.003, 0.03, 0.3, 1.5]


def exact_flowed_two_point(scheme: str, m2: float, t: float) -> np.ndarray:
    kappa = lattice_p_hat_squared(N, LENGTH) + MASS**2
    g0 = exact_two_point(m2, N, LENGTH)
    if scheme == "carosso":
        decay = np.exp(-2 * kappa * t)
        return decay * g0 + (1 - decay) / (LENGTH**2 * kappa)
    kernel = np.exp(-kappa * t)
    return kernel**2 * g0 + (kernel - kernel**2) / (LENGTH**2 * kappa)


def mode_z_scores(fields: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """(mean |φ̃(p)|² - G)/σ per mode; |φ̃|² is G·Exp(1), or G·χ²_1 on self-conjugate modes."""
    index = np.arange(N)
    self_conjugate = ((2 * index[:, None]) % N == 0) & ((2 * index[None, :]) % N == 0)
    spread = exact * np.sqrt(np.where(self_conjugate, 2.0, 1.0) / fields.shape[0])
    return ((np.abs(rdm_fourier(fields)) ** 2).mean(axis=0) - exact) / spread


@pytest.fixture(scope="module")
def uv_samples() -> dict[float, np.ndarray]:
    rng = np.random.default_rng(21)
    return {m2: free_field(4000, m2, rng) for m2 in (MASS**2, 3.0)}


@pytest.mark.parametrize("scheme", ["carosso", "polchinski"])
@pytest.mark.parametrize("m2", [MASS**2, 3.0])
def test_chained_transitions_reproduce_the_closed_form_flow_of_the_free_field(uv_samples, scheme, m2):
    flows = flow_samples(uv_samples[m2], rdm_scheme(scheme, GRID, MASS), GRID, TS, torch.Generator().manual_seed(3))
    assert sorted(flows) == TS
    for t, fields in flows.items():
        exact = exact_flowed_two_point(scheme, m2, t)
        # Below ~1e-25 of the largest mode, FFT round-off of the other modes dominates.
        resolved = exact > 1e-25 * exact.max()
        z = mode_z_scores(fields, exact)[resolved]
        assert np.abs(z).max() < 5.0, (scheme, m2, t)
        assert abs(z.mean()) < 5.0 / math.sqrt(z.size / 2), (scheme, m2, t)


def test_flowed_free_field_estimators_match_the_definition_applied_to_the_exact_flow(uv_samples):
    """m_phys, Z and λ_R along the Carosso flow of the m² = 3 field against 7.8-7.10 evaluated on exact G_t."""
    flows = flow_samples(uv_samples[3.0], rdm_scheme("carosso", GRID, MASS), GRID, TS, torch.Generator().manual_seed(4))
    p_hat_squared = lattice_p_hat_squared(N, LENGTH)[1, 0]
    for point in flow_estimators(flows, GRID, MASS, Jackknife(n_blocks=50)):
        g = exact_flowed_two_point("carosso", 3.0, point.t)
        xi_squared = (g[0, 0] / g[1, 0] - 1.0) / p_hat_squared
        expected = {"m_phys": 1 / math.sqrt(xi_squared), "Z": LENGTH**2 * g[0, 0] / xi_squared, "lambda_R": 0.0, "G2_0": g[0, 0]}
        for name, value in expected.items():
            estimate = point.estimates[name]
            assert abs(estimate.value - value) <= 4 * estimate.error, (point.t, name, estimate, value)


def test_one_path_per_sample_is_reproducible_and_independent_of_the_order_of_ts(uv_samples):
    scheme = rdm_scheme("polchinski", GRID, MASS)
    samples = uv_samples[3.0][:16]
    first = flow_samples(samples, scheme, GRID, [0.3, 0.0, 0.03, 0.03], torch.Generator().manual_seed(5))
    again = flow_samples(samples, scheme, GRID, [0.0, 0.03, 0.3], torch.Generator().manual_seed(5))
    assert list(first) == [0.0, 0.03, 0.3]
    assert all(np.array_equal(first[t], again[t]) for t in first)
    assert np.array_equal(first[0.0], samples)
    # The first step is forward_sample from t = 0, so it equals the scheme's marginal draw.
    direct = scheme.forward_sample(torch.from_numpy(samples)[:, None, None], GRID, 0.03, torch.Generator().manual_seed(5))
    assert np.allclose(first[0.03], direct[:, 0, 0].numpy())


def test_rescaling_constant_is_exact_for_a_rescaled_copy_and_one_at_t0(uv_samples):
    samples = uv_samples[3.0][:500]
    jackknife = Jackknife(n_blocks=25)
    same = compare_at(samples, samples, GRID, 0.0, MASS, jackknife)
    assert same.c.value == pytest.approx(1.0) and same.c.error == pytest.approx(0.0, abs=1e-12) and same.residual == pytest.approx(0.0, abs=1e-12)
    doubled = compare_at(samples, 2.0 * samples, GRID, 0.3, MASS, jackknife)
    assert doubled.c.value == pytest.approx(2.0) and doubled.c.error == pytest.approx(0.0, abs=1e-12)
    for name in FIELD_POWERS:
        reference, rescaled = doubled.reference[name], doubled.rescaled_other[name]
        if math.isfinite(reference.value):
            assert rescaled.value == pytest.approx(reference.value, rel=1e-10), name
            assert rescaled.error == pytest.approx(reference.error, rel=1e-8, abs=1e-14), name


def test_rescaling_constant_of_the_free_field_flows_matches_its_closed_form(uv_samples):
    """c² = Σ_r G_car(r) G_pol(r) / Σ_r G_car(r)² with G(r) the inverse DFT of the exact flowed spectra."""
    samples = uv_samples[3.0]
    ts = [0.0, 0.05, 0.5]
    carosso = flow_samples(samples, rdm_scheme("carosso", GRID, MASS), GRID, ts, torch.Generator().manual_seed(6))
    polchinski = flow_samples(samples, rdm_scheme("polchinski", GRID, MASS), GRID, ts, torch.Generator().manual_seed(7))
    separations = np.arange(N // 2 + 1)
    for point in compare_flows(carosso, polchinski, GRID, MASS, Jackknife(n_blocks=50)):
        position = {name: np.fft.ifft2(exact_flowed_two_point(name, 3.0, point.t)).real * N**2 for name in ("carosso", "polchinski")}
        reference, other = (position[name][separations, 0] for name in ("carosso", "polchinski"))
        exact_c = math.sqrt((reference * other).sum() / (reference**2).sum())
        if point.t == 0.0:
            assert point.c.value == pytest.approx(1.0)
        else:
            assert point.c.error > 0 and abs(point.c.value - exact_c) < 4 * point.c.error, (point.t, point.c, exact_c)
        # Rescaling by 1/c divides Z by c² (FIELD_POWERS["Z"] = 2), up to the joint resampling.
        raw = flow_estimators({point.t: polchinski[point.t]}, GRID, MASS, Jackknife(n_blocks=50))[0].estimates["Z"].value
        assert point.rescaled_other["Z"].value == pytest.approx(raw / point.c.value**2, rel=1e-10)


def test_flow_and_comparison_reject_bad_arguments(uv_samples):
    samples = uv_samples[3.0][:10]
    scheme = rdm_scheme("carosso", GRID, MASS)
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ArgumentError, match="ts"):
        flow_samples(samples, scheme, GRID, [0.0, -0.1], generator)
    with pytest.raises(ArgumentError, match="ts"):
        flow_samples(samples, scheme, GRID, [], generator)
    with pytest.raises(DTypeError, match="scheme"):
        next(iter_flow(samples, "carosso", GRID, [0.1], generator))
    with pytest.raises(DTypeError, match="generator"):
        flow_samples(samples, scheme, GRID, [0.1], 0)
    with pytest.raises(ShapeError, match="other.shape"):
        compare_at(samples, samples[:5], GRID, 0.0, MASS, Jackknife())
    with pytest.raises(ArgumentError, match="other_by_t"):
        compare_flows({0.0: samples}, {0.1: samples}, GRID, MASS, Jackknife())


def test_rg_flow_command_writes_json_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    settings = ["--set", "N=8", "thermalisation_trajectories=20", "--n-samples", "48", "--chains", "4", "--blocks", "8"]
    times = ["--ts", "0", "0.01", "0.5", "--snapshot-ts", "0", "0.1"]
    code = main(["rg-flow", "phi4", "--compare", *times, "--seed", "2", "--no-progress", *settings, "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "rescaling c(t) of polchinski onto carosso" in capsys.readouterr().out
    record = json.loads((out / "flows.json").read_text())
    assert record["system"]["N"] == 8 and record["n_samples"] == 48 and record["ts"] == [0.0, 0.01, 0.1, 0.5]
    assert set(record["schemes"]) == {"carosso", "polchinski"}
    carosso = record["schemes"]["carosso"]
    assert carosso["config"]["beta"] == pytest.approx(math.sqrt(2) * 8) and carosso["config"]["mass"] == 1.0
    assert record["schemes"]["polchinski"]["config"]["beta"] == pytest.approx(8.0)
    first = carosso["flow"][0]
    assert first["t"] == 0.0 and first["r_t"] == 1.0 and set(first["estimates"]["m_R"]) == {"value", "error"}
    assert record["comparison"]["points"][0]["c"]["value"] == pytest.approx(1.0)
    assert 0 < record["hmc"]["acceptance_rate"] <= 1 and record["uv_observables"]["abs_magnetisation"]["error"] > 0
    for name in ("flows.png", "fields.png", "comparison.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["phi4", "--scheme", "carosso", "--compare"], "--compare needs two schemes"),
        (["phi4", "--n-samples", "1"], "--n-samples"),
        (["phi4", "--ts", "0", "-1"], "ts="),
        (["phi4", "--mass", "0"], "--mass"),
        (["lorenz96"], "SYSTEM"),
        (["phi4", "--set", "N=1"], "N"),
    ],
)
def test_rg_flow_command_rejects_bad_arguments_with_one_line(tmp_path, capsys, arguments, fragment):
    assert main(["rg-flow", *arguments, "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pdd rg-flow: error:") and fragment in lines[0]


def test_rg_flow_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["rg-flow", "--help"])
    assert exit_.value.code == 0 and "examples:" in capsys.readouterr().out
