"""What a request may cost: every size that drives memory is checked against a limit before any
allocation, and a request over it is refused in one line naming the argument, the estimate and
the limit (docs/guarantees.md, "What a request may cost"). The limit is set small through
PDD_MAX_MEMORY, so no test allocates what it refuses."""

from __future__ import annotations

import time

import pytest

from pdd_core import resources
from pdd_core.apps.cli.main import main
from pdd_core.errors import ArgumentError
from tests.test_inference import train_tiny_runs

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
    }


@pytest.mark.parametrize("case", ["lattice", "ground-state batch", "energy samples", "λ steps", "frames", "ensemble", "flow ODE steps"])
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
