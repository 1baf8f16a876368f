"""Issue 14: samplers and integrators are registries the command line, the demo and the benchmarks read;
a plug-in that registers one uses it from `pdd generate --sampler NAME` / `pdd simulate --integrator NAME`."""

from __future__ import annotations

import json

import attrs
import h5py
import pytest

import solvers
from pdd_core import INTEGRATORS, SAMPLERS
from pdd_core.apps.cli.main import main
from pdd_core.sampler_recipe import SamplerOptions, SamplerRecipe
from tests.test_inference import train_tiny_runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_runs(tmp_path_factory.mktemp("registries"))


@pytest.fixture
def plugin(monkeypatch):
    """Register parts as a plug-in would, and remove them afterwards."""

    def add(registry, name, entry):
        monkeypatch.setitem(registry._entries, name, entry)

    return add


@attrs.frozen
class CountingETD(solvers.ETDPredictor):
    calls: list = attrs.field(factory=list)

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        self.calls.append(float(lam_from.reshape(-1)[0]))
        return super().step(score, u, lam_from, lam_to, coefficients, noise, state, boundary)


def test_the_builtin_names_are_registered():
    assert SAMPLERS.names() == ["eab2", "em", "etd", "gpc", "gpf", "gsde", "pc", "pf"]
    assert INTEGRATORS.names() == ["euler", "euler-maruyama"]
    pc = SAMPLERS.get("pc").build(SamplerOptions(snr=0.3, corrector_steps=2))
    assert (pc.corrector.snr, pc.corrector_steps) == (0.3, 2) and SAMPLERS.get("pc").provenance(pc) == {"snr": 0.3, "corrector_steps": 2}
    assert SAMPLERS.get("gpc").marginal and not SAMPLERS.get("pc").marginal


def test_a_registered_sampler_is_usable_from_pdd_generate(trained, tmp_path, plugin, capsys):
    data, runs = trained
    sampler = CountingETD()
    plugin(SAMPLERS, "counting-etd", SamplerRecipe("ETD that counts its steps", lambda options: sampler))
    out = tmp_path / "gen.h5"
    argv = ["generate", str(runs["denoising"]), "--n", "2", "--frames", "3", "--sampler", "counting-etd", "--steps", "7", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert len(sampler.calls) == 7
    with h5py.File(out) as file:
        assert json.loads(file.attrs["settings"])["sampler"] == "counting-etd"
    assert main([*argv[:-3], "--snr", "0.5", "--out", str(tmp_path / "other.h5"), "--no-progress"]) == 2
    assert "--snr=0.5: does not apply to counting-etd (the samplers that read it: pc)" in capsys.readouterr().err


def test_a_registered_integrator_is_usable_from_pdd_simulate(trained, tmp_path, plugin, capsys):
    data, runs = trained
    steps = []

    @attrs.frozen
    class CountingEuler(solvers.Euler):
        def step(self, drift, history, lam, dt, sigma, generator):
            steps.append(dt)
            return super().step(drift, history, lam, dt, sigma, generator)

    plugin(INTEGRATORS, "counting-euler", CountingEuler)
    argv = ["simulate", str(runs["pdd"]), "--lambda", "0", "--steps", "4", "--n", "2", "--no-progress"]
    assert main([*argv, "--integrator", "counting-euler", "--out", str(tmp_path / "a.h5")]) == 0
    assert len(steps) == 4
    with h5py.File(tmp_path / "a.h5") as file:
        assert file.attrs["sampler"] == "counting-euler"
    assert main([*argv, "--integrator", "rk4", "--out", str(tmp_path / "b.h5")]) == 2
    assert "unknown time integrator" in capsys.readouterr().err
