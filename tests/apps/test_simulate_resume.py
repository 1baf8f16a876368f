"""A rollout that leaves the energy band stops in one line and keeps what finished; a killed
``pdd simulate`` resumes from its segments to the same paths; a second writer of the output is refused."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
import torch

import pdd_core.apps.inference.partial_rollout as partial_rollout
from pdd_core.apps.cli.main import main
from pdd_core.apps.inference.partial_rollout import PartialRollout
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.apps.trainer.checkpoint import load_checkpoint, save_checkpoint
from pdd_core.errors import PDDError
from pdd_core.files import OutputLock
from pdd_core.rollout import rollout
from solvers import Euler, EulerMaruyama
from tests.apps.test_inference import GRID, initial_data, seeded, train_tiny_runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_runs(tmp_path_factory.mktemp("simulate_resume"))


class Growth:
    """du/dt = u: the state grows as e^t, so its mean square leaves any band."""

    window = 1

    def __call__(self, history, lam):
        return history[:, -1]


def stored(path) -> np.ndarray:
    with h5py.File(path) as file:
        return file["train"][...]


def test_rollout_stops_when_the_state_leaves_the_energy_band():
    start = torch.ones(2, 1, 2, 16, dtype=torch.float64)
    # (1 + Δt)^2n = 97 at n = 24 and 117 at n = 25 with Δt = 0.1.
    with pytest.raises(PDDError, match=r"rollout='step 25'.*mean square grew to 117 x the data's .*, beyond the band of 100 x"):
        rollout(Growth(), Euler(), start, 0.0, 0.1, 30, grid=GRID, energy_band=100.0)
    assert rollout(Growth(), Euler(), start, 0.0, 0.1, 24, grid=GRID, energy_band=100.0).u.shape[1] == 25
    assert rollout(Growth(), Euler(), start, 0.0, 0.1, 30, grid=GRID).u.shape[1] == 31  # None: NaN/inf only


def test_an_interrupted_noisy_simulation_resumes_to_the_same_paths(trained, tmp_path, monkeypatch):
    data, runs = trained
    run = load_run(runs["pdd"])
    u0 = initial_data(data)
    monkeypatch.setattr(partial_rollout, "SEGMENT_STEPS", 4)
    options = {"integrator": EulerMaruyama(), "noise": True, "save_every": 2, "batch_size": 2}
    reference = simulate_run(run, u0, 0.2, 12, generator=seeded(3), **options)

    partial = PartialRollout(tmp_path / "sim.h5.partial", {"test": 1})
    assert not partial.open(overwrite=False)
    saves = []
    original = PartialRollout.save

    def killed_after_four_segments(self, *args):
        if len(saves) == 4:  # rows 0-1 done (3 segments), rows 2 one segment in
            raise KeyboardInterrupt
        saves.append(args[1])
        original(self, *args)

    monkeypatch.setattr(PartialRollout, "save", killed_after_four_segments)
    with pytest.raises(KeyboardInterrupt):
        simulate_run(run, u0, 0.2, 12, generator=seeded(3), partial=partial, **options)
    monkeypatch.setattr(PartialRollout, "save", original)
    assert saves == [4, 8, 12, 4] and partial.finished_steps() == 4
    assert partial.open(overwrite=False)  # the same request resumes
    resumed = simulate_run(run, u0, 0.2, 12, generator=seeded(99), partial=partial, **options)  # the state comes from disk
    torch.testing.assert_close(resumed, reference, rtol=0, atol=0)


def unstable_copy(run_dir, target):
    """The tiny linear run with its coefficients x 900: explicit Euler then grows the state from step 4 on."""
    shutil.copytree(run_dir, target)
    record = load_checkpoint(target)
    for weights in ("ema", "model"):
        record[weights]["coefficients"] = record[weights]["coefficients"] * 900
    save_checkpoint(target / "checkpoint.pt", record)
    return target


def test_pdd_simulate_keeps_the_finished_segments_of_a_diverging_rollout(trained, tmp_path, capsys, monkeypatch):
    data, runs = trained
    unstable = unstable_copy(runs["pdd"], tmp_path / "unstable")
    monkeypatch.setattr(partial_rollout, "SEGMENT_STEPS", 3)
    argv = ["simulate", str(unstable), "--lambda", "0", "--steps", "9", "--n", "2", "--no-progress"]
    full = tmp_path / "full.h5"
    assert main([*argv, "--out", str(full), "--energy-band", "0"]) == 0
    energies = (stored(full)[:, 1:].astype(np.float64) ** 2).mean(axis=(2, 3)).max(axis=0)
    assert energies[5] < 1.0 < energies[6]  # the band of 1 is left at step 7
    out = tmp_path / "diverging.h5"
    assert main([*argv, "--out", str(out), "--energy-band", "1"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "step 7" in error and "beyond the band of 1" in error and "steps 1-6 of paths 0-1 are kept in" in error
    kept = [torch.load(tmp_path / "diverging.h5.partial" / f"rows-000000-000002-step-00000000{n}.pt", weights_only=True) for n in (3, 6)]
    np.testing.assert_allclose(torch.cat([record["frames"] for record in kept], dim=1).numpy(), stored(full)[:, 1:7], rtol=1e-6)
    assert not out.exists()


def test_pdd_simulate_resumes_after_a_kill_and_cleans_up(trained, tmp_path, monkeypatch):
    data, runs = trained
    monkeypatch.setattr(partial_rollout, "SEGMENT_STEPS", 2)
    argv = ["simulate", str(runs["pdd"]), "--lambda", "0.2", "--steps", "8", "--n", "3", "--noise", "--seed", "5", "--no-progress"]
    reference = tmp_path / "reference.h5"
    assert main([*argv, "--out", str(reference)]) == 0
    out = tmp_path / "sim.h5"
    original = PartialRollout.save
    count = []

    def killed(self, *args):
        if len(count) == 3:
            raise KeyboardInterrupt
        count.append(1)
        original(self, *args)

    monkeypatch.setattr(PartialRollout, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        main([*argv, "--out", str(out)])
    monkeypatch.setattr(PartialRollout, "save", original)
    assert main([*argv, "--out", str(out)]) == 0
    np.testing.assert_array_equal(stored(out), stored(reference))
    assert not (tmp_path / "sim.h5.partial").exists() and not (tmp_path / "sim.h5.lock").exists()
    # Another request into the same unfinished work is refused, not mixed in.
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(PartialRollout, "save", killed)
        main([*argv, "--out", str(tmp_path / "third.h5")])
    monkeypatch.setattr(PartialRollout, "save", original)
    assert main([*argv[:-3], "--seed", "6", "--no-progress", "--out", str(tmp_path / "third.h5")]) == 2


def test_a_second_writer_of_a_simulation_output_is_refused(trained, tmp_path, capsys):
    data, runs = trained
    out = tmp_path / "sim.h5"
    with OutputLock.for_file(out):
        assert main(["simulate", str(runs["pdd"]), "--lambda", "0", "--steps", "2", "--out", str(out), "--no-progress"]) == 2
    assert "being written by another process" in capsys.readouterr().err and not out.exists()


def test_a_full_disk_during_a_simulation_is_one_line_and_resumable(trained, tmp_path, capsys, monkeypatch):
    import errno

    data, runs = trained
    monkeypatch.setattr(partial_rollout, "SEGMENT_STEPS", 2)
    argv = ["simulate", str(runs["pdd"]), "--lambda", "0.2", "--steps", "6", "--n", "2", "--noise", "--seed", "2", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "reference.h5")]) == 0
    original = partial_rollout.write_bytes_atomically
    calls = []

    def full_on_the_second_segment(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(path, data)

    monkeypatch.setattr(partial_rollout, "write_bytes_atomically", full_on_the_second_segment)
    assert main([*argv, "--out", str(tmp_path / "sim.h5")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "disk is full (ENOSPC)" in error and "finished segments stay in" in error
    monkeypatch.setattr(partial_rollout, "write_bytes_atomically", original)
    assert main([*argv, "--out", str(tmp_path / "sim.h5")]) == 0
    np.testing.assert_array_equal(stored(tmp_path / "sim.h5"), stored(tmp_path / "reference.h5"))


@pytest.mark.parametrize("band", [float("nan"), 0.0, -1.0, float("inf")])
def test_a_band_that_cannot_work_is_refused(band):
    """NaN would silently switch the band off and <= 0 would stop every rollout at its first step."""
    with pytest.raises(PDDError, match="energy_band=.*must be a finite number > 0"):
        rollout(Growth(), Euler(), torch.ones(1, 1, 2, 16, dtype=torch.float64), 0.0, 0.1, 3, grid=GRID, energy_band=band)
