"""The Well's errors and the ensemble scores in `pdd evaluate`: the numbers in metrics.json are the metrics of the rollouts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.evaluation.forecast_scores import ensemble_scores, well_scores
from pdd_core.apps.evaluation.run_metrics import EvaluationSettings, ReverseSampling, evaluate_run
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.apps.trainer import train
from pdd_core.metrics import crps_ensemble, nrmse, spread_skill, vrmse
from solvers import Euler
from tests.apps.test_inference import tiny_configs, write_tiny_data

FAST = ["--l2-step", "2", "--discard", "1", "--segments", "1", "--lambda-steps", "5", "--no-progress"]


def test_scores_report_the_step_the_mean_and_the_channels():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((3, 4, 2, 16))
    prediction = reference + 0.2 * rng.standard_normal(reference.shape)
    well = well_scores(reference, prediction, 2, ["a", "b"])
    values = vrmse(reference, prediction)
    assert well["vrmse"] == pytest.approx(values[:, 1].mean()) and well["vrmse_all"] == pytest.approx(values.mean())
    assert well["vrmse_per_channel"]["b"] == pytest.approx(values[:, :, 1].mean()) and len(well["binned_spectral_mse"]) == 3
    members = reference + 0.3 * rng.standard_normal((5, *reference.shape))
    scores = ensemble_scores(reference, members, 2, ["a", "b"], "test")
    assert scores["crps"] == pytest.approx(crps_ensemble(reference, members)[:, 1].mean())
    pooled = spread_skill(reference, members)
    assert scores["spread_skill_all"] == pytest.approx(np.sqrt(6 / 5) * np.sqrt((pooled["spread"] ** 2).mean() / (pooled["skill"] ** 2).mean()))
    assert "crps" not in ensemble_scores(reference, members[:, :1], None, ["a", "b"], "generated")  # no lead time to report


@pytest.fixture(scope="module")
def pdd_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("scores")
    data = write_tiny_data(directory / "walks.h5")
    train(tiny_configs(data)["pdd"], directory / "run", progress=False)
    return data, directory / "run"


def test_evaluate_reports_well_and_ensemble_scores(pdd_run, tmp_path, capsys):
    data, run_dir = pdd_run
    out = tmp_path / "eval"
    argv = ["evaluate", str(run_dir), "--data", str(data), "--out", str(out), "--tasks", "simulate,generate", "--lambdas", "0", "--ensemble", "3", "--n-generate", "3", *FAST]
    assert main(argv) == 0
    assert '"vrmse"' in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["ensemble"] == 3
    at_zero = metrics["simulate"]["by_lambda"]["0"]
    ensemble = at_zero["ensemble"]
    assert ensemble["members"] == 3 and len(ensemble["crps_curve"]) == 3 and ensemble["crps"] >= 0 and ensemble["spread_skill"] > 0
    assert metrics["simulate"]["crps"] == ensemble["crps"] and math.isfinite(metrics["generate"]["crps"]) and metrics["generate"]["ensemble"]["members"] == 3
    # The reported VRMSE is that of the deterministic rollout in physical units (Euler, σ = 0, from the first W frames).
    run = load_run(run_dir)
    reference = read_paths(run, data, split="test").u.to(run.dtype)
    window = run.config.resolved_window
    rollout = simulate_run(run, reference[:, :window], 0.0, reference.shape[1] - window, integrator=Euler())
    mean, std = (np.asarray(value).reshape(1, 1, -1, 1) for value in (run.data.mean, run.data.std))  # the training file's statistics
    physical = lambda u: u[:, window:].double().numpy() * std + mean  # noqa: E731
    expected = vrmse(physical(reference), physical(rollout))
    assert at_zero["well"]["vrmse"] == pytest.approx(expected[:, 1].mean(), rel=1e-10)
    assert metrics["simulate"]["vrmse"] == at_zero["well"]["vrmse"]
    assert torch.isfinite(torch.tensor(at_zero["well"]["binned_spectral_nmse"])).all()


def test_an_ensemble_of_one_is_refused(pdd_run, tmp_path, capsys):
    data, run_dir = pdd_run
    assert main(["evaluate", str(run_dir), "--data", str(data), "--out", str(tmp_path / "x"), "--ensemble", "1", *FAST]) == 2
    assert "--ensemble=1" in capsys.readouterr().err


def test_noise_free_members_score_the_mean_absolute_error(pdd_run, tmp_path):
    """Members without noise all equal the deterministic rollout: CRPS = its mean absolute error, spread = 0.

    Fails if the members of one reference path were mixed up with another's (a wrong reshape).
    """
    data, run_dir = pdd_run
    run = load_run(run_dir)
    sampling = ReverseSampling(sampler=None, schedule_from=lambda lam: None)
    settings = EvaluationSettings(lambdas=(0.0,), l2_step=2, discard_segments=1, keep_segments=1, ensemble=3)
    options = {"tasks": ("simulate",), "settings": settings, "simulation": {"integrator": Euler()}, "sampling": sampling, "generator": torch.Generator().manual_seed(0)}
    metrics = evaluate_run(run, data, tmp_path / "eval", ensemble_simulation={"integrator": Euler()}, progress=False, **options)
    reference = read_paths(run, data, split="test").u.to(run.dtype)
    window = run.config.resolved_window
    rollout = simulate_run(run, reference[:, :window], 0.0, reference.shape[1] - window, integrator=Euler())
    mae = (rollout[:, window:] - reference[:, window:]).abs().mean(dim=(0, 2, 3)).numpy()
    ensemble = metrics["simulate"]["by_lambda"]["0"]["ensemble"]
    np.testing.assert_allclose(ensemble["crps_curve"], mae, rtol=1e-10)
    assert ensemble["spread_skill_all"] < 1e-12  # rounding of the variance of equal numbers
    # NRMSE is not shift-invariant (VRMSE nearly is): it checks that the fields were put back in physical units.
    mean, std = (np.asarray(value).reshape(1, 1, -1, 1) for value in (run.data.mean, run.data.std))
    expected = nrmse(reference[:, window:].numpy() * std + mean, rollout[:, window:].numpy() * std + mean)
    assert metrics["simulate"]["by_lambda"]["0"]["well"]["nrmse"] == pytest.approx(expected[:, 1].mean(), rel=1e-10)


def test_the_ensemble_leaves_the_other_draws_alone(pdd_run, tmp_path):
    """Members draw from their own stream: generation gives the same paths with and without them."""
    data, run_dir = pdd_run
    results = []
    for members in ("0", "3"):
        argv = ["evaluate", str(run_dir), "--data", str(data), "--out", str(tmp_path / members), "--tasks", "simulate,generate", "--lambdas", "0", "--ensemble", members, "--n-generate", "2", *FAST]
        assert main(argv) == 0
        results.append(json.loads((tmp_path / members / "metrics.json").read_text()))
    assert results[0]["generate"]["spectral_error"] == results[1]["generate"]["spectral_error"]
    assert "ensemble" not in results[0]["simulate"]["by_lambda"]["0"] and results[1]["simulate"]["by_lambda"]["0"]["ensemble"]["members"] == 3
