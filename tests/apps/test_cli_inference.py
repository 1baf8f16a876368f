"""``pdd simulate``, ``pdd generate`` and ``pdd super-resolve`` end to end on tiny trained runs:
outputs in the dataset layout with their provenance, seeded determinism, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.datasets import PathDataset
from pdd_core.apps.inference.runs import load_run
from pdd_core.data.hdf5_reader import read_metadata
from tests.apps.test_inference import DT, GRID, train_tiny_runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_runs(tmp_path_factory.mktemp("cli_inference"))


def stored(path) -> np.ndarray:
    with h5py.File(path) as file:
        return file["train"][...]


def attributes(path) -> dict:
    with h5py.File(path) as file:
        return dict(file.attrs)


@pytest.mark.parametrize("command", ["simulate", "generate", "super-resolve"])
def test_help_has_examples(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"pdd {command} runs/" in out and "--seed" in out and "standardised" in out


def test_simulate_then_super_resolve(trained, tmp_path, capsys):
    data, runs = trained
    sim = tmp_path / "sim.h5"
    assert main(["simulate", str(runs["pdd"]), "--lambda", "0.2", "--steps", "6", "--n", "3", "--out", str(sim), "--seed", "1"]) == 0
    metadata = read_metadata(sim)
    assert metadata.splits["train"] == (3, 7, 2, 16) and metadata.dt == DT and metadata.grid == GRID and metadata.system == "toy-walks"
    recorded = attributes(sim)
    assert recorded["pdd_command"] == "simulate" and recorded["lambda"] == 0.2 and recorded["sampler"] == "euler" and recorded["steps"] == 6
    settings = json.loads(recorded["settings"])
    assert settings["split"] == "test" and settings["n"] == 3 and settings["noise"] is False and settings["run_dir"] == str(runs["pdd"].resolve())
    # The first frame is the coarse-grained, standardised test data (Algorithm 2, line 2).
    run = load_run(runs["pdd"])
    u0 = torch.stack([PathDataset(data, "test")[i][:1] for i in range(3)]).double()
    np.testing.assert_allclose(stored(sim)[:, :1], run.scheme.coarse_grain(u0, GRID, 0.2).numpy(), rtol=1e-5, atol=1e-6)
    captured = capsys.readouterr()
    assert "simulated 3 paths with euler at λ = 0.2" in captured.out and "rollout" in captured.err  # progress bar on stderr

    sr = tmp_path / "sr.h5"
    assert main(["super-resolve", str(runs["pdd"]), "--input", str(sim), "--sampler", "etd", "--steps", "5", "--out", str(sr), "--no-progress"]) == 0
    assert read_metadata(sr).splits["train"] == (3, 7, 2, 16)
    recorded = attributes(sr)
    settings = json.loads(recorded["settings"])
    assert recorded["lambda"] == 0.0 and recorded["sampler"] == "etd" and recorded["steps"] == 5 and settings["from_lambda"] == 0.2
    assert settings["boundary"] == "extrapolate" and settings["score"] == "PathScore" and settings["split"] == "train"
    refined = stored(sr)
    np.testing.assert_allclose(refined[:, 0], 2 * refined[:, 1] - refined[:, 2], atol=1e-5)

    exact = tmp_path / "sr_exact.h5"
    argv = ["super-resolve", str(runs["sa-pdd"]), "--input", str(data), "--from-lambda", "0.3", "--coarse-grain", "--n", "2", "--steps", "3"]
    assert main([*argv, "--out", str(exact), "--no-progress"]) == 0
    assert read_metadata(exact).splits["train"] == (2, 6, 2, 16) and json.loads(attributes(exact)["settings"])["boundary"] == "none"


def test_simulate_with_noise_save_every_and_the_conditional_baseline(trained, tmp_path, capsys):
    _, runs = trained
    noisy = tmp_path / "noisy.h5"
    assert main(["simulate", str(runs["sa-pdd"]), "--lambda", "0.5", "--steps", "6", "--noise", "--save-every", "3", "--out", str(noisy), "--no-progress"]) == 0
    assert read_metadata(noisy).splits["train"] == (4, 3, 2, 16) and read_metadata(noisy).dt == pytest.approx(3 * DT)
    assert attributes(noisy)["sampler"] == "euler-maruyama"
    baseline = tmp_path / "baseline.h5"
    argv = ["simulate", str(runs["conditional-denoising"]), "--lambda", "0", "--steps", "2", "--n", "2", "--history", "2", "--out", str(baseline)]
    assert main([*argv, "--lambda-steps", "3", "--corrector-steps", "0", "--no-progress"]) == 0  # an untrained denoiser: the bare ETD stays in band
    assert read_metadata(baseline).splits["train"] == (2, 4, 2, 16)
    settings = json.loads(attributes(baseline)["settings"])
    assert attributes(baseline)["sampler"] == "pc" and settings["sampler_steps"] == 3 and settings["corrector_steps"] == 0 and settings["snr"] == 0.7
    assert "conditional baseline with pc" in capsys.readouterr().out


def test_generate_is_determined_by_the_seed(trained, tmp_path):
    _, runs = trained
    outputs = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        outputs[name] = tmp_path / f"{name}.h5"
        argv = ["generate", str(runs["pdd"]), "--n", "3", "--frames", "4", "--steps", "4", "--seed", seed, "--batch-size", "2"]
        assert main([*argv, "--out", str(outputs[name]), "--no-progress"]) == 0
    first = stored(outputs["a"])
    assert first.shape == (3, 4, 2, 16) and np.isfinite(first).all()
    assert np.array_equal(first, stored(outputs["b"])) and not np.array_equal(first, stored(outputs["c"]))
    recorded = attributes(outputs["a"])
    settings = json.loads(recorded["settings"])
    assert recorded["sampler"] == "gpc" and recorded["steps"] == 4 and recorded["lambda"] == 0.0 and recorded["source_objective"] == "pdd"  # the default sampler
    assert settings["lambda_grid"] == "power" and settings["corrector_steps"] == 1 and settings["step_size"] == 3.0 and settings["network_calls"] == 8  # a path score's step
    assert settings["seed"] == 3 and settings["boundary"] == "extrapolate" and settings["prior"] == "data"
    denoised = tmp_path / "denoised.h5"
    assert main(["generate", str(runs["denoising"]), "--n", "2", "--frames", "2", "--steps", "3", "--out", str(denoised), "--no-progress"]) == 0
    assert json.loads(attributes(denoised)["settings"])["step_size"] == 1.0  # a denoiser's score keeps h = 1
    for objective, sampler in (("denoising", "gpf"), ("sa-pdd", "gsde")):
        out = tmp_path / f"{objective}.h5"
        argv = ["generate", str(runs[objective]), "--n", "2", "--frames", "2", "--sampler", sampler, "--steps", "3"]
        assert main([*argv, "--out", str(out), "--no-progress"]) == 0
        assert stored(out).shape == (2, 2, 2, 16) and json.loads(attributes(out)["settings"])["boundary"] == "none"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "{missing}", "--lambda", "0", "--steps", "2"], "no such run directory"),
        (["simulate", "{pdd}", "--lambda", "-0.5", "--steps", "2"], "--lambda=-0.5: λ must be a finite number >= 0"),
        (["simulate", "{pdd}", "--lambda", "1.5", "--steps", "2"], "outside the range [0, 1]"),
        (["simulate", "{pdd}", "--lambda", "0", "--steps", "4", "--save-every", "3"], "must divide --steps"),
        (["simulate", "{pdd}", "--lambda", "0", "--steps", "2", "--sampler", "pc"], "apply to conditional-denoising runs"),
        (["simulate", "{pdd}", "--lambda", "0", "--steps", "2", "--n", "99"], "n=99"),
        (["simulate", "{conditional-denoising}", "--lambda", "0", "--steps", "2", "--noise"], "samples every increment"),
        (["simulate", "{denoising}", "--lambda", "0", "--steps", "2"], "has no drift"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--sampler", "heun"], "--sampler='heun': unknown sampler"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--sampler", "etd", "--snr", "0.3"], "--snr=0.3: does not apply to etd (the samplers that read it: pc)"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--sampler", "pc", "--snr", "-1"], "snr=-1.0"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--snr", "0.3"], "--snr=0.3: does not apply to gpc (the samplers that read it: pc)"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--prior", "flat"], "--prior='flat': unknown prior"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--sampler", "etd", "--step-size", "0.5"], "--step-size=0.5: does not apply to etd (the samplers that read it: gpc)"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--step-size", "0"], "step_size=0.0: must be a finite number > 0"),
        (["simulate", "{conditional-denoising}", "--lambda", "0", "--steps", "2", "--sampler", "gpc"], "is built around the Gaussian marginal of whole paths"),
        (["generate", "{pdd}", "--n", "2", "--frames", "2", "--boundary", "extrapolate"], "needs T >= 3"),
        (["generate", "{pdd}", "--n", "0", "--frames", "3"], "--n=0"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--steps", "0"], "steps=0"),
        (["generate", "{pdd}", "--n", "2", "--frames", "3", "--device", "tpu"], "unknown device"),
        (["generate", "{conditional-denoising}", "--n", "2", "--frames", "3"], "increments given clean states"),
        (["super-resolve", "{pdd}", "--input", "{data}"], "is a dataset file of λ = 0 data"),
        (["super-resolve", "{pdd}", "--input", "{data}", "--coarse-grain"], "--coarse-grain needs the λ"),
        (["super-resolve", "{pdd}", "--input", "{missing}.h5", "--from-lambda", "0.2"], "no such file"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(trained, tmp_path, capsys, argv, message):
    data, runs = trained
    names = {"missing": str(tmp_path / "missing"), "data": str(data), **{key: str(value) for key, value in runs.items()}}
    out = tmp_path / "out.h5"
    assert main([part.format(**names) for part in argv] + ["--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"pdd {argv[0]}: error: ") and "Traceback" not in err
    assert message in err, err
    assert not out.exists()


def test_existing_outputs_are_kept_unless_overwrite(trained, tmp_path, capsys):
    _, runs = trained
    out = tmp_path / "sim.h5"
    argv = ["simulate", str(runs["pdd"]), "--lambda", "0", "--steps", "2", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    before = stored(out)
    assert main([*argv[:4], "--steps", "3", *argv[6:]]) == 2
    assert re.search(r"already exists.*--overwrite", capsys.readouterr().err) and np.array_equal(stored(out), before)
    assert main([*argv[:4], "--steps", "3", *argv[6:], "--overwrite"]) == 0
    assert stored(out).shape[1] == 4 and sorted(p.name for p in tmp_path.iterdir()) == ["sim.h5"]
