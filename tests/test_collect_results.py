"""experiments/collect_results.py: table cells from metrics files (mean ± std, diverged, not run)."""

import importlib.util
import json
import pathlib

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "collect_results.py"


@pytest.fixture
def collector(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("collect_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module


def write(root: pathlib.Path, name: str, metrics: dict) -> None:
    (root / "l96_small" / name).mkdir(parents=True)
    (root / "l96_small" / name / "metrics.json").write_text(json.dumps(metrics))


def test_cells_average_over_seeds_and_name_divergence(collector, tmp_path):
    write(tmp_path, "pdd_seed0_sr", {"generate": {"spectral_error": 1.0}, "super_resolve": {"failed": "sample=λ = 0.0931: the sample became NaN"}})
    write(tmp_path, "pdd_seed1_sr", {"generate": {"spectral_error": 2.0}, "super_resolve": {"failed": "sample=λ = 0.092: the sample became NaN"}})
    assert collector.over_seeds("l96_small", "pdd", "generate", collector.spectral, "_sr") == "1.500 (±0.707; seeds: 1.000, 2.000)"
    assert collector.over_seeds("l96_small", "pdd", "super_resolve", collector.spectral, "_sr") == "diverged (λ = 0.0931, λ = 0.092)"
    assert collector.over_seeds("l96_small", "ddpm_generation", "generate", collector.spectral) == "not run"
    write(tmp_path, "ddpm_generation_seed0", {"generate": {"spectral_error": 1.5e6}})
    assert collector.over_seeds("l96_small", "ddpm_generation", "generate", collector.spectral) == "1.5e+06 (1 seed)"


def test_a_partly_diverged_row_keeps_its_finite_seeds(collector, tmp_path):
    write(tmp_path, "pdd_seed0", {"simulate": {"by_lambda": {"0": {"l2": 0.5, "spectral_error": 1.0}}}})
    write(tmp_path, "pdd_seed1", {"simulate": {"failed": "rollout diverged"}})
    cell = collector.over_seeds("l96_small", "pdd", "simulate", collector.simulate("0", "l2"))
    assert cell == "0.500 (1 seed); diverged: failed"
