"""Results that cannot be relabelled, options a mode does not use refused, honest exits, runs of the
wrong kind named as such (docs/guarantees.md, "What a rerun may change" and "What a failure looks like")."""

from __future__ import annotations

import json

import numpy as np

from pdd_core.apps.cli.main import main
from tests.test_trainer import write_layout


def one_error_line(capsys) -> str:
    """The command's stderr, checked to be exactly one line without a traceback."""
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error, error
    return error


def test_pdd_train_refuses_to_resume_to_fewer_steps_than_it_holds(tmp_path, capsys):
    data = tmp_path / "data.h5"
    write_layout(data, np.random.default_rng(0).normal(size=(8, 5, 1, 16)), dt=0.05)
    run = tmp_path / "run"
    common = ["train", "--out", str(run), "--no-progress"]
    assert main([*common, "--data", str(data), "--model", "linear", "--batch-size", "4", "--steps", "3"]) == 0
    assert main([*common, "--resume", "--steps", "2"]) == 2
    assert "steps=2: is fewer than the 3 steps" in one_error_line(capsys)
    assert json.loads((run / "config.json").read_text())["steps"] == 3  # the record still describes the weights
    assert main([*common, "--resume", "--steps", "4"]) == 0  # more steps continue to the new total
