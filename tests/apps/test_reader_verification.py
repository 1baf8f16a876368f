"""Every reader of a dataset split verifies its SHA-256 first (docs/guarantees.md, "What is verified").

A value changed under a stale checksum is refused in one line by every command that reads it
(``--no-verify`` reads it anyway), each split is hashed once per command, an export and import
cannot turn damaged data into a file whose checksums read "ok", damaged chunks and malformed Well
files end in one line naming the file and what in it, and a run refuses data of another system or grid.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter

import attrs
import h5py
import numpy as np
import pytest

from pdd_core.apps.cli.main import main
from pdd_core.apps.datasets import PathDataset
from pdd_core.apps.datasets.well_import import import_the_well
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.trainer.loop import train
from pdd_core.data import hdf5_reader
from pdd_core.data.hdf5_layout import write_dataset_file
from pdd_core.data.hdf5_reader import verification, verify_checksums, verify_split
from pdd_core.errors import ConfigError, DataError
from pdd_core.grid import Grid
from tests.apps.test_files import flip_stored_byte
from tests.apps.test_inference import DT, GRID, tiny_configs, write_tiny_data

EVALUATE_FAST = ["--tasks", "simulate", "--lambdas", "0", "--ensemble", "0", "--n", "2", "--l2-step", "2", "--discard", "1", "--segments", "1", "--no-progress"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An intact data file, a run trained on it, and a copy whose test split changed under its stale checksum."""
    directory = tmp_path_factory.mktemp("verification")
    data = write_tiny_data(directory / "walks.h5")
    run = directory / "run"
    train(tiny_configs(data)["pdd"], run, progress=False)
    changed = directory / "changed.h5"
    shutil.copy(data, changed)
    with h5py.File(changed, "r+") as file:
        file["test"][0, 0, 0, 0] += 100.0  # one value; the stored sha256 is left as it was
    return data, run, changed


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error, error
    return error


READERS = {
    "train": lambda run, data, out: ["train", "--data", data, "--split", "test", "--model", "linear", "--steps", "1", "--batch-size", "2", "--window", "3", "--out", out, "--no-progress"],
    "evaluate": lambda run, data, out: ["evaluate", run, "--data", data, "--out", out, *EVALUATE_FAST],
    "super-resolve": lambda run, data, out: ["super-resolve", run, "--input", data, "--from-lambda", "0.2", "--coarse-grain", "--n", "1", "--steps", "2", "--out", out + ".h5", "--no-progress"],
    "simulate": lambda run, data, out: ["simulate", run, "--data", data, "--split", "test", "--lambda", "0", "--steps", "2", "--n", "1", "--out", out + ".h5", "--no-progress"],
    "data export": lambda run, data, out: ["data", "export", data, "--format", "the-well", "--out", out, "--no-progress"],
}


@pytest.mark.parametrize("command", READERS)
def test_every_reader_refuses_a_changed_split_and_reads_it_with_no_verify(tiny, tmp_path, capsys, command):
    _, run, changed = tiny
    argv = READERS[command](str(run), str(changed), str(tmp_path / "out"))
    assert main(argv) == 2
    error = one_line_error(capsys)
    assert f"{changed}:test" in error and "checksum mismatch" in error and "damaged" in error
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.h5").exists()  # nothing written from damaged data
    assert main([*argv, "--no-verify"]) == 0


@pytest.mark.parametrize("flags", [[], ["--no-verify"]])
def test_an_unknown_split_is_refused_in_one_line(tiny, tmp_path, capsys, flags):
    data, run, _ = tiny
    assert main(["evaluate", str(run), "--data", str(data), "--out", str(tmp_path / "eval"), *EVALUATE_FAST, "--split", "tset", *flags]) == 2
    assert "split='tset': unknown split" in one_line_error(capsys)


def test_each_split_is_hashed_once_per_command(tiny, tmp_path, monkeypatch):
    data, run, _ = tiny
    hashed = Counter()
    original = hdf5_reader.split_checksum

    def counting(dataset):
        hashed[(dataset.file.filename, dataset.name)] += 1
        return original(dataset)

    monkeypatch.setattr(hdf5_reader, "split_checksum", counting)
    # The reference and the truth pool both read the test split; the residual noise reads train.
    assert main(["evaluate", str(run), "--data", str(data), "--out", str(tmp_path / "eval"), *EVALUATE_FAST]) == 0
    assert hashed and set(hashed.values()) == {1}, hashed
    hashed.clear()
    with verification():
        PathDataset(data, "train")
        PathDataset(data, "train")
    with verification(False):
        PathDataset(data, "valid")
    assert hashed == {(str(data), "/train"): 1}


def test_a_rewritten_file_is_verified_again_within_one_scope(tiny, tmp_path):
    data, _, _ = tiny
    path = tmp_path / "walks.h5"
    shutil.copy(data, path)
    with verification():
        assert verify_split(path, "test") is True
        with h5py.File(path, "r+") as file:
            file["test"][1, 0, 0, 0] += 1.0
        with pytest.raises(DataError, match="test=.*checksum mismatch"):
            verify_split(path, "test")


def test_export_and_import_cannot_launder_damage(tiny, tmp_path, capsys):
    data, _, changed = tiny
    # Exported without verification: no field checksums, so the import stores none either.
    assert main(["data", "export", str(changed), "--format", "the-well", "--out", str(tmp_path / "unverified"), "--no-verify", "--no-progress"]) == 0
    assert "not verified" in capsys.readouterr().err
    report = import_the_well([tmp_path / "unverified"], tmp_path / "again.h5", progress=False)
    assert set(report.unverified) == {"train", "valid", "test"}
    assert verify_checksums(tmp_path / "again.h5") == {"train": None, "valid": None, "test": None}
    assert main(["data", "info", str(tmp_path / "again.h5")]) == 0
    assert " ok" not in capsys.readouterr().out
    # Exported from verified data: each field carries its checksum, which the import checks.
    assert main(["data", "export", str(data), "--format", "the-well", "--out", str(tmp_path / "verified"), "--no-progress"]) == 0
    report = import_the_well([tmp_path / "verified"], tmp_path / "clean.h5", progress=False)
    assert report.unverified == () and verify_checksums(tmp_path / "clean.h5") == {"train": True, "valid": True, "test": True}
    well_file = tmp_path / "verified" / "data" / "test" / "walks.hdf5"
    with h5py.File(well_file, "r+") as file:
        file["t0_fields/c1"][0, 0, 0] += 100.0
    assert main(["data", "import", "the-well", str(tmp_path / "verified"), "--out", str(tmp_path / "laundered.h5"), "--no-progress"]) == 2
    error = one_line_error(capsys)
    assert str(well_file) in error and "'c1'" in error and "damaged" in error
    assert not (tmp_path / "laundered.h5").exists()


def _drop_field_dataset(file):
    del file["t0_fields/c1"]


def _drop_time(file):
    del file["dimensions/time"]


def _drop_coordinates(file):
    del file["dimensions/x"]


def _drop_spatial_dims(file):
    del file["dimensions"].attrs["spatial_dims"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (_drop_field_dataset, "lacks the dataset /t0_fields/c1"),
        (_drop_time, "lacks the dataset /dimensions/time"),
        (_drop_coordinates, "lacks the dataset /dimensions/x"),
        (_drop_spatial_dims, "dimensions.spatial_dims"),
    ],
)
def test_a_malformed_well_file_is_refused_in_one_line(tiny, tmp_path, capsys, damage, message):
    data, _, _ = tiny
    assert main(["data", "export", str(data), "--format", "the-well", "--out", str(tmp_path / "well"), "--no-progress"]) == 0
    well_file = tmp_path / "well" / "data" / "train" / "walks.hdf5"
    with h5py.File(well_file, "r+") as file:
        damage(file)
    capsys.readouterr()
    assert main(["data", "import", "the-well", str(well_file), "--out", str(tmp_path / "x.h5"), "--no-progress"]) == 2
    error = one_line_error(capsys)
    assert str(well_file) in error and message in error


@pytest.mark.parametrize("command", ["evaluate", "data export"])
def test_a_damaged_chunk_read_unverified_names_the_file_and_split(tiny, tmp_path, capsys, command):
    data, run, _ = tiny
    damaged = tmp_path / "damaged.h5"
    shutil.copy(data, damaged)
    flip_stored_byte(damaged, "test", 0)
    assert main([*READERS[command](str(run), str(damaged), str(tmp_path / "out")), "--no-verify"]) == 2
    error = one_line_error(capsys)
    assert f"{damaged}:test" in error and "damaged" in error and "a file:" not in error


def test_a_file_this_user_may_not_read_is_called_a_permission_problem(tiny, monkeypatch):
    data, run, _ = tiny
    trained = load_run(run)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(DataError, match="permission denied"):
        read_paths(trained, data, split="test")
    assert "permission denied" in str(hdf5_reader.read_failure(data, "test", OSError("Can't synchronously read data")))


def stored_splits(path) -> dict[str, np.ndarray]:
    with h5py.File(path) as file:
        return {name: file[name][...] for name in ("train", "valid", "test")}


LONGER_GRID = Grid(GRID.shape, length=2 * GRID.lengths[0], channels=GRID.channels)


def test_a_run_refuses_data_of_another_system_or_grid(tiny, tmp_path):
    data, run, _ = tiny
    trained = load_run(run)
    arrays = stored_splits(data)
    write_dataset_file(tmp_path / "other.h5", arrays, system="another-system", config={}, dt=DT, grid=GRID)
    with pytest.raises(DataError, match="system='another-system': differs from the system 'toy-walks'"):
        read_paths(trained, tmp_path / "other.h5", split="test")
    write_dataset_file(tmp_path / "longer.h5", arrays, system="toy-walks", config={"kind": "test"}, dt=DT, grid=LONGER_GRID)
    with pytest.raises(DataError, match="grid=.*differs from the run's grid"):
        read_paths(trained, tmp_path / "longer.h5", split="test")


def test_a_resumed_run_refuses_data_on_another_grid(tiny, tmp_path):
    data, _, _ = tiny
    regenerated = tmp_path / "walks.h5"
    shutil.copy(data, regenerated)
    config = tiny_configs(regenerated)["pdd"]
    train(config, tmp_path / "run", progress=False)
    arrays = stored_splits(regenerated)
    regenerated.unlink()
    write_dataset_file(regenerated, arrays, system="toy-walks", config={"kind": "test"}, dt=DT, grid=LONGER_GRID)
    with pytest.raises(ConfigError, match="differs from the grid .* the run in .* was trained on"):
        train(attrs.evolve(config, steps=config.steps + 1), tmp_path / "run", resume=True, progress=False)
