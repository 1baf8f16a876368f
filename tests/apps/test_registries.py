"""Systems, schemes, samplers, integrators and metrics are registries the command line, the demo and
the benchmarks read (docs/guide.md, "Plug-ins"); the built-in parts reach them through entry points,
so none is empty in a fresh interpreter; a plug-in that registers one uses it from `pdd generate
--sampler NAME`, `pdd simulate --integrator NAME --integrator-set KEY=VALUE` or `pdd evaluate`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from importlib import metadata

import attrs
import h5py
import pytest

import solvers
from pdd_core import INTEGRATORS, METRICS, SAMPLERS, SCHEMES
from pdd_core.apps.cli.main import main
from pdd_core.apps.cli.rg_flow.lattice_schemes import lattice_scheme_names
from pdd_core.errors import ConfigError
from pdd_core.metrics.metric import Metric
from pdd_core.registry import Registry
from pdd_core.sampler_recipe import SamplerOptions, SamplerRecipe
from schemes import Carosso
from tests.apps.test_inference import train_tiny_runs


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
    assert INTEGRATORS.names() == ["conditional-increment", "euler", "euler-maruyama"]
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
        def step(self, drift, history, lam, dt, coefficients, noise, state):
            steps.append(dt)
            return super().step(drift, history, lam, dt, coefficients, noise, state)

    plugin(INTEGRATORS, "counting-euler", CountingEuler)
    argv = ["simulate", str(runs["pdd"]), "--lambda", "0", "--steps", "4", "--n", "2", "--no-progress"]
    assert main([*argv, "--integrator", "counting-euler", "--out", str(tmp_path / "a.h5")]) == 0
    assert len(steps) == 4
    with h5py.File(tmp_path / "a.h5") as file:
        assert file.attrs["sampler"] == "counting-euler"
    assert main([*argv, "--integrator", "rk4", "--out", str(tmp_path / "b.h5")]) == 2
    assert "unknown time integrator" in capsys.readouterr().err
    assert main([*argv, "--integrator", "conditional-increment", "--out", str(tmp_path / "c.h5")]) == 2
    error = capsys.readouterr().err
    assert "samples the increments of a conditional-denoising run" in error and error.count("\n") == 1


# In a fresh interpreter: what each registry holds before anything imports systems, schemes or
# solvers (entry points only), then after importing them (what the packages register themselves).
FRESH_REGISTRIES = """
import json
from pdd_core import INTEGRATORS, SAMPLERS, SCHEMES, SYSTEMS
registries = {"systems": SYSTEMS, "schemes": SCHEMES, "samplers": SAMPLERS, "integrators": INTEGRATORS}
before = {kind: registry.names() for kind, registry in registries.items()}
euler = INTEGRATORS.get("euler").__name__
import schemes, solvers, systems
after = {kind: sorted(registry._entries) for kind, registry in registries.items()}
print(json.dumps({"before": before, "after": after, "euler": euler}))
"""


def test_no_registry_is_empty_in_a_fresh_interpreter():
    """``from pdd_core import INTEGRATORS, SAMPLERS`` works before ``import solvers``; the entry points list every built-in part."""
    result = subprocess.run([sys.executable, "-c", FRESH_REGISTRIES], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["euler"] == "Euler" and seen["before"]["integrators"] == ["conditional-increment", "euler", "euler-maruyama"]
    assert seen["before"]["samplers"] == ["eab2", "em", "etd", "gpc", "gpf", "gsde", "pc", "pf"]
    assert seen["before"] == seen["after"], "a built-in part is registered in its package but missing from pyproject.toml's entry points"


def test_a_plugin_that_fails_to_load_is_named_in_one_line(monkeypatch):
    broken = metadata.EntryPoint(name="broken", value="no_such_plugin_module:Thing", group="pdd.integrators")
    monkeypatch.setattr("pdd_core.registry.metadata.entry_points", lambda group: [broken] if group == "pdd.integrators" else [])
    with pytest.raises(ConfigError, match=r"pdd.integrators: broken = no_such_plugin_module:Thing.*cannot be loaded \(ModuleNotFoundError") as error:
        Registry("integrators").names()
    assert "\n" not in str(error.value)


@attrs.frozen
class ScaledEuler(solvers.Euler):
    """A plug-in integrator with an option: u + scale · f Δt."""

    scale: float = 1.0

    def step(self, drift, history, lam, dt, coefficients, noise, state):
        return history[:, -1] + self.scale * drift(history, lam) * dt, state


def test_an_integrator_gets_its_options_from_pdd_simulate(trained, tmp_path, plugin, capsys):
    data, runs = trained
    plugin(INTEGRATORS, "scaled-euler", ScaledEuler)
    argv = ["simulate", str(runs["pdd"]), "--lambda", "0", "--steps", "3", "--n", "2", "--no-progress"]
    paths = {}
    for scale in (0.0, 1.0):
        out = tmp_path / f"scale{scale}.h5"
        assert main([*argv, "--integrator", "scaled-euler", "--integrator-set", f"scale={scale}", "--out", str(out)]) == 0
        with h5py.File(out) as file:
            assert json.loads(file.attrs["settings"])["integrator_options"] == {"scale": scale}
            paths[scale] = file["train"][...]
    assert (paths[0.0] == paths[0.0][:, :1]).all() and not (paths[1.0] == paths[1.0][:, :1]).all()  # scale 0 stands still
    for options, message in (
        (["scale=x"], "--integrator-set='scale=x': ScaledEuler={'scale': 'x'}: cannot be structured"),
        (["order=2"], "--integrator-set='order': not an option of the integrator scaled-euler. Fix: use one of ['scale']"),
        (["scale"], "--integrator-set='scale': expected KEY=VALUE"),
    ):
        assert main([*argv, "--integrator", "scaled-euler", "--integrator-set", *options, "--out", str(tmp_path / "bad.h5")]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0]
    assert main([*argv, "--integrator-set", "scale=2", "--out", str(tmp_path / "bad.h5")]) == 2
    assert "drop it: euler has no options" in capsys.readouterr().err


# A metric as a plug-in writes it: one file that registers it (docs/guide.md, "Plug-ins").
METRIC_PLUGIN = """
from pdd_core.metrics import relative_l2_error
from pdd_core.metrics.metric import Metric
from pdd_core.registry import METRICS

METRICS.register("last_l2")(Metric("relative L2 error of the last frame", lambda reference, prediction: float(relative_l2_error(reference, prediction)[-1]), tasks=("simulate",)))
METRICS.register("sizes")(Metric("paths and frames compared", lambda reference, prediction: [*reference.shape[:2], *prediction.shape[:2]]))
"""

FAST_EVALUATION = ["--l2-step", "2", "--discard", "1", "--segments", "1", "--lambda-steps", "4", "--ensemble", "0", "--no-progress"]


def test_a_metric_registered_in_one_file_appears_in_pdd_evaluate(trained, tmp_path, monkeypatch, capsys):
    data, runs = trained
    monkeypatch.setattr(METRICS, "_entries", dict(METRICS._entries))  # the plug-in's registrations end with the test
    (tmp_path / "my_metrics.py").write_text(METRIC_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("my_metrics")
    monkeypatch.delitem(sys.modules, "my_metrics")
    out = tmp_path / "eval"
    argv = ["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--lambdas", "0", "--n-generate", "3", *FAST_EVALUATION]
    assert main(argv) == 0
    assert '"last_l2"' in capsys.readouterr().out  # the summary shows it beside the built-in headline metrics
    metrics = json.loads((out / "metrics.json").read_text())
    simulate = metrics["simulate"]
    for entry in simulate["by_lambda"].values():  # computed on the deterministic rollout the L2 error scores
        assert entry["last_l2"] == pytest.approx(entry["l2_curve"][-1], rel=1e-12)
    assert simulate["last_l2"] == simulate["by_lambda"]["0"]["last_l2"]
    frames = metrics["reference"]["frames"]
    paths = metrics["reference"]["paths"]
    assert simulate["sizes"][0] == paths and simulate["sizes"][1] == simulate["sizes"][3] < frames
    assert metrics["generate"]["sizes"] == [paths, frames, 3, frames] and "last_l2" not in metrics["generate"]
    assert metrics["super_resolve"]["sizes"][2:] == metrics["low_resolution"]["sizes"][2:]


def test_a_metric_may_not_overwrite_a_builtin_entry(trained, tmp_path, plugin, capsys):
    data, runs = trained
    plugin(METRICS, "l2", Metric("a second l2", lambda reference, prediction: 0.0, tasks=("simulate",)))
    out = tmp_path / "eval"
    assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--tasks", "simulate", "--lambdas", "0", *FAST_EVALUATION]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "metric='l2': clashes with the built-in entry 'l2' of simulate" in error[0]


def test_a_metric_names_known_tasks():
    with pytest.raises(ConfigError, match="tasks=.*use a subset of"):
        Metric("bad", lambda reference, prediction: 0.0, tasks=("simulation",))


@attrs.frozen
class HalfCarosso(Carosso):
    """A plug-in scheme that states its RDM lattice kernel: half the Carosso diffusion rate."""

    @classmethod
    def rdm_lattice(cls, spacing, ndim, mass):
        return cls(alpha=0.5, beta=math.sqrt(2.0) * spacing ** (-ndim / 2), mass=mass)


def test_pdd_rg_flow_takes_its_schemes_from_the_registry(tmp_path, plugin, capsys):
    plugin(SCHEMES, "half-carosso", HalfCarosso)
    names = lattice_scheme_names()
    assert {"carosso", "half-carosso", "polchinski"} <= set(names) and "variance-preserving" not in names  # which states no lattice kernel
    out = tmp_path / "flow"
    tiny = ["--set", "N=4", "thermalisation_trajectories=5", "--n-samples", "8", "--chains", "2", "--blocks", "2", "--ts", "0", "0.1", "--no-progress"]
    assert main(["rg-flow", "phi4", "--scheme", "half-carosso", *tiny, "--out", str(out)]) == 0
    config = json.loads((out / "flows.json").read_text())["schemes"]["half-carosso"]["config"]
    assert config["name"] == "half-carosso" and config["alpha"] == 0.5
    assert main(["rg-flow", "phi4", "--scheme", "variance-preserving", *tiny, "--out", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--scheme='variance-preserving': not a registered scheme with an RDM lattice kernel" in error[0]
    assert f"use one of {names}" in error[0]
