"""The trainer: determinism, exact resume, NaN stop, atomic checkpoints, EMA, configs, the CLI,
and convergence to the exact optimal drift of Gaussian AR(1) data (PDD Eq. 9 per Fourier mode)."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path

import attrs
import h5py
import numpy as np
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.trainer import DivergenceError, train
from pdd_core.apps.trainer.checkpoint import load_checkpoint, load_trained_model, read_log, save_checkpoint
from pdd_core.config import from_dict, to_dict
from pdd_core.drifts.linear import LinearDrift
from pdd_core.errors import ConfigError, PDDError
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft
from pdd_core.training import EMA, MODELS, ModelConfig, SAPDDObjectiveConfig, TrainConfig, build_model, config_from_dict, config_to_dict
from schemes import Carosso

GRID = Grid((16,), channels=1)


class Paths(torch.utils.data.Dataset):
    """In-memory paths ``[N, T, C, *space]`` with the ``grid``/``dt`` the trainer reads."""

    def __init__(self, u: torch.Tensor, grid: Grid, dt: float):
        self.u, self.grid, self.dt = u, grid, dt

    def __len__(self) -> int:
        return self.u.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.u[index]


def random_paths(n: int = 16, frames: int = 6, grid: Grid = GRID, seed: int = 0) -> Paths:
    u = torch.randn(n, frames, grid.channels, *grid.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return Paths(u, grid, 0.1)


def linear_config(**changes) -> TrainConfig:
    settings = {
        "model": ModelConfig(name="linear", overrides={"lam_nodes": 3}),
        "scheme": Carosso(),
        "steps": 6,
        "batch_size": 4,
        "lr": 1e-2,
        "dtype": "float64",
        "checkpoint_every": 3,
    }
    return TrainConfig(**{**settings, **changes})


def unet_config(**changes) -> TrainConfig:
    settings = {"model": ModelConfig(name="unet", preset="tiny"), "scheme": Carosso(), "steps": 6, "batch_size": 4, "lr": 1e-3, "checkpoint_every": 3}
    return TrainConfig(**{**settings, **changes})


def losses(run_dir: Path) -> list[float]:
    return [record["loss"] for record in read_log(run_dir / "log.jsonl")]


@pytest.mark.parametrize("make_config", [linear_config, unet_config], ids=["linear", "unet"])
def test_same_seed_same_loss_log_and_other_seed_differs(tmp_path, make_config):
    data = random_paths()
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(make_config(seed=seed), tmp_path / name, data=data, progress=False)
    first = losses(tmp_path / "a")
    assert len(first) == 6 and all(math.isfinite(x) for x in first)
    assert first == losses(tmp_path / "b")
    assert first != losses(tmp_path / "c")
    records = read_log(tmp_path / "a" / "log.jsonl")
    assert [r["step"] for r in records] == list(range(1, 7)) and {"step", "loss", "lr", "grad_norm", "time"} <= set(records[0])


@pytest.mark.parametrize("make_config", [linear_config, unet_config], ids=["linear", "unet"])
def test_resume_reproduces_the_uninterrupted_loss_curve_bitwise(tmp_path, make_config):
    data = random_paths()
    train(make_config(steps=6), tmp_path / "whole", data=data, progress=False)
    train(make_config(steps=3), tmp_path / "split", data=data, progress=False)
    # A crash after logging steps 4-5 but before their checkpoint: those records must not be duplicated.
    with open(tmp_path / "split" / "log.jsonl", "a") as log:
        log.write(json.dumps({"step": 4, "loss": 0.0}) + "\n" + '{"step": 5, "lo')
    result = train(make_config(steps=6), tmp_path / "split", resume=True, data=data, progress=False)
    assert result.step == 6 and result.steps_taken == 3
    assert [r["step"] for r in read_log(tmp_path / "split" / "log.jsonl")] == list(range(1, 7))
    assert losses(tmp_path / "split") == losses(tmp_path / "whole")
    whole, split = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "split")
    for key in ("model", "ema"):
        assert all(torch.equal(whole[key][name], split[key][name]) for name in whole[key])


def test_resume_rejects_changed_settings_and_needs_a_checkpoint(tmp_path):
    data = random_paths()
    with pytest.raises(ConfigError, match="holds no checkpoint"):
        train(linear_config(), tmp_path / "run", resume=True, data=data, progress=False)
    train(linear_config(steps=2), tmp_path / "run", data=data, progress=False)
    with pytest.raises(ConfigError, match="already holds a training run"):
        train(linear_config(steps=2), tmp_path / "run", data=data, progress=False)
    with pytest.raises(ConfigError, match=r"lr: 0\.01 -> 0\.5"):
        train(linear_config(steps=4, lr=0.5), tmp_path / "run", resume=True, data=data, progress=False)
    assert train(None, tmp_path / "run", resume=True, data=data, progress=False).step == 2  # the stored config, steps=2: nothing to do


class NaNAfter(torch.nn.Module):
    """A linear drift whose output turns NaN from its ``bad_call``-th forward on (one forward per step)."""

    def __init__(self, grid: Grid, window: int, bad_call: int):
        super().__init__()
        self.inner, self.window, self.bad_call, self.calls = LinearDrift(grid, window), window, bad_call, 0

    def forward(self, history, lam):
        self.calls += 1
        out = self.inner(history, lam)
        return out * float("nan") if self.calls >= self.bad_call else out


MODELS.register("nan-at-step-5")(lambda grid, window, noise_head, preset, overrides: NaNAfter(grid, window, 5))


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    config = linear_config(model=ModelConfig(name="nan-at-step-5"), steps=10, checkpoint_every=2)
    with pytest.raises(DivergenceError, match=r"step 5: the loss is nan.*last good checkpoint \(step 4\)"):
        train(config, tmp_path, data=random_paths(), progress=False)
    assert load_checkpoint(tmp_path)["step"] == 4
    assert [r["step"] for r in read_log(tmp_path / "log.jsonl")] == [1, 2, 3, 4]


def test_checkpoint_is_atomic_when_saving_fails(tmp_path, monkeypatch):
    data = random_paths()
    train(linear_config(steps=2), tmp_path, data=data, progress=False)
    before = load_checkpoint(tmp_path)

    def failing_save(obj, handle, *args, **kwargs):
        handle.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        train(linear_config(steps=4, checkpoint_every=1), tmp_path, resume=True, data=data, progress=False)
    monkeypatch.undo()
    after = load_checkpoint(tmp_path)
    assert after["step"] == 2 and all(torch.equal(before["model"][k], after["model"][k]) for k in before["model"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "config.json", "log.jsonl"]
    torch.save({"x": 1}, tmp_path / "foreign.pt")
    with pytest.raises(PDDError, match="not a pdd checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    payload = {key: value for key, value in before.items() if key not in ("format", "format_version", "pdd_version")}
    save_checkpoint(tmp_path / "fresh.pt", {**payload, "step": 7})
    assert load_checkpoint(tmp_path / "fresh.pt")["step"] == 7


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 1.0])
def test_ema_is_the_normalised_weighted_average_of_the_trained_weights(decay):
    """θ_ema(k) = Σ_j d^(k-j) θ_j / Σ_j d^(k-j) over j = 1..k: the initial weights carry none."""
    model = torch.nn.Linear(3, 2).double()
    ema = EMA(model, decay=decay)
    history = []
    for _ in range(7):
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p))
        history.append([p.detach().clone() for p in model.parameters()])
        ema.update()
    weights = torch.tensor([decay ** (len(history) - j) for j in range(1, len(history) + 1)], dtype=torch.float64)
    weights = weights / weights.sum()
    state = ema.state_dict()
    for i, (name, _) in enumerate(model.named_parameters()):
        expected = sum(w * step[i] for w, step in zip(weights, history))
        torch.testing.assert_close(state[name], expected, rtol=1e-12, atol=1e-12)
    fresh = torch.nn.Linear(3, 2).double()
    fresh.load_state_dict(state)  # an EMA state loads straight into a model


def test_ema_weights_stay_exact_near_one():
    ema = EMA(torch.nn.Linear(1, 1), decay=1 - 1e-12)
    assert ema.weight(1) == 1.0 and ema.weight(2) == pytest.approx(0.5, rel=1e-9) and ema.weight(10) == pytest.approx(0.1, rel=1e-9)


def test_trained_ema_and_model_in_checkpoint(tmp_path):
    data = random_paths()
    train(linear_config(ema_decay=0.0, steps=3), tmp_path / "zero", data=data, progress=False)
    train(linear_config(ema_decay=1.0, steps=3), tmp_path / "one", data=data, progress=False)
    for steps in (1, 2):
        train(linear_config(ema_decay=1.0, steps=steps), tmp_path / f"first{steps}", data=data, progress=False)
    zero, one = load_checkpoint(tmp_path / "zero"), load_checkpoint(tmp_path / "one")
    assert torch.equal(zero["ema"]["coefficients"], zero["model"]["coefficients"])
    trained = [load_checkpoint(tmp_path / name)["model"]["coefficients"] for name in ("first1", "first2", "one")]
    assert torch.count_nonzero(trained[0]) > 0  # the initial weights (zeros) are not in the average
    torch.testing.assert_close(one["ema"]["coefficients"], sum(trained) / 3, rtol=1e-12, atol=1e-12)  # d = 1: the uniform average
    model, config, grid, dt = load_trained_model(tmp_path / "zero")
    assert isinstance(model, LinearDrift) and grid == GRID and dt == 0.1 and config.steps == 3
    assert torch.equal(model.coefficients.detach(), zero["ema"]["coefficients"])


def test_config_round_trips_through_cattrs_and_toml():
    config = TrainConfig(
        data="x.h5",
        model=ModelConfig("fno", "tiny", {"width": 12}),
        scheme={"name": "carosso", "alpha": 0.3, "beta": 6**0.5},
        objective=SAPDDObjectiveConfig(w_drift=0.5, w_score=2.0),
        grad_clip=1.0,
        bf16=True,
    )
    assert config_from_dict(config_to_dict(config)) == config == from_dict(TrainConfig, to_dict(config))
    assert config_from_dict(json.loads(json.dumps(config_to_dict(config)))) == config
    text = """
        data = "x.h5"
        grad_clip = 1.0
        bf16 = true
        [model]
        name = "fno"
        preset = "tiny"
        overrides = { width = 12 }
        [scheme]
        name = "carosso"
        alpha = 0.3
        beta = 2.449489742783178
        [objective]
        name = "sa-pdd"
        w_drift = 0.5
        w_score = 2.0
    """
    assert config_from_dict(tomllib.loads(text)) == config


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"steps": 0}, r"steps=0: must be an integer >= 1"),
        ({"lam_min": 0.5, "lam_max": 0.1}, r"lam_max=0.1: must be >= lam_min"),
        ({"objective": {"name": "ddim"}}, r"objective.name='ddim': unknown objective"),
        ({"objective": {"name": "denoising", "noise_free": True}}, r"applies to 'pdd'"),
        ({"model": {"overrides": {"channels": 3}}}, r"set by the trainer"),
        ({"dtype": "float16"}, r"unsupported parameter precision"),
        ({"stepz": 3}, r"extra fields found \(stepz\)"),
        ({"scheme": {"alpha": 1}}, r"'name' key"),
    ],
)
def test_bad_configs_raise_clear_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(settings)


@pytest.mark.parametrize("name, shape, channels", [("unet", (32,), 2), ("fno", (16,), 3), ("unet", (16, 16), 1), ("fno", (12, 10), 2)])
def test_models_are_built_for_the_data_grid(name, shape, channels):
    grid = Grid(shape, channels=channels)
    model = build_model(name, grid, 4, preset="tiny", noise_head=True)
    history = torch.randn(2, 4, channels, *shape)
    drift, noise = model.forward_with_noise(history, torch.tensor([0.1, 0.9], dtype=torch.float64))
    assert drift.shape == noise.shape == (2, channels, *shape)


def test_model_errors_are_clear():
    with pytest.raises(PDDError, match="divisible"):
        build_model("unet", Grid((24,)), 5, preset="tiny")
    with pytest.raises(ConfigError, match="no size presets"):
        build_model("linear", GRID, 5, preset="tiny")
    with pytest.raises(ConfigError, match="not accepted by UNet"):
        build_model("unet", GRID, 5, preset="tiny", overrides={"depth": 3})
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("transformer", GRID, 5)


def write_layout(path: Path, train_paths: np.ndarray, dt: float, length: float = 2 * math.pi) -> None:
    """A dataset file written with plain h5py, following docs/data_format.md."""
    with h5py.File(path, "w") as file:
        file["train"] = train_paths.astype(np.float32)
        for split in ("valid", "test"):
            file[split] = np.zeros((0, *train_paths.shape[1:]), dtype=np.float32)
        file.attrs.update(
            format_version=1,
            system="foreign-simulator",
            config="{}",
            dt=dt,
            grid_shape=np.asarray(train_paths.shape[3:], dtype=np.int64),
            grid_length=np.full(train_paths.ndim - 3, length),
            grid_channels=np.int64(train_paths.shape[2]),
            grid_symbol="continuous",
            mean=train_paths.mean(axis=(0, 1, *range(3, train_paths.ndim))).astype(np.float64),
            std=train_paths.std(axis=(0, 1, *range(3, train_paths.ndim))).astype(np.float64),
        )


def test_cli_trains_resumes_and_reports(tmp_path, capsys):
    data = tmp_path / "foreign.h5"
    write_layout(data, np.random.default_rng(0).normal(size=(8, 5, 2, 16)), dt=0.05)
    run = tmp_path / "run"
    common = ["train", "--data", str(data), "--out", str(run), "--seed", "3", "--batch-size", "4", "--no-progress"]
    assert main([*common, "--model", "unet", "--preset", "tiny", "--steps", "2", "--window", "3", "--set", "lam_max=0.5", "scheme.alpha=0.2"]) == 0
    assert main(["train", "--out", str(run), "--steps", "4", "--resume", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "to step 2" in out and "to step 4: 2 steps" in out and "steps/s" in out
    config = json.loads((run / "config.json").read_text())
    assert (
        config["window"] == 3
        and config["lam_max"] == 0.5
        and config["scheme"] == {"name": "carosso", "alpha": 0.2, "beta": 2**0.5, "mass": 0.0, "gamma": 0.0, "zero_mode": "auto"}
    )
    assert [r["step"] for r in read_log(run / "log.jsonl")] == [1, 2, 3, 4]
    model, _, grid, dt = load_trained_model(run)
    assert grid == Grid((16,), channels=2) and dt == 0.05 and model.channels == 2 and model.window == 3

    toml = tmp_path / "fno.toml"
    toml.write_text(
        f'data = "{data.name}"\nout = "fno_run"\nsteps = 2\nbatch_size = 2\n[model]\nname = "fno"\npreset = "tiny"\n[objective]\nname = "denoising"\n'
    )
    assert main(["train", str(toml), "--no-progress"]) == 0
    assert len(read_log(tmp_path / "fno_run" / "log.jsonl")) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "unet", "--steps", "0"], "steps=0"),
        (["--model", "transformer"], "unknown model"),
        (["--model", "unet", "--set", "lr"], "expected key=value"),
        (["--model", "unet", "--batch-size", "64"], "exceeds the 8 paths"),
        (["--model", "fno", "--batch-size", "4", "--preset", "paper"], "modes=56 exceeds"),
        (["--model", "unet", "--batch-size", "4", "--set", "model.overrides.widths=[8,8,8,8,8]"], "divisible"),
        (["--model", "fno", "--batch-size", "4", "--scheme", "wegner"], "unknown scheme"),
        (["--model", "fno", "--batch-size", "4", "--objective", "sa-pdd", "--set", "objective.noise_free=true"], "applies to 'pdd'"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, message):
    data = tmp_path / "d.h5"
    write_layout(data, np.random.default_rng(0).normal(size=(8, 4, 1, 16)), dt=0.1)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pdd train: error:") and message in err and "Traceback" not in err


def test_cli_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--resume" in out and "torchrun --nproc_per_node 2" in out


def gaussian_ar1_paths(n_paths: int, frames: int, grid: Grid, dt: float, seed: int) -> tuple[Paths, torch.Tensor]:
    """Exact stationary Gaussian AR(1) per Fourier mode: û_{n+1} = a_k û_n + sqrt(1 - a_k²) ξ̂_n.

    a_k = exp(-(ν|k|² + γ)Δt): the time-Δt map of ∂t u = (ν∇² - γ)u + noise. White noise in
    the orthonormal basis has exactly the Hermitian statistics of a real field.
    """
    a = torch.exp(-(0.5 * grid.k2() + 0.5) * dt)
    generator = torch.Generator().manual_seed(seed)
    modes = rfft(torch.randn(n_paths, 1, *grid.shape, generator=generator, dtype=torch.float64), grid.ndim)
    frames_list = []
    for _ in range(frames):
        frames_list.append(irfft(modes, grid.shape))
        modes = a * modes + (1 - a**2).sqrt() * rfft(torch.randn(n_paths, 1, *grid.shape, generator=generator, dtype=torch.float64), grid.ndim)
    return Paths(torch.stack(frames_list, 1), grid, dt), a


def test_training_converges_to_the_exact_optimal_drift_of_gaussian_ar1_data(tmp_path):
    """At fixed λ = 0, Eq. 9 with W = 1 is a least-squares fit per mode: f̂(k) = c_k û with
    c_k = Σ Re(û_n* (û_{n+1} - û_n)) / (Δt Σ |û_n|²) → (a_k - 1)/Δt as the data grow."""
    n_paths, frames, dt = 64, 32, 0.1
    data, a = gaussian_ar1_paths(n_paths, frames, GRID, dt, seed=0)
    config = TrainConfig(
        model=ModelConfig(name="linear"), scheme=Carosso(), window=1, lam_min=0.0, lam_max=0.0, steps=400, batch_size=n_paths, lr=0.1, dtype="float64", checkpoint_every=400
    )
    train(config, tmp_path, data=data, progress=False)
    learned = load_checkpoint(tmp_path)["model"]["coefficients"][0, 0, 0]

    u_hat = rfft(data.u, GRID.ndim)[:, :, 0]
    least_squares = (u_hat[:, :-1].conj() * (u_hat[:, 1:] - u_hat[:, :-1])).real.sum((0, 1)) / (u_hat[:, :-1].abs() ** 2).sum((0, 1)) / dt
    # Optimisation: the learned drift is the exact minimiser of the training loss.
    torch.testing.assert_close(learned, least_squares, rtol=0, atol=1e-4)
    # Statistics: per mode, the minimiser's standard error is sqrt((1 - a²) / n) / Δt with
    # n = paths x transitions x (2 real numbers per complex mode; 1 for k = 0 and Nyquist).
    optimal = (a - 1) / dt
    real_numbers = torch.full_like(a, 2.0 * n_paths * (frames - 1))
    real_numbers[0] = real_numbers[-1] = n_paths * (frames - 1)
    standard_error = ((1 - a**2) / real_numbers).sqrt() / dt
    assert bool(((learned - optimal).abs() < 4 * standard_error).all()), ((learned - optimal) / standard_error).tolist()


def test_the_documented_toml_example_is_a_valid_config():
    text = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    settings = tomllib.loads(text.split("```toml\n", 1)[1].split("```", 1)[0])
    assert settings.pop("out") == "runs/l96"
    config = config_from_dict(settings)
    assert config.model.overrides == {"base": 16} and config.scheme.alpha == 0.1 and config.lr == 2e-4


def test_bf16_autocast_changes_only_the_network_precision(tmp_path):
    data = random_paths().u.float()
    paths = Paths(data, GRID, 0.1)
    train(unet_config(steps=2), tmp_path / "fp32", data=paths, progress=False)
    train(unet_config(steps=2, bf16=True), tmp_path / "bf16", data=paths, progress=False)
    full, half = losses(tmp_path / "fp32"), losses(tmp_path / "bf16")
    assert all(math.isfinite(x) for x in half) and full != half
    assert abs(half[0] - full[0]) < 1e-2 * full[0]  # same batch, network in bfloat16: close, not equal
    with pytest.raises(ConfigError, match="bfloat16 autocast applies to float32"):
        train(linear_config(bf16=True), tmp_path / "bad", data=random_paths(), progress=False)


def test_worker_processes_and_sub_paths_from_a_file_give_the_same_run(tmp_path):
    data = tmp_path / "d.h5"
    write_layout(data, np.random.default_rng(1).normal(size=(8, 6, 1, 16)), dt=0.1)
    config = unet_config(data=str(data), frames=3, steps=3)
    train(config, tmp_path / "inline", progress=False)
    train(attrs.evolve(config, num_workers=2), tmp_path / "workers", progress=False)
    assert losses(tmp_path / "inline") == losses(tmp_path / "workers")
    train(attrs.evolve(config, frames=4), tmp_path / "longer", progress=False)
    assert losses(tmp_path / "longer") != losses(tmp_path / "inline")


def test_training_draws_lambda_uniformly_between_lam_min_and_lam_max():
    """Λ ~ U(lam_min, lam_max) (PDD Algorithm 1), not U(0, lam_max)."""
    from pdd_core.apps.trainer.batches import draw_lambda

    lam = draw_lambda(20000, torch.Generator().manual_seed(0), 0.3, 0.8)
    assert float(lam.min()) >= 0.3 and float(lam.max()) <= 0.8 and float(lam.min()) < 0.301
    assert float(lam.mean()) == pytest.approx(0.55, abs=0.005) and float(lam.std()) == pytest.approx(0.5 / 12**0.5, rel=0.02)
    assert torch.equal(draw_lambda(3, torch.Generator(), 0.2, 0.2), torch.full((3,), 0.2, dtype=torch.float64))


def test_the_lambda_power_law_puts_more_training_at_small_lambda():
    """λ = lam_min + (lam_max - lam_min)·u^p: the mean of u^p is 1/(p+1), its CDF P(λ <= x) = x^(1/p)."""
    from pdd_core.apps.trainer.batches import draw_lambda

    lam = draw_lambda(40000, torch.Generator().manual_seed(0), 0.2, 1.0, power=3.0)
    assert float(lam.mean()) == pytest.approx(0.2 + 0.8 / 4, abs=0.004)
    assert float((lam <= 0.2 + 0.8 * 0.125).double().mean()) == pytest.approx(0.5, abs=0.01)
    assert torch.equal(draw_lambda(50, torch.Generator().manual_seed(1), 0.0, 1.0, power=1.0), draw_lambda(50, torch.Generator().manual_seed(1), 0.0, 1.0))
    with pytest.raises(ConfigError, match="lam_power"):
        config_from_dict({"lam_power": 0.0})


def test_the_lambda_power_reaches_the_training_loss(tmp_path):
    train(linear_config(steps=2), tmp_path / "uniform", data=random_paths(), progress=False)
    train(linear_config(steps=2, lam_power=2.0), tmp_path / "power", data=random_paths(), progress=False)
    assert losses(tmp_path / "uniform") != losses(tmp_path / "power")


@pytest.mark.parametrize(
    "settings, key, expected",
    [
        ({"objective": {"noise_free": "False"}}, "objective.noise_free", "bool"),  # bool("False") used to be True
        ({"bf16": "false"}, "bf16", "bool"),
        ({"steps": 2.5}, "steps", "int"),  # used to become 2
        ({"seed": True}, "seed", "int"),  # used to become 1
        ({"lr": True}, "lr", "float"),  # used to become 1.0
    ],
)
def test_config_values_are_structured_strictly(settings, key, expected):
    """A wrong type names the key and the expected type instead of being coerced."""
    with pytest.raises(ConfigError, match=rf"expected {expected} @ \$\.{re.escape(key)}"):
        config_from_dict(settings)
    assert config_from_dict({"lr": 1, "steps": 10}).lr == 1.0  # an integer is a valid real number


def test_a_run_directory_with_a_run_before_its_first_checkpoint_is_not_overwritten(tmp_path):
    """Config.json and log.jsonl (a run starting, or one that died early) were replaced and deleted."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"note": "another run"}\n')
    (run / "log.jsonl").write_text('{"step": 1}\n')
    with pytest.raises(ConfigError, match=r"stopped before its first checkpoint \(config.json, log.jsonl\): there is nothing to resume"):
        train(linear_config(steps=2), run, data=random_paths(), progress=False)
    assert (run / "log.jsonl").read_text() == '{"step": 1}\n' and "another run" in (run / "config.json").read_text()


def test_damaged_checkpoints_are_refused_in_one_line(tmp_path):
    """NaN weights resumed silently, a missing key or a model/config mismatch gave raw tracebacks."""
    train(linear_config(steps=2), tmp_path / "run", data=random_paths(), progress=False)
    record = load_checkpoint(tmp_path / "run")
    for name, damage, message in (
        ("nan", lambda r: r["ema"]["coefficients"].view(-1)[0].fill_(float("nan")), r"NaN/inf ema weights \(coefficients\)"),
        ("missing", lambda r: r.pop("ema"), "lacks ema"),
        ("mismatch", lambda r: r["model"].update(coefficients=torch.zeros(3)), "do not fit the network its config describes"),
    ):
        damaged = {key: (dict(value) if isinstance(value, dict) else value) for key, value in record.items()}
        damaged["ema"], damaged["model"] = {k: v.clone() for k, v in record["ema"].items()}, {k: v.clone() for k, v in record["model"].items()}
        damage(damaged)
        (tmp_path / name).mkdir()
        save_checkpoint(tmp_path / name / "checkpoint.pt", damaged)
        with pytest.raises(PDDError, match=message) as error:
            load_trained_model(tmp_path / name, ema=name != "mismatch")
        assert "\n" not in str(error.value)
