"""Locks against a second writer, checksums before trust, nothing deleted that pdd did not
make, write errors in one line with the finished work kept, checkpoints that refuse a flipped bit."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.trainer import train
from pdd_core.apps.trainer.checkpoint import CHECKPOINT_NAME, load_checkpoint
from pdd_core.data.hdf5_reader import read_metadata, verify_checksums
from pdd_core.errors import DataError, PDDError
from pdd_core.files import OutputLock, write_error_of
from tests.apps.test_data import Interrupt, digest, generate
from tests.apps.test_trainer import linear_config, random_paths


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("reference") / "toy.h5"
    generate(path)
    return path


def flip_stored_byte(path: Path, dataset: str, row: int) -> None:
    """Flip one bit inside the compressed bytes of one stored path (a damaged disk block)."""
    with h5py.File(path, "r") as file:
        info = file[dataset].id.get_chunk_info(row)
    data = bytearray(path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0x10
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------- locks


def test_a_second_writer_is_refused_naming_the_first_and_the_lock_goes_with_it(tmp_path):
    target = tmp_path / "x.h5"
    with OutputLock.for_file(target):
        with pytest.raises(DataError, match=rf"being written by another process \(pid {os.getpid()} on .*wait for it"):
            OutputLock.for_file(target).acquire()
    assert not (tmp_path / "x.h5.lock").exists()
    with OutputLock.for_file(target):  # free again once released
        pass


def test_generation_into_a_file_another_process_is_writing_is_refused(tmp_path, reference):
    out = tmp_path / "toy.h5"
    with OutputLock.for_file(out):
        with pytest.raises(DataError, match="being written by another process"):
            generate(out)
        assert not (tmp_path / "toy.h5.partial").exists()
    generate(out)
    assert digest(out) == digest(reference)


def test_training_into_a_run_directory_another_process_holds_is_refused(tmp_path):
    run = tmp_path / "run"
    with OutputLock.for_directory(run):
        with pytest.raises(DataError, match="run_dir=.*being written by another process"):
            train(linear_config(steps=2), run, data=random_paths(), progress=False)
        assert sorted(path.name for path in run.iterdir()) == [".lock"]
    train(linear_config(steps=2), run, data=random_paths(), progress=False)
    assert (run / CHECKPOINT_NAME).is_file() and not (run / ".lock").exists()


def test_a_run_that_fails_before_writing_leaves_no_empty_directory(tmp_path):
    with pytest.raises(PDDError):
        train(linear_config(steps=2, batch_size=0), tmp_path / "run", data=random_paths(), progress=False)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- checksums


def test_a_damaged_chunk_is_regenerated_on_resume_not_trusted(tmp_path, reference):
    def crash(split, index):
        if index == 2:
            raise Interrupt

    out = tmp_path / "toy.h5"
    with pytest.raises(Interrupt):
        generate(out, on_chunk=crash)
    flip_stored_byte(tmp_path / "toy.h5.partial" / "train-000001.h5", "paths", 0)
    report = generate(out)
    assert report.chunks_resumed == 2  # chunks 0 and 2 kept, the damaged chunk 1 drawn again
    assert digest(out) == digest(reference)


def test_data_info_verifies_every_split(tmp_path, reference, capsys):
    assert verify_checksums(reference) == {"train": True, "valid": True, "test": True}
    assert main(["data", "info", str(reference)]) == 0
    assert "train ok, valid ok, test ok" in capsys.readouterr().out
    damaged = tmp_path / "damaged.h5"
    shutil.copy(reference, damaged)
    flip_stored_byte(damaged, "valid", 1)
    read_metadata(damaged)  # the attributes still look right: only the checksum sees it
    assert main(["data", "info", str(damaged)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "valid" in error and "damaged" in error
    assert main(["data", "info", str(damaged), "--no-verify"]) == 0


def test_checkpoint_with_a_changed_weight_is_refused(tmp_path):
    run = tmp_path / "run"
    train(linear_config(steps=2), run, data=random_paths(), progress=False)
    load_checkpoint(run)
    record = torch.load(run / CHECKPOINT_NAME, weights_only=True)
    weight = record["ema"]["coefficients"]
    weight.view(-1)[0] = weight.view(-1)[0] * (1 + 1e-12)  # a flipped low bit, still finite
    torch.save(record, run / CHECKPOINT_NAME)
    with pytest.raises(DataError, match="no longer match their SHA-256"):
        load_checkpoint(run)
    assert main(["train", "--resume", "--out", str(run)]) == 2


# ---------------------------------------------------------------- nothing deleted that pdd did not make


def test_a_work_directory_pdd_did_not_make_is_never_deleted(tmp_path):
    out = tmp_path / "toy.h5"
    mine = tmp_path / "toy.h5.partial"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    for overwrite in (False, True):
        with pytest.raises(DataError, match="not made by `pdd data generate`.*deletes only what it created"):
            generate(out, overwrite=overwrite)
    assert (mine / "notes.txt").read_text() == "my notes"


def test_a_file_in_the_way_is_deleted_only_with_overwrite(tmp_path, reference):
    out = tmp_path / "toy.h5"
    (tmp_path / "toy.h5.partial").write_text("mine")
    with pytest.raises(DataError, match="file of yours in the way.*--overwrite"):
        generate(out)
    assert (tmp_path / "toy.h5.partial").read_text() == "mine"
    generate(out, overwrite=True)
    assert digest(out) == digest(reference)


def test_overwrite_never_replaces_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        generate(fifo, overwrite=True)
    assert fifo.is_fifo()


def test_an_output_under_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a directory"):
        generate(tmp_path / "file" / "toy.h5")


# ---------------------------------------------------------------- write errors


def test_write_errors_are_recognised_in_hdf5_messages():
    message = "Can't write data (file write failed: time = ..., errno = 28, error message = 'No space left on device')"
    assert write_error_of(RuntimeError(message)) == errno.ENOSPC
    assert write_error_of(OSError(errno.EROFS, "Read-only file system")) == errno.EROFS
    assert write_error_of(OSError(errno.ENOENT, "No such file")) is None


def test_a_full_disk_ends_generation_in_one_line_and_keeps_what_finished(tmp_path, reference, monkeypatch):
    written = []
    original = Path.write_bytes

    def full_after_two_chunks(self, data):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(self.name)
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_after_two_chunks)
    out = tmp_path / "toy.h5"
    with pytest.raises(DataError, match=r"disk is full \(ENOSPC\).*finished chunks stay in .*re-run the same command") as error:
        generate(out)
    assert "\n" not in str(error.value)
    assert not list((tmp_path / "toy.h5.partial").glob("*.tmp"))  # no temporary left behind
    monkeypatch.undo()
    assert generate(out).chunks_resumed == 2
    assert digest(out) == digest(reference)


def test_a_dataset_attribute_of_the_wrong_type_is_one_line(tmp_path, reference):
    bad = tmp_path / "bad.h5"
    shutil.copy(reference, bad)
    with h5py.File(bad, "r+") as file:
        file.attrs["mean"] = "abc"
    with pytest.raises(DataError, match=r"mean='abc'.*expected 2 finite float64 values"):
        read_metadata(bad)
    with h5py.File(bad, "r+") as file:
        file.attrs["mean"] = np.zeros(2)
        file.attrs["seed"] = "zero"
    with pytest.raises(DataError, match=r"seed='zero'.*must be an integer"):
        read_metadata(bad)


# ---------------------------------------------------------------- one line, never a traceback (item 10)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.apps.test_inference import train_tiny_runs

    data, runs = train_tiny_runs(tmp_path_factory.mktemp("tiny_run"))
    return data, runs["pdd"]


def commands_into(under: Path, data: Path, run: Path) -> dict[str, list[str]]:
    """Every command that writes, with its output below ``under``."""
    return {
        "data generate": ["data", "generate", "lorenz96", "--n-train", "1", "--out", str(under / "x.h5")],
        "train": ["train", "--data", str(data), "--model", "linear", "--steps", "1", "--batch-size", "2", "--out", str(under / "run")],
        "simulate": ["simulate", str(run), "--lambda", "0", "--steps", "1", "--out", str(under / "sim.h5")],
        "generate": ["generate", str(run), "--n", "1", "--frames", "2", "--out", str(under / "gen.h5")],
        "evaluate": ["evaluate", str(run), "--data", str(data), "--out", str(under / "evaluation")],
        "rg-flow": ["rg-flow", "phi4", "--out", str(under / "flow")],
        "demo": ["demo", "--out", str(under / "demo")],
    }


def test_every_command_refuses_an_output_under_a_file_in_one_line(tmp_path, tiny_run, capsys):
    data, run = tiny_run
    (tmp_path / "file").write_text("x")
    for name, argv in commands_into(tmp_path / "file", data, run).items():
        assert main([*argv, "--no-progress"]) == 2, name
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "is a file, not a directory" in error, (name, error)
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"steps = 2\nout = '\xff\xfe'\n", "is not UTF-8 text"),
        (b"out = 5\n", "out=5: must name a run directory"),
        (b"out = ''\n", "out='': must name a run directory"),
        (None, "is a directory"),
    ],
    ids=["latin-1", "out-number", "out-empty", "directory"],
)
def test_bad_toml_files_are_one_line(tmp_path, capsys, content, message):
    config = tmp_path / "config.toml"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    assert main(["train", str(config), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.toml"]  # nothing trained into the config's directory


def test_an_unforeseen_file_system_error_is_one_line(tmp_path, capsys, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x.h5.partial"))

    monkeypatch.setattr("pdd_core.files.open_work_directory", denied)
    monkeypatch.setattr("pdd_core.apps.datasets.generation.open_work_directory", denied)
    assert main(["data", "generate", "lorenz96", "--n-train", "1", "--out", str(tmp_path / "x.h5"), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "x.h5" in error and "permission denied (EACCES)" in error


def test_a_long_burn_in_shows_progress(tmp_path, capsys):
    from pdd_core.apps.datasets import generate_dataset
    from tests.toy_system import ToyWalk

    generate_dataset(ToyWalk(n_points=6, burn_in=100.0), "small", tmp_path / "x.h5", 0, progress=True, n_train=1, n_valid=0, n_test=0)
    assert "burn-in" in capsys.readouterr().err


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_checkpoint_with_pickled_code_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    torch.save({"format": "pdd-checkpoint", "payload": Payload()}, tmp_path / "run" / CHECKPOINT_NAME)
    with pytest.raises(DataError, match="Python objects other than tensors") as error:
        load_checkpoint(tmp_path / "run")
    assert "\n" not in str(error.value) and "weights_only=False" not in str(error.value)
    assert "this must never run" not in capsys.readouterr().out
