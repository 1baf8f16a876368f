"""Results that cannot be relabelled, options a mode does not use refused, honest exits, runs of the
wrong kind named as such (docs/guarantees.md, "What a rerun may change" and "What a failure looks like")."""

from __future__ import annotations

import json

import numpy as np

from pdd_core.apps.cli.main import main
from tests.test_trainer import write_layout


def one_error_line(capsys) -> str:
    """The command's one error line on stderr (progress lines aside), checked to come without a traceback."""
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("pdd ") and ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


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


def test_pdd_ground_state_refuses_a_rerun_that_would_relabel_its_energy(tmp_path, capsys):
    out = tmp_path / "gs"
    common = ["ground-state", "free", "--set", "d=1", "N=4", "ode_steps=4", "--eval-samples", "8", "--no-progress", "--out", str(out)]
    assert main([*common, "--steps", "2", "--batch-size", "8"]) == 0
    written = (out / "ground_state.json").read_text()
    for changed, named in ((["--steps", "1", "--batch-size", "8"], "steps=1: is fewer than the 2 steps"), (["--steps", "2", "--batch-size", "4"], "batch_size: 8 -> 4"), (["--steps", "2", "--batch-size", "8", "--lr", "0.01"], "lr: 0.05 -> 0.01")):
        capsys.readouterr()
        assert main([*common, *changed]) == 2
        assert named in one_error_line(capsys)
    assert (out / "ground_state.json").read_text() == written
    assert main([*common, "--steps", "3", "--batch-size", "8"]) == 0  # more steps continue to the new total
    record = json.loads((out / "ground_state.json").read_text())
    assert record["training"]["steps"] == 3 and len((out / "run" / "log.jsonl").read_text().splitlines()) == 3


RG_THEORY = ["rg-flow", "phi4", "--set", "N=4", "m2=0.5", "lam=0.5", "--chains", "2", "--blocks", "4", "--ts", "0", "0.1", "--no-progress"]
RG_FLOW = ["--flow", "rdm", "--flow-ode-steps", "4", "--flow-samples", "16"]


def test_pdd_rg_flow_refuses_to_continue_a_flow_on_other_samples_or_to_fewer_steps(tmp_path, capsys):
    out = ["--out", str(tmp_path / "flows")]
    assert main([*RG_THEORY, *RG_FLOW, "--n-samples", "32", "--flow-steps", "2", *out]) == 0
    written = (tmp_path / "flows" / "flows.json").read_text()
    for changed, named in ((["--n-samples", "32", "--flow-steps", "1"], "steps=1: is fewer than the 2 steps"), (["--n-samples", "16", "--flow-steps", "2"], "other settings (data;")):
        capsys.readouterr()
        assert main([*RG_THEORY, *RG_FLOW, *changed, *out]) == 2
        assert named in one_error_line(capsys)
    assert (tmp_path / "flows" / "flows.json").read_text() == written
