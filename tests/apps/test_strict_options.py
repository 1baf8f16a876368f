"""Results that cannot be relabelled, options a mode does not use refused, honest exits, runs of the
wrong kind named as such (docs/guarantees.md, "What a rerun may change" and "What a failure looks like")."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pdd_core.apps.cli.main import main
from pdd_core.apps.cli.rg_flow.output import save_json
from pdd_core.errors import DivergenceError, PDDError
from tests.apps.test_trainer import write_layout


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
    assert main(["rg-flow", "phi4", "--flow-sampler", str(run), "--out", str(tmp_path / "mh")]) == 2
    assert "is a `pdd train` run, not a `pdd rg-flow --flow` run" in one_error_line(capsys)


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
    capsys.readouterr()
    assert main(["rg-flow", "phi4", "--flow-sampler", str(out / "run"), "--out", str(tmp_path / "mh")]) == 2
    assert "is a `pdd ground-state` run, not a `pdd rg-flow --flow` run" in one_error_line(capsys)


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
    assert main(["evaluate", str(tmp_path / "flows" / "rdm"), "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "evaluation")]) == 2
    assert "is a `pdd rg-flow --flow` run, not a `pdd train` run" in one_error_line(capsys)


def test_pdd_demo_exits_nonzero_when_a_task_fails_and_refuses_fewer_steps(tmp_path, monkeypatch, capsys):
    from pdd_core.apps.cli import demo
    from pdd_core.apps.evaluation import run_metrics

    tiny = {**demo.DEMOS["lorenz96"], "data": {"n_train": 4, "n_valid": 2, "n_test": 2}, "settings": {"burn_in": 2.0}}
    tiny["train"] = {**tiny["train"], "batch_size": 4}
    tiny["evaluate"] = {"n_paths": 2, "keep_segments": 1, "n_generate": 2, "n_super_resolve": 2, "discard_segments": 1}
    monkeypatch.setitem(demo.DEMOS, "lorenz96", tiny)

    def diverging(*args, **kwargs):  # a broken sampler (failing every task also keeps the test fast)
        raise DivergenceError("sampler='gpc': the paths turned NaN at λ step 3. Fix: use more λ steps")

    for task in ("simulate", "generate"):
        monkeypatch.setattr(run_metrics._Tasks, task, diverging)
    monkeypatch.setattr(run_metrics, "super_resolve_run", diverging)  # the low-resolution baseline stands without it
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "2", "--no-progress"]) == 2
    assert "task='simulate,generate,super_resolve': 3 task(s) failed (sampler='gpc': the paths turned NaN" in one_error_line(capsys)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["failed"]) == {"simulate", "generate", "super_resolve"} and "turned NaN" in summary["failed"]["super_resolve"]
    numbers = {key: value for key, value in summary["metrics"].items() if value is not None}  # None where a task failed, never its error text
    assert list(numbers) == ["low_resolution_spectral_error"] and math.isfinite(numbers["low_resolution_spectral_error"])
    assert main(["demo", "--out", str(out), "--steps", "1", "--no-progress"]) == 2  # the summary would say 1 step over 2
    assert "steps=1: is fewer than the 2 steps" in one_error_line(capsys)
    assert json.loads((out / "summary.json").read_text()) == summary


@pytest.mark.parametrize(
    "options, named",
    [
        (["--flow", "rdm", "--lr", "nan"], "--lr=nan: is not read by --flow (only by --learn)"),
        (["--flow", "rdm", "--lr", "0.001"], "--lr=0.001: is not read by --flow"),  # the default still counts as given
        (["--flow", "rdm", "--flow-sampler", "runs/rdm"], "--flow-sampler='runs/rdm': is a mode of its own, as --flow is"),
        (["--flow-sampler", "runs/rdm", "--set", "N=6"], "--set=['N=6']: is not read by --flow-sampler"),
        (["--flow-sampler", "runs/rdm", "--n-samples", "512"], "--n-samples=512: is not read by --flow-sampler"),
        (["--flow", "rdm", "--snapshot-ts", "0.1"], "--snapshot-ts=[0.1]: is not read by --flow"),
        (["--mh-chains", "4"], "--mh-chains=4: is not read by the exact flows (only by --flow-sampler)"),
        (["--bootstrap-resamples", "50"], "--bootstrap-resamples=50: is read only with --resampling bootstrap"),
        (["--learn", "--hmc-trajectories", "100"], "--hmc-trajectories=100: is read only with --hmc-study"),
        (["--learn", "--lr", "nan"], "--lr=nan: must be a finite number > 0"),
        (["--learn", "--stiffness", "inf"], "--stiffness=inf: must be a finite number > 0"),
    ],
)
def test_pdd_rg_flow_refuses_an_option_its_mode_does_not_read_before_any_work(tmp_path, capsys, options, named):
    assert main(["rg-flow", "phi4", *options, "--no-progress", "--out", str(tmp_path / "out")]) == 2
    assert named in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_the_rg_flow_json_writer_names_a_nan_and_writes_nothing(tmp_path):
    with pytest.raises(PDDError, match=r"flows.json: objectives.rdm.learned_flow\[1\]=nan: is not a finite number"):
        save_json(tmp_path / "flows.json", {"objectives": {"rdm": {"learned_flow": [0.5, float("nan")]}}, "ts": [0.0]})
    assert list(tmp_path.iterdir()) == []


def test_one_generated_path_is_refused_by_pdd_evaluate_and_said_by_the_api(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(tmp_path / "data.h5"), "--out", str(tmp_path / "evaluation"), "--n-generate", "1"]) == 2
    assert "--n-generate=1: the generate task scores its paths as an ensemble too" in one_error_line(capsys)
    import torch

    from pdd_core.apps.evaluation.run_metrics import EvaluationSettings, ReverseSampling, evaluate_run
    from pdd_core.apps.inference.runs import load_run, run_marginal
    from pdd_core.apps.trainer import train
    from pdd_core.data.hdf5_reader import read_metadata
    from pdd_core.registry import INTEGRATORS, SAMPLERS
    from pdd_core.sampler_recipe import SamplerOptions
    from pdd_core.schedules import power_schedule
    from tests.apps.test_inference import tiny_configs, write_tiny_data

    data = write_tiny_data(tmp_path / "walks.h5")
    train(tiny_configs(data)["pdd"], tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    marginal = run_marginal(run, read_metadata(data).splits["test"][1])
    sampling = ReverseSampling(SAMPLERS.get("gpc").build(SamplerOptions(marginal)), lambda start: power_schedule(start, 0.0, 5), prior=marginal)
    settings = EvaluationSettings(n_paths=2, n_generate=1, l2_step=2)
    options = {"tasks": ("generate",), "simulation": {"integrator": INTEGRATORS.get("euler")()}, "sampling": sampling, "progress": False}
    metrics = evaluate_run(run, data, tmp_path / "evaluation", settings=settings, generator=torch.Generator().manual_seed(0), **options)
    assert metrics["generate"]["paths"] == 1 and "need n_generate >= 2" in metrics["generate"]["ensemble"]["skipped"]
