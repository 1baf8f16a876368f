"""`pdd evaluate` and `pdd demo` end to end on tiny trained runs."""

from __future__ import annotations

import json
import math

import pytest

from pdd_core.apps.cli.main import main
from tests.apps.test_inference import train_tiny_runs

FAST = ["--l2-step", "2", "--discard", "1", "--segments", "1", "--lambda-steps", "5", "--no-progress"]  # the default sampler (gpc)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_runs(tmp_path_factory.mktemp("evaluate"))


def _metrics(directory) -> dict:
    return json.loads((directory / "metrics.json").read_text())


def test_evaluate_pdd_run_writes_every_task_metric_and_figure(trained, tmp_path, capsys):
    data, runs = trained
    out = tmp_path / "eval"
    assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--lambdas", "0,0.1,0.2", *FAST]) == 0
    metrics = _metrics(out)
    for task in ("simulate", "generate", "super_resolve", "low_resolution"):
        assert math.isfinite(metrics[task]["spectral_error"]) and metrics[task]["spectral_error"] >= 0
    assert math.isfinite(metrics["simulate"]["l2"]) and set(metrics["simulate"]["by_lambda"]) == {"0", "0.1", "0.2"}
    assert len(metrics["simulate"]["by_lambda"]["0.2"]["l2_curve"]) == 3  # 6 frames - window 3
    for figure in metrics["figures"]:
        assert open(figure, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert (out / "error_vs_lambda.png").exists() and (out / "training_loss.png").exists() and str(out / "generate_mean.png") in metrics["figures"]
    assert "metrics.json" in capsys.readouterr().out


def test_evaluate_skips_tasks_a_baseline_cannot_do(trained, tmp_path):
    data, runs = trained
    out = tmp_path / "eval_ddpm"
    assert main(["evaluate", str(runs["denoising"]), "--data", str(data), "--out", str(out), *FAST]) == 0
    metrics = _metrics(out)
    assert "skipped" in metrics["simulate"] and math.isfinite(metrics["generate"]["spectral_error"])
    out = tmp_path / "eval_conditional"
    # The conditional baseline samples single increments, so gpc (built for whole paths) is not its sampler.
    assert main(["evaluate", str(runs["conditional-denoising"]), "--data", str(data), "--out", str(out), "--lambdas", "0", *FAST, "--sampler", "eab2", "--grid", "power"]) == 0
    metrics = _metrics(out)
    assert math.isfinite(metrics["simulate"]["l2"]) and "skipped" in metrics["generate"]


def test_evaluate_is_deterministic_under_a_seed(trained, tmp_path):
    data, runs = trained
    results = []
    for name in ("a", "b"):
        main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(tmp_path / name), "--tasks", "generate", "--seed", "3", *FAST])
        results.append(_metrics(tmp_path / name)["generate"]["spectral_error"])
    assert results[0] == results[1]


def test_evaluate_reverse_tasks_take_the_per_mode_path_score(trained, tmp_path):
    data, runs = trained
    main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(tmp_path / "m"), "--tasks", "generate", "--score", "path-per-mode", *FAST])
    metrics = _metrics(tmp_path / "m")
    assert metrics["sampling"]["score"] == "path-per-mode" and math.isfinite(metrics["generate"]["spectral_error"])


def test_the_residual_path_noise_changes_generation_and_generation_reports_its_climate(trained, tmp_path, capsys):
    """--path-noise residual (stationary) scores with the increment variance the drift leaves on data (that keeps each mode's variance), recorded in metrics."""
    data, runs = trained
    results = {}
    for noise in ("model", "residual", "stationary"):
        assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(tmp_path / noise), "--tasks", "generate", "--path-noise", noise, *FAST]) == 0
        results[noise] = _metrics(tmp_path / noise)
    assert results["residual"]["sampling"]["path_noise"] == "residual" and results["stationary"]["sampling"]["path_noise"] == "stationary"
    errors = {noise: results[noise]["generate"]["spectral_error"] for noise in results}
    assert len(set(errors.values())) == 3, errors
    for record in results["residual"]["generate"]["climate"]["channels"].values():
        assert record["std_ratio"] > 0 and math.isfinite(record["mean_offset"])
    assert main(["evaluate", str(runs["denoising"]), "--data", str(data), "--out", str(tmp_path / "d"), "--tasks", "generate", "--path-noise", "residual", *FAST]) != 0
    assert "path_noise='residual': calibrates the path score of a drift" in capsys.readouterr().err
    assert main(["evaluate", str(runs["denoising"]), "--data", str(data), "--out", str(tmp_path / "d2"), "--tasks", "generate", "--path-noise", "stationary", *FAST]) != 0
    assert "path_noise='stationary': calibrates the path score of a drift" in capsys.readouterr().err


def test_super_resolution_refines_stochastic_rollouts_unless_told_otherwise(trained, tmp_path):
    """σ_λ > 0 coarse inputs (the default) depend on the seed; the σ = 0 rollout of --sr-input deterministic does not."""
    data, runs = trained
    low_resolution = {}
    for kind in ("stochastic", "deterministic"):
        for seed in ("1", "2"):
            out = tmp_path / f"{kind}{seed}"
            assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--tasks", "super-resolve", "--sr-input", kind, "--seed", seed, *FAST]) == 0
            metrics = _metrics(out)
            assert metrics["low_resolution"]["input"] == metrics["super_resolve"]["input"] == kind
            # Each reports its variance and PSD against the reference: refinement changes them.
            refined, coarse = (metrics[task]["climate"]["channels"] for task in ("super_resolve", "low_resolution"))
            assert refined.keys() == coarse.keys() and all(refined[name]["std_ratio"] != coarse[name]["std_ratio"] for name in refined)
            low_resolution[kind, seed] = metrics["low_resolution"]["spectral_error"]
    assert low_resolution["deterministic", "1"] == low_resolution["deterministic", "2"]
    assert low_resolution["stochastic", "1"] != low_resolution["stochastic", "2"]


def test_the_stochastic_super_resolution_input_takes_the_rollout_noise(trained, tmp_path):
    """The coarse input samples p_λ with --rollout-noise's increments, recorded as input_noise; one seed, two noises, two inputs."""
    data, runs = trained
    low_resolution = {}
    for noise in ("model", "residual"):
        out = tmp_path / noise
        assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--tasks", "super-resolve", "--rollout-noise", noise, "--seed", "1", *FAST]) == 0
        metrics = _metrics(out)
        assert metrics["low_resolution"]["input_noise"] == metrics["super_resolve"]["input_noise"] == noise
        low_resolution[noise] = metrics["low_resolution"]["spectral_error"]
    assert low_resolution["model"] != low_resolution["residual"]
    out = tmp_path / "deterministic"
    assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--tasks", "super-resolve", "--sr-input", "deterministic", *FAST]) == 0
    assert _metrics(out)["low_resolution"]["input_noise"] == "none"


def test_evaluate_samples_generation_and_super_resolution_in_batches_of_batch_size(trained, tmp_path, monkeypatch):
    """--batch-size bounds the paths under the sampler at once (its memory); the batches together give every path asked for."""
    from pdd_core.apps.inference import tasks

    data, runs = trained
    batches = []

    def recording(*args, u_init, **kwargs):
        batches.append(u_init.shape[0])
        return sample(*args, u_init=u_init, **kwargs)

    sample = tasks.sample
    monkeypatch.setattr(tasks, "sample", recording)
    out = tmp_path / "batched"
    options = ["--tasks", "generate,super-resolve", "--n-generate", "5", "--n-super-resolve", "3", "--batch-size", "2"]
    assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), *options, *FAST]) == 0
    assert batches == [2, 2, 1, 2, 1]  # generation's 5 paths, then super-resolution's 3
    metrics = _metrics(out)
    assert metrics["settings"]["batch_size"] == 2 and metrics["generate"]["paths"] == 5 and metrics["super_resolve"]["paths"] == 3


@pytest.mark.parametrize(
    "arguments",
    [
        ["--sr-input", "noisy"],
        ["--tasks", "dance"],
        ["--lambdas", "zero"],
        ["--segments", "0"],
        ["--sampler", "magic"],
        ["--score", "psychic"],
        ["--score", "noise"],
        ["--tasks", ","],  # used to evaluate nothing and exit 0
        ["--n-generate", "-1"],
        ["--n-super-resolve", "-1"],  # used to drop a path silently
        ["--batch-size", "0"],
        ["--n", "0"],
        ["--integrator", "heun"],
        ["--stochastic-integrator", "conditional-increment"],
    ],
)
def test_evaluate_bad_arguments_exit_2_with_one_line(trained, tmp_path, capsys, arguments):
    data, runs = trained
    assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(tmp_path / "x"), *arguments]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("pdd evaluate: error:")


def test_evaluate_takes_its_integrators_from_the_registry(trained, tmp_path):
    """Euler-Maruyama at σ = 0 is Euler: the deterministic rollouts agree to the bit, and the choice is recorded."""
    data, runs = trained
    metrics = {}
    for name in ("euler", "euler-maruyama"):
        out = tmp_path / name
        assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--tasks", "simulate", "--lambdas", "0.2", "--integrator", name, *FAST]) == 0
        metrics[name] = _metrics(out)
        assert metrics[name]["sampling"]["integrator"] == name and metrics[name]["sampling"]["stochastic_integrator"] == "euler-maruyama"
    assert metrics["euler"]["simulate"]["by_lambda"]["0.2"]["l2_curve"] == metrics["euler-maruyama"]["simulate"]["by_lambda"]["0.2"]["l2_curve"]



class Frozen:
    """A time integrator that keeps the state: its rollouts are constant in time."""

    stochastic = False

    def init(self, drift, dt, sigma, *, device, dtype) -> None:
        return None

    def step(self, drift, history, lam, dt, coefficients, noise, state):
        return history[:, -1], state


def test_evaluate_rolls_out_with_the_integrator_it_is_given(trained, tmp_path):
    from pdd_core.registry import INTEGRATORS

    data, runs = trained
    INTEGRATORS.register("frozen-test")(Frozen)
    try:
        out = tmp_path / "frozen"
        assert main(["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--tasks", "simulate", "--lambdas", "0", "--integrator", "frozen-test", *FAST]) == 0
    finally:
        INTEGRATORS._entries.pop("frozen-test")
    assert _metrics(out)["simulate"]["by_lambda"]["0"]["climate"]["max_speed_error"] == pytest.approx(1.0)  # a frozen rollout does not move


def test_demo_help_and_bad_system(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--help"])
    assert exit_.value.code == 0 and "examples:" in capsys.readouterr().out
    assert main(["demo", "--out", "unused", "--system", "navier"]) == 2
    assert main(["demo", "--out", "unused", "--noise-model", "diagonal"]) == 2
    assert "--noise-model" in capsys.readouterr().err


def test_evaluate_exits_nonzero_when_a_task_fails_after_writing_the_rest(trained, tmp_path, capsys):
    """A failed task (here generation forced to diverge by an absurd corrector step) fails the command."""
    data, runs = trained
    out = tmp_path / "failing"
    argv = ["evaluate", str(runs["pdd"]), "--data", str(data), "--out", str(out), "--tasks", "simulate,generate", "--lambdas", "0"]
    code = main([*argv, *FAST, "--sampler", "pc", "--snr", "50"])
    error = capsys.readouterr().err
    assert code == 2 and "--tasks='generate': 1 task(s) failed" in error and len(error.strip().splitlines()) == 1
    metrics = _metrics(out)
    assert "failed" in metrics["generate"] and math.isfinite(metrics["simulate"]["l2"])  # what succeeded is kept


def test_demo_runs_end_to_end_at_a_tiny_size(tmp_path, monkeypatch, capsys):
    """The main job itself, beyond --help: every headline metric finite, summary written."""
    from pdd_core.apps.cli import demo

    tiny = {**demo.DEMOS["lorenz96"], "data": {"n_train": 4, "n_valid": 2, "n_test": 2}, "settings": {"burn_in": 2.0}}
    tiny["train"] = {**tiny["train"], "batch_size": 4}
    tiny["evaluate"] = {"n_paths": 2, "keep_segments": 1, "n_generate": 2, "n_super_resolve": 2, "discard_segments": 1}
    tiny["climate_closure"] = {"paths": 2, "steps": 20, "burn_in": 5}
    monkeypatch.setitem(demo.DEMOS, "lorenz96", tiny)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--steps", "3", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["training_steps"] == 3 and all(math.isfinite(value) for value in summary["metrics"].values()), summary["metrics"]
    evaluation = _metrics(tmp_path / "demo" / "evaluation")
    assert evaluation["sampling"]["network_calls"] == 50 and evaluation["low_resolution"]["input_noise"] == "climate"  # super-resolves climate rollouts
    sampled = summary["climate"]["super_resolve"]  # the PSD range of the refined paths, beside the generated and the low-resolution ones
    assert sampled["psd_ratio_min"] <= sampled["psd_ratio_max"] and sampled != summary["climate"]["low_resolution"] and "generate" in summary["climate"]
    # A demo killed before its first checkpoint (config.json and log.jsonl only) runs again into the same --out.
    (tmp_path / "demo" / "run" / "checkpoint.pt").unlink()
    assert main(["demo", "--out", str(tmp_path / "demo"), "--steps", "3", "--no-progress"]) == 0


def test_evaluate_reports_floors_climate_and_long_rollouts(trained, tmp_path, capsys):
    """Floors beside spectral errors (or why there is none), the climate blocks, and --long-steps."""
    data, runs = trained
    out = tmp_path / "climate"
    argv = ["evaluate", str(runs["sa-pdd"]), "--data", str(data), "--out", str(out), "--tasks", "simulate", "--lambdas", "0.2", "--long-steps", "8", "--n", "3"]
    assert main([*argv, "--l2-step", "2", "--discard", "0", "--segments", "1", "--ensemble", "0", "--no-progress"]) == 0
    entry = _metrics(out)["simulate"]["by_lambda"]["0.2"]
    # 3 reference paths and 3 segments: 6 true paths needed; the 4-path test split is too small, so train (8).
    assert entry["floor"]["split"] == "train" and entry["floor"]["reference_paths"] == 3 and entry["floor"]["splits"] == 20
    assert entry["floor_ratio"] == pytest.approx(entry["spectral_error"] / entry["spectral_error_floor"])
    for block in (entry["climate"], entry["climate_stochastic"], entry["long_rollout"]["climate"], entry["long_rollout_stochastic"]["climate"]):
        assert set(block["channels"]) == {"c0", "c1"} and isinstance(block["collapsed"], bool) and block["psd_ratio_min"] <= block["psd_ratio_max"]
    assert entry["long_rollout"]["steps"] == 8 and entry["long_rollout"]["blow_up_step"] is None
    assert entry["climate_stochastic"]["truth"]["law"].startswith("C_λ u0 + sqrt")
    assert (out / "climate_lambda0.2.png").exists() and (out / "climate_lambda0.2_stochastic.png").exists()
    noise = _metrics(out)["sampling"]["rollout_noise"]
    assert noise["kind"] == "climate" and noise["rounds_kept"] == {"0.2": 2} and noise["linear_fallback"] == []  # the default, as fitted
    printed = capsys.readouterr().out
    assert "spectral_error_floor" in printed and "climate_lambda0.2" in printed
