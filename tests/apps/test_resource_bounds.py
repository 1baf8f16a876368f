"""What a request may cost: every size that drives memory is checked against a limit before any
allocation, and a request over it is refused in one line naming the argument, the estimate and
the limit (docs/guarantees.md, "What a request may cost"). The limit is set small through
PDD_MAX_MEMORY, so no test allocates what it refuses."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from pdd_core import resources
from pdd_core.apps.cli.main import main
from pdd_core.errors import ArgumentError
from tests.apps.test_inference import train_tiny_runs
from tests.apps.test_strict_options import one_error_line
from tests.apps.test_trainer import write_layout

HUGE = "1000000000"
TINY_GROUND_STATE = ["ground-state", "free", "--set", "d=1", "N=4", "ode_steps=2", "hidden=2", "--steps", "2", "--batch-size", "4", "--eval-samples", "4"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    data, runs = train_tiny_runs(tmp_path_factory.mktemp("bounds"))
    return data, runs["pdd"]


def requests(data, run) -> dict[str, tuple[list[str], str]]:
    """The requests a probe found taking the machine down or running silently, and the argument each must be refused under."""
    return {
        "lattice": (["ground-state", "free", "--set", "d=1", "N=100000000"], "--set N=100000000"),
        "ground-state batch": (["ground-state", "free", "--set", "d=1", "N=4", "--batch-size", HUGE], f"--batch-size={HUGE}"),
        "energy samples": (["ground-state", "free", "--set", "d=1", "N=4", "--eval-samples", HUGE], f"--eval-samples={HUGE}"),
        "λ steps": (["generate", str(run), "--n", "2", "--frames", "4", "--steps", HUGE], f"--steps={HUGE}"),
        "frames": (["generate", str(run), "--n", "2", "--frames", "100000"], "--frames=100000"),
        "ensemble": (["evaluate", str(run), "--data", str(data), "--ensemble", "1000000"], "--ensemble=1000000"),
        "flow ODE steps": (["rg-flow", "phi4", "--flow", "rdm", "--flow-ode-steps", HUGE], f"--flow-ode-steps={HUGE}"),
        "long rollouts": (["evaluate", str(run), "--data", str(data), "--ensemble", "0", "--long-steps", HUGE], f"--long-steps={HUGE}"),
    }


@pytest.mark.parametrize("case", ["lattice", "ground-state batch", "energy samples", "λ steps", "frames", "ensemble", "flow ODE steps", "long rollouts"])
def test_a_request_over_the_limit_is_refused_in_one_line_before_any_work(case, tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(resources.MEMORY_ENV, "1GiB")
    argv, argument = requests(*tiny)[case]
    if case == "lattice":  # refused before the Hamiltonian, which already takes a few arrays of N^d values, is built
        monkeypatch.setattr("pdd_core.apps.cli.ground_state.LatticeHamiltonian", lambda **values: pytest.fail(f"built a Hamiltonian of {values}"))
    out = tmp_path / ("out.h5" if argv[0] == "generate" else "out")
    started = time.perf_counter()
    assert main([*argv, "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert f"error: {argument}: the request needs about " in error
    assert "more than the limit of 1.1 GB (PDD_MAX_MEMORY=1GiB)" in error and "--max-memory" in error
    assert not out.exists()  # refused before the output was even opened
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("case", ["ground-state", "generate"])
def test_a_tiny_request_is_refused_under_a_tiny_limit_and_runs_when_it_is_raised(case, tiny, tmp_path, capsys, monkeypatch):
    data, run = tiny
    argv = TINY_GROUND_STATE if case == "ground-state" else ["generate", str(run), "--n", "2", "--frames", "4", "--steps", "2"]
    monkeypatch.setenv(resources.MEMORY_ENV, "10kB")
    assert main([*argv, "--out", str(tmp_path / "refused"), "--no-progress"]) == 2
    assert "more than the limit of 10.0 kB (PDD_MAX_MEMORY=10kB)" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "accepted"), "--no-progress", "--max-memory", "4GiB"]) == 0
    assert (tmp_path / "accepted").exists()


def test_the_limit_comes_from_max_memory_then_the_environment_then_the_available_memory(monkeypatch):
    monkeypatch.delenv(resources.MEMORY_ENV, raising=False)
    monkeypatch.setattr(resources, "available_memory", lambda: 10e9)
    assert resources.memory_limit() == resources.MemoryLimit(8e9, "80% of the 10.0 GB available")
    monkeypatch.setenv(resources.MEMORY_ENV, "2.5")
    assert resources.memory_limit() == resources.MemoryLimit(2.5 * 2**30, "PDD_MAX_MEMORY=2.5")
    with resources.memory_limit_from("500MB"):
        assert resources.memory_limit() == resources.MemoryLimit(500e6, "--max-memory 500MB")
    assert resources.memory_limit().bytes == 2.5 * 2**30


@pytest.mark.parametrize(("text", "size"), [("64GiB", 64 * 2**30), ("500MB", 500e6), ("16", 16 * 2**30), ("1.5 tb", 1.5e12), ("2048 kib", 2**21), ("1e3b", 1e3)])
def test_sizes_are_read_with_their_unit(text, size):
    assert resources.parse_memory(text) == size


def test_the_available_memory_respects_the_address_space_limit(monkeypatch):
    monkeypatch.setattr(resources.resource, "getrlimit", lambda which: (3 * 2**30, resources.resource.RLIM_INFINITY))
    assert resources.available_memory() <= 3 * 2**30


@pytest.mark.parametrize("text", ["lots", "-3", "0", "12 parsecs", ""])
def test_a_bad_limit_is_refused_in_one_line_even_by_a_command_that_allocates_little(text, tiny, capsys, monkeypatch):
    with pytest.raises(ArgumentError, match="expected a positive size"):
        resources.parse_memory(text)
    monkeypatch.setenv(resources.MEMORY_ENV, text)
    assert main(["data", "info", str(tiny[0])]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"PDD_MAX_MEMORY={text!r}" in error


def test_the_message_names_the_largest_part_and_the_total(monkeypatch):
    monkeypatch.setenv(resources.MEMORY_ENV, "1MB")
    terms = [resources.MemoryTerm("--n", 7, 2e6, "the paths"), resources.MemoryTerm("--frames", 9, 1e6, "the covariance")]
    with pytest.raises(ArgumentError) as refusal:
        resources.check_memory(terms)
    assert str(refusal.value).startswith("--n=7: the request needs about 3.0 MB of memory, 2.0 MB of it for the paths, more than the limit of 1.0 MB")
    resources.check_memory([resources.MemoryTerm("--n", 1, 1e6, "the paths")])  # at the limit: accepted


# -- pdd train: a training step's activations, from the command line, --set and TOML ---------------------------


@pytest.fixture(scope="module")
def long_paths(tmp_path_factory):
    """Four paths of 2000 frames on 16 points: one path's windows alone outgrow a 1 MB limit."""
    data = tmp_path_factory.mktemp("long") / "long.h5"
    write_layout(data, np.random.default_rng(0).normal(size=(4, 2000, 2, 16)), dt=0.1)
    return data


TRAIN = ["train", "--model", "unet", "--preset", "tiny", "--no-progress"]


@pytest.mark.parametrize(
    ("options", "limit", "named"),
    [
        (["--batch-size", HUGE], "1GiB", f"batch_size={HUGE}: the request needs about "),
        (["--set", "batch_size=100000000"], "1GiB", "batch_size=100000000: the request needs about "),
        (["--set", "model.overrides.base=100000000"], "1GiB", "model.overrides={'base': 100000000}: the request needs about "),
        (["--preset", "paper"], "100kB", "model.preset='paper': the request needs about "),
        (["--window", HUGE], "1GiB", f"window={HUGE}: the request needs about "),
        (["--frames", "2000", "--batch-size", "2"], "1MB", "frames=2000: the request needs about "),
        (["toml"], "1GiB", "batch_size=100000000: the request needs about "),
    ],
)
def test_pdd_train_refuses_a_training_step_too_large_to_hold_before_building_the_network(options, limit, named, long_paths, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(resources.MEMORY_ENV, limit)
    monkeypatch.setattr("pdd_core.apps.trainer.loop.build_model", lambda *args, **kwargs: pytest.fail("built the network"))
    run = tmp_path / "run"
    if options == ["toml"]:  # the same sizes read from a TOML config
        config = tmp_path / "config.toml"
        config.write_text(f'data = "{long_paths}"\nbatch_size = 100000000\n')
        options = [str(config)]
    assert main([*TRAIN, "--data", str(long_paths), "--out", str(run), *options]) == 2
    error = one_error_line(capsys)
    assert named in error and "of memory" in error and f"(PDD_MAX_MEMORY={limit})" in error
    assert not run.exists()


def test_pdd_train_counts_activations_in_proportion_to_batch_frames_points_and_width(monkeypatch):
    """The estimate grows with each size it reads, so a wide network or a long path cannot slip through."""
    from pdd_core.apps.cli import request_costs
    from pdd_core.grid import Grid
    from pdd_core.training import ModelConfig, TrainConfig

    seen = []
    monkeypatch.setattr(request_costs, "check_memory", lambda terms: seen.append(sum(term.bytes for term in terms)))

    def estimate(grid=Grid((16,), channels=2), path_frames=20, **changes):
        seen.clear()
        settings = {"batch_size": 4, "window": 3, "model": ModelConfig(name="unet", preset="tiny"), "scheme": {"name": "carosso"}} | changes
        request_costs.check_training(TrainConfig(**settings), grid, path_frames)
        return seen[-1]

    base = estimate()
    assert estimate(batch_size=8) > 1.9 * base and estimate(path_frames=40) > 1.9 * base and estimate(grid=Grid((32,), channels=2)) > 1.9 * base
    assert estimate(model=ModelConfig(name="unet", preset="small")) > 2 * base and estimate(model=ModelConfig(name="fno", preset="paper")) > 2 * base
    assert estimate(dtype="float64") > 1.9 * base
    assert estimate(path_frames=40, frames=10) < base  # sub-paths (frames) mean fewer windows


# -- pdd data generate: one path of the grid, then a chunk ------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["linear", "--set", "shape=[100000,100000]"], "--set='shape=[100000,100000]': the request needs about "),
        (["lorenz96", "--set", "K=100000000"], "--set='K=100000000': the request needs about "),
        (["lorenz96", "--n-train", HUGE, "--chunk-paths", HUGE], f"--chunk-paths={HUGE}: the request needs about "),
    ],
)
def test_pdd_data_generate_refuses_a_chunk_too_large_to_hold_before_drawing(options, named, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(resources.MEMORY_ENV, "1GiB")
    monkeypatch.setattr("pdd_core.apps.cli.data.generate_dataset", lambda *args, **kwargs: pytest.fail("started generating"))
    out = tmp_path / "data.h5"
    assert main(["data", "generate", *options, "--out", str(out), "--no-progress"]) == 2
    assert named in one_error_line(capsys)
    assert not out.exists()


def test_pdd_data_generate_names_the_split_when_the_chunk_is_the_whole_split(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(resources.MEMORY_ENV, "100kB")
    assert main(["data", "generate", "linear", "--set", "shape=[16]", "--n-train", "40", "--out", str(tmp_path / "d.h5"), "--no-progress"]) == 2
    assert "--n-train=40: the request needs about " in one_error_line(capsys)


# -- pdd simulate and pdd super-resolve: the paths they hold ----------------------------------------------------


def test_a_path_scores_sampler_counts_the_networks_activations_per_batch_of_paths(monkeypatch):
    """Generation, super-resolution and evaluate's sampling tasks count windows x points x features x 4 bytes x the
    training factor for the working batch; a score without the drift's gradient (network None) counts none."""
    from pdd_core.apps.cli import request_costs
    from pdd_core.apps.evaluation.run_metrics import EvaluationSettings
    from pdd_core.grid import Grid
    from pdd_core.training import ModelConfig, TrainConfig

    seen = []
    monkeypatch.setattr(request_costs, "check_memory", lambda terms: seen.append(terms))
    grid, frames = Grid((16, 16), channels=1), 10
    network = TrainConfig(batch_size=4, window=3, model=ModelConfig(name="unet", preset="tiny"), scheme={"name": "carosso"})
    per_path = frames * 256 * request_costs.network_features("unet", 2, "tiny", {}) * 4 * request_costs.ACTIVATION_COPIES["unet"]

    def activations(check, *args, **kwargs):
        seen.clear()
        check(*args, **kwargs)
        return [(term.name, term.value, term.bytes) for term in seen[-1] if "activations" in term.what]

    for check in (request_costs.check_generation, request_costs.check_super_resolution):
        assert activations(check, grid, 8, frames, None, marginal=False, network=network) == [("--n", 8, 8 * per_path)]
        assert activations(check, grid, 8, frames, 3, marginal=False, network=network) == [("--batch-size", 3, 3 * per_path)]
        assert activations(check, grid, 8, frames, None, marginal=False) == []
    wide = TrainConfig(batch_size=4, window=3, model=ModelConfig(name="unet", preset="small"), scheme={"name": "carosso"})
    assert activations(request_costs.check_generation, grid, 8, frames, None, marginal=False, network=wide)[0][2] > 2 * 8 * per_path

    def evaluation(tasks, **changes):
        settings = EvaluationSettings(**{"n_generate": 6, "n_super_resolve": 9, "ensemble": 0, **changes})
        return activations(request_costs.check_evaluation, grid, 4, frames, settings, False, network=network, tasks=tasks)

    assert evaluation(("generate",)) == [("--n-generate", 6, 6 * per_path)]
    assert evaluation(("generate", "super-resolve")) == [("--n-super-resolve", 9, 9 * per_path)]  # the larger of the two
    assert evaluation(("generate", "super-resolve"), batch_size=2) == [("--batch-size", 2, 2 * per_path)]
    assert evaluation(("simulate",)) == []
    # Each task counts what it holds: the long rollouts for simulate and super-resolve's inputs, the ensemble for simulate only.
    def names(tasks, **changes):
        seen.clear()
        request_costs.check_evaluation(grid, 4, frames, EvaluationSettings(**changes), False, tasks=tasks)
        return {term.name for term in seen[-1]}

    assert names(("generate",), ensemble=2, long_steps=10**6) == {"--n-generate"}
    assert names(("super-resolve",), ensemble=2, long_steps=10**6) == {"--discard", "--n-super-resolve"}
    assert names(("simulate",), ensemble=2, long_steps=10**6) == {"--ensemble", "--long-steps"}



@pytest.mark.parametrize(("options", "named"), [(["--steps", HUGE], f"--steps={HUGE}"), (["--steps", "1000000", "--n", "3"], "--n=3")])
def test_pdd_simulate_refuses_more_frames_than_it_can_hold_before_the_rollout(options, named, tiny, tmp_path, capsys, monkeypatch):
    data, run = tiny
    monkeypatch.setenv(resources.MEMORY_ENV, "1GiB")
    monkeypatch.setattr("pdd_core.apps.cli.simulate.simulate_run", lambda *args, **kwargs: pytest.fail("started the rollout"))
    out = tmp_path / "sim.h5"
    assert main(["simulate", str(run), "--data", str(data), "--lambda", "0", *options, "--out", str(out), "--no-progress"]) == 2
    assert f"{named}: the request needs about " in one_error_line(capsys)
    assert not out.exists()


def test_pdd_super_resolve_refuses_input_paths_too_many_for_its_sampler(tiny, tmp_path, capsys, monkeypatch):
    data, run = tiny
    monkeypatch.setenv(resources.MEMORY_ENV, "10kB")
    monkeypatch.setattr("pdd_core.apps.cli.super_resolve.super_resolve_run", lambda *args, **kwargs: pytest.fail("started sampling"))
    out = tmp_path / "sr.h5"
    assert main(["super-resolve", str(run), "--input", str(data), "--coarse-grain", "--from-lambda", "0.2", "--out", str(out), "--no-progress"]) == 2
    error = one_error_line(capsys)
    assert "--n=4: the request needs about " in error and "the paths under the sampler" in error  # the test split's 4 paths
    assert not out.exists()


# -- pdd demo: its fixed sizes go through the same checks -------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "changes", "limit", "named"),
    [
        (None, {}, "10kB", "--system='lorenz96': the request needs about "),
        ("train", {"batch_size": 100000000}, "1GiB", "batch_size=100000000: the request needs about "),
        ("evaluate", {"ensemble": 10000000}, "1GiB", "--ensemble=10000000: the request needs about "),
    ],
)
def test_pdd_demo_sizes_go_through_the_checks_of_generate_train_and_evaluate_before_any_work(part, changes, limit, named, tmp_path, capsys, monkeypatch):
    from pdd_core.apps.cli import demo

    if part is not None:
        monkeypatch.setitem(demo.DEMOS, "lorenz96", {**demo.DEMOS["lorenz96"], part: {**demo.DEMOS["lorenz96"][part], **changes}})
    monkeypatch.setenv(resources.MEMORY_ENV, limit)
    monkeypatch.setattr(demo, "generate_dataset", lambda *args, **kwargs: pytest.fail("started generating the data"))
    assert main(["demo", "--out", str(tmp_path / "demo"), "--no-progress"]) == 2
    assert named in one_error_line(capsys)
    assert not (tmp_path / "demo" / "data.h5").exists()


# -- honest JSON: a NaN metric is written as null and listed, never as a bare NaN ---------------------------------


def strict_json(path) -> dict:
    """The file parsed as standard JSON: a bare NaN or Infinity fails the test."""
    return json.loads(path.read_text(), parse_constant=lambda token: pytest.fail(f"{path.name} holds a bare {token}"))


def test_a_nan_metric_is_written_as_null_and_listed_in_metrics_and_summary(tmp_path, capsys, monkeypatch):
    from pdd_core.apps.cli import demo
    from pdd_core.apps.evaluation import run_metrics
    from pdd_core.errors import DivergenceError

    tiny = {**demo.DEMOS["lorenz96"], "data": {"n_train": 4, "n_valid": 2, "n_test": 2}, "settings": {"burn_in": 2.0}}
    tiny["train"] = {**tiny["train"], "batch_size": 4}
    tiny["evaluate"] = {"n_paths": 2, "keep_segments": 1, "n_generate": 2, "n_super_resolve": 2, "discard_segments": 1}
    monkeypatch.setitem(demo.DEMOS, "lorenz96", tiny)

    def diverging(*args, **kwargs):  # only the low-resolution baseline runs, which keeps the test fast
        raise DivergenceError("the paths turned NaN")

    for task in ("simulate", "generate"):
        monkeypatch.setattr(run_metrics._Tasks, task, diverging)
    monkeypatch.setattr(run_metrics, "super_resolve_run", diverging)
    monkeypatch.setattr(run_metrics, "relative_spectral_error", lambda *args: float("nan"))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "2", "--no-progress"]) == 2  # the failed tasks fail it, after the results are written
    metrics = strict_json(out / "evaluation" / "metrics.json")
    assert metrics["low_resolution"]["spectral_error"] is None and "low_resolution.spectral_error" in metrics["non_finite"]
    summary = strict_json(out / "summary.json")
    assert summary["metrics"]["low_resolution_spectral_error"] is None and "metrics.low_resolution_spectral_error" in summary["non_finite"]
    assert "NaN" not in capsys.readouterr().out


def test_json_record_turns_every_non_finite_number_into_null_and_names_it():
    import torch

    from pdd_core.files import json_record

    record = {"a": float("nan"), "b": {"c": [1.0, -math.inf, np.float64("nan")], "d": torch.tensor(2.0)}, "e": "text"}
    assert json_record(record) == {"a": None, "b": {"c": [1.0, None, None], "d": 2.0}, "e": "text", "non_finite": ["a", "b.c[1]", "b.c[2]"]}
    assert "non_finite" not in json_record({"a": 1.0})


def test_pdd_evaluate_stays_a_success_with_a_nan_metric_written_as_null(tiny, tmp_path, capsys, monkeypatch):
    from pdd_core.apps.evaluation import run_metrics
    from tests.apps.test_evaluate import FAST

    data, run = tiny
    monkeypatch.setattr(run_metrics, "relative_spectral_error", lambda *args: float("nan"))
    out = tmp_path / "evaluation"
    assert main(["evaluate", str(run), "--data", str(data), "--out", str(out), "--tasks", "generate", *FAST]) == 0
    metrics = strict_json(out / "metrics.json")
    assert metrics["generate"]["spectral_error"] is None and "generate.spectral_error" in metrics["non_finite"]
    printed = capsys.readouterr().out
    assert "NaN" not in printed and '"spectral_error": null' in printed
