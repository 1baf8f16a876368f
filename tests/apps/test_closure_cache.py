"""The fitted climate closure kept beside its run: read back instead of refitted, never stale, never fatal."""

from __future__ import annotations

import os

import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.inference import climate_closure
from pdd_core.apps.inference.climate_closure import ClimateClosure
from pdd_core.apps.inference.closure_cache import ClosureCache, StoredFit
from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.trainer.checkpoint import checkpoint_path
from pdd_core.drifts.mode_correction import ModeCorrection
from tests.apps.test_inference import train_tiny_runs

SIZES = {"paths": 4, "steps": 40, "burn_in": 10}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_runs(tmp_path_factory.mktemp("closure_cache"))


def closure(run, data, directory, *, seed=0, **settings):
    return ClimateClosure(ResidualNoise(run, data, seed=seed), cache=ClosureCache(directory), **{**SIZES, **settings})


def counting_calibrations(monkeypatch):
    calls = []
    original = climate_closure.simulate_run

    def counted(*args, **kwargs):
        calls.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(climate_closure, "simulate_run", counted)
    return calls


def test_a_stored_fit_is_read_back_whole_and_other_settings_are_refitted(trained, tmp_path, monkeypatch):
    data, runs = trained
    run = load_run(runs["pdd"])
    calls = counting_calibrations(monkeypatch)
    first = closure(run, data, tmp_path)
    sigma, correction = first(0.1), first.correction(0.1)
    fitted = len(calls)
    assert fitted == 3 and len(list(tmp_path.glob("lambda0.1_*.pt"))) == 1  # two rounds and the check
    second = closure(run, data, tmp_path)
    assert torch.equal(second(0.1), sigma) and torch.equal(second.correction(0.1).linear, correction.linear) and torch.equal(second.correction(0.1).offset, correction.offset)
    assert second.rounds == first.rounds and second.describe() == first.describe() and len(calls) == fitted  # read, not refitted, its record whole
    closure(run, data, tmp_path, seed=1)(0.1)  # another calibration noise
    closure(run, data, tmp_path, iterations=1)(0.1)  # other settings
    closure(run, data, tmp_path)(0.2)  # another λ
    assert len(calls) == fitted + 3 + 2 + 3 and len(list(tmp_path.glob("*.pt"))) == 4


def test_a_retrained_run_does_not_read_the_old_fit(trained, tmp_path, monkeypatch):
    data, runs = trained
    run = load_run(runs["pdd"])
    calls = counting_calibrations(monkeypatch)
    closure(run, data, tmp_path)(0.1)
    checkpoint = checkpoint_path(runs["pdd"])
    stat = checkpoint.stat()
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # what a retraining leaves: another checkpoint file
    closure(run, data, tmp_path)(0.1)
    assert len(calls) == 6 and len(list(tmp_path.glob("*.pt"))) == 2


def test_a_damaged_or_unwritable_cache_costs_a_refit_and_a_note(trained, tmp_path, monkeypatch, capsys):
    data, runs = trained
    run = load_run(runs["pdd"])
    calls = counting_calibrations(monkeypatch)
    expected = closure(run, data, tmp_path)(0.1)
    (stored,) = tmp_path.glob("*.pt")
    stored.write_bytes(b"not a torch file")
    assert torch.equal(closure(run, data, tmp_path)(0.1), expected) and len(calls) == 6
    assert "cannot be read" in capsys.readouterr().err
    assert torch.equal(closure(run, data, tmp_path)(0.1), expected) and len(calls) == 6  # the refit replaced the damaged file
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    assert torch.equal(closure(run, data, blocked / "closures")(0.1), expected)  # a path inside a file: not writable
    assert "is not kept" in capsys.readouterr().err


def test_pdd_simulate_keeps_the_closure_beside_the_run_and_reads_it_the_second_time(trained, tmp_path, monkeypatch):
    data, runs = trained
    calls = counting_calibrations(monkeypatch)
    command = ["simulate", str(runs["pdd"]), "--lambda", "0.1", "--steps", "4", "--n", "2", "--noise", "--no-progress"]
    assert main([*command, "--out", str(tmp_path / "a.h5")]) == 0
    fitted = len(calls)
    assert fitted > 0 and len(list((runs["pdd"] / "closures").glob("lambda0.1_*.pt"))) == 1
    assert main([*command, "--out", str(tmp_path / "b.h5")]) == 0
    assert len(calls) == fitted


def test_a_stored_fit_keeps_whether_the_secant_fell_back_to_the_linear_rule_its_noise_scales_and_overshoots(tmp_path):
    cache = ClosureCache(tmp_path)
    sigma, correction = torch.ones(1, 2, 5), ModeCorrection(torch.zeros(1, 2, 5), torch.zeros(1, 2))
    for fell_back in (True, False):
        identity = {"lam": 0.0, "which": fell_back}
        overshoots = {"retry_rounds": int(fell_back), "modes_retried": 3, "modes_at_most_damping": 1}
        cache.store(identity, StoredFit(sigma, correction, rounds=4, linear_fallback=fell_back, noise_scales=[1.5, 1.0], overshoots=overshoots))
        loaded = cache.load(identity)
        assert (loaded.rounds, loaded.linear_fallback, loaded.noise_scales, loaded.overshoots) == (4, fell_back, [1.5, 1.0], overshoots)
        assert torch.equal(loaded.sigma, sigma) and torch.equal(loaded.correction.linear, correction.linear)
