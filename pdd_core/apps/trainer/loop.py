"""The training loop of PDD Algorithm 1 (and its SA-PDD / DDPM variants), resumable and data-parallel.

Every random draw of step s is a function of (seed, s) alone:

* the global batch of path indices: ``numpy.random.default_rng(SeedSequence((seed, INDICES), spawn_key=(s,)))``,
  ``choice(N, batch_size, replace=False)``;
* λ ~ U(lam_min, lam_max) per sample (PDD Alg. 1, line 3) from a CPU ``torch.Generator`` keyed by
  ``(seed, LAMBDAS, s)``, and the forward noise ε of u_λ = C_λu0 + sqrt(Σ_λ)ε (Eq. 3) from a
  generator on the training device keyed by ``(seed, NOISE, s)``;
* the random sub-path of each sample (``frames``): ``PathDataset`` windows of epoch s.

So a resumed run sees exactly the batches of an uninterrupted one, and every DDP rank sees
the same global batch: rank r reads only its rows (the others are zero placeholders, since
``objective.corrupt`` acts row by row and draws the noise of the whole batch), then
evaluates ``objective.loss`` on its rows (see :mod:`pdd_core.apps.trainer.distributed` for the
gradient scaling). The loss and the gradient norm are checked for NaN/inf before every update.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn
from tqdm import tqdm

from pdd_core.apps.trainer import distributed
from pdd_core.apps.trainer.batches import LAMBDAS, NOISE, batches, draw_lambda, open_data, stream_seed, whole_paths
from pdd_core.apps.trainer.checkpoint import CONFIG_NAME, LOG_NAME, checkpoint_path, load_checkpoint, save_checkpoint, truncate_log, write_text_atomically
from pdd_core.apps.trainer.network_view import NetworkView, TrainingNetwork
from pdd_core.config import from_dict, to_dict
from pdd_core.data.hdf5_reader import verification
from pdd_core.devices import device_type
from pdd_core.errors import ConfigError, PDDError, ShapeError, bad_argument
from pdd_core.files import OutputLock, check_parent, write_errors
from pdd_core.grid import Grid
from pdd_core.score.gaussian_marginal import dataset_autocovariance, dataset_mean
from pdd_core.score.initial_density import dataset_power
from pdd_core.training.config import TrainConfig, config_from_dict, config_to_dict, resume_differences
from pdd_core.training.ema import EMA
from pdd_core.training.learning_rate import learning_rate
from pdd_core.training.models import DEFAULT_PRESETS, MODELS, build_model

# Paths used to measure the increment scale of the conditional baseline (i.i.d. paths, so the first ones do).
SCALE_PATHS = 1024


class DivergenceError(PDDError, FloatingPointError):
    """The loss or the gradient became NaN or infinite; training stopped before applying the step."""


@attrs.frozen
class TrainResult:
    """What a call to :func:`train` did: the final ``step``, its loss and the throughput."""

    run_dir: Path
    step: int
    loss: float
    steps_taken: int
    seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.steps_taken / self.seconds if self.seconds > 0 else float("nan")


def measure_increment_scale(data) -> tuple[float, ...]:
    """s per channel: the standard deviation of u_{n+1} - u_n over (up to SCALE_PATHS) training paths (PDD B.4)."""
    count = min(len(data), SCALE_PATHS)
    increments = torch.stack([data[i] for i in range(count)]).double().diff(dim=1)
    values = increments.movedim(2, 0).flatten(1).std(dim=1, correction=0)
    if not bool((values > 0).all()):
        raise bad_argument(
            "increment_scale", values.tolist(), "a channel never changes between frames", "check the data, or set objective.increment_scale", kind=ConfigError
        )
    return tuple(float(v) for v in values)


def resolve_config(config: TrainConfig, data, stored: TrainConfig | None = None) -> TrainConfig:
    """Fill in every default that depends on the data or on other settings, as recorded in config.json."""
    model = config.model
    if model.preset is None and model.name in DEFAULT_PRESETS:
        model = attrs.evolve(model, preset=DEFAULT_PRESETS[model.name])
    objective = config.objective.with_data_defaults(lambda: measure_increment_scale(data), stored.objective if stored is not None else None)
    return attrs.evolve(config, model=model, objective=objective, window=config.resolved_window)


def check_data(config: TrainConfig, data) -> None:
    """Fail before training when the data cannot feed this objective and batch size."""
    for name in ("grid", "dt"):
        if not hasattr(data, name):
            raise bad_argument(
                "data",
                type(data).__name__,
                f"has no attribute {name!r}",
                "pass a PathDataset or a dataset with .grid, .dt, len() and [i] -> [T, C, *space]",
                kind=ConfigError,
            )
    if len(data) < config.batch_size:
        raise bad_argument(
            "batch_size", config.batch_size, f"exceeds the {len(data)} paths of the {config.split} split", f"use batch_size <= {len(data)}", kind=ConfigError
        )
    sample = data[0]
    grid = data.grid
    if sample.ndim != 2 + grid.ndim or tuple(sample.shape[1:]) != (grid.channels, *grid.shape):
        raise bad_argument(
            "data[0].shape", tuple(sample.shape), f"expected [T, {grid.channels}, *{grid.shape}]", "pass paths shaped [T, C, *space]", kind=ShapeError
        )
    if config.objective.regresses_increments and sample.shape[0] < 2:
        raise bad_argument(
            "frames",
            sample.shape[0],
            f"objective {config.objective.name!r} regresses temporal increments, which needs T >= 2 frames",
            "use longer paths (or frames >= 2), or objective 'denoising' for static fields",
            kind=ShapeError,
        )


def check_resumed_data(record: dict[str, Any], data, run_dir: Path) -> None:
    """A resumed run continues on data of the grid and Δt it was trained on (the file may have been regenerated)."""
    grid = from_dict(Grid, record["grid"])
    if data.grid != grid or not math.isclose(float(data.dt), float(record["dt"]), rel_tol=1e-9):
        raise bad_argument(
            "data",
            f"grid {data.grid.shape} x {data.grid.channels} channels, length {data.grid.lengths}, dt {float(data.dt):g}",
            f"differs from the grid {grid.shape} x {grid.channels} channels, length {grid.lengths}, dt {float(record['dt']):g} the run in {run_dir} was trained on",
            "resume on the data the run was trained on, or start a new run directory",
            kind=ConfigError,
        )


def choose_device(config: TrainConfig, context: distributed.Context) -> torch.device:
    if device_type(config.device) == "cuda":
        torch.cuda.set_device(context.local_rank)
        return torch.device("cuda", context.local_rank)
    return torch.device("cpu")


def _rng_states(device: torch.device) -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _restore_rng_states(states: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def _finite_or_stop(name: str, value: float, step: int, run_dir: Path, saved_step: int) -> None:
    if math.isfinite(value):
        return
    kept = f"the last good checkpoint (step {saved_step}) is kept in {checkpoint_path(run_dir)}" if saved_step else "no checkpoint had been written yet"
    raise DivergenceError(
        f"step {step}: the {name} is {value}; training stopped before this update and {kept}. "
        "Fix: lower lr, set grad_clip, use dtype float32 without bf16, or check the data for outliers"
    )


def _check_total_steps(steps: int, trained: int, run_dir: Path) -> None:
    """Refuse a resume to fewer steps than the checkpoint holds: its config.json would say ``steps`` over weights of ``trained`` steps."""
    if steps < trained:
        raise bad_argument(
            "steps",
            steps,
            f"is fewer than the {trained} steps the run in {run_dir} has already trained (a resume continues to the new total, it never goes back)",
            f"pass steps >= {trained} (--steps) to continue it, or start a new run directory",
            kind=ConfigError,
        )


def prepare_run(config: TrainConfig | None, run_dir: Path, resume: bool) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The config to run and the checkpoint to continue from (None for a fresh run)."""
    target = checkpoint_path(run_dir)
    if not resume:
        if config is None:
            raise bad_argument("config", None, "a fresh run needs a config", "pass a TrainConfig, or resume=True to continue a run", kind=ConfigError)
        # A run's files, even before its first checkpoint. Rank 0 checks, under the directory's lock;
        # the other ranks of a job would see the files rank 0 is writing.
        candidates = (target, run_dir / CONFIG_NAME, run_dir / LOG_NAME) if distributed.process_rank() == 0 else ()
        existing = [path.name for path in candidates if path.exists()]
        if existing and not target.exists():
            raise bad_argument(
                "run_dir",
                str(run_dir),
                f"holds a run that stopped before its first checkpoint ({', '.join(existing)}): there is nothing to resume",
                "remove those files to start again here, or choose another run directory",
                kind=ConfigError,
            )
        if existing:
            raise bad_argument(
                "run_dir",
                str(run_dir),
                f"already holds a training run ({', '.join(existing)})",
                "pass resume=True (--resume) to continue it, or choose another run directory (or remove this one)",
                kind=ConfigError,
            )
        return config, None
    if not target.exists():
        raise bad_argument("run_dir", str(run_dir), "holds no checkpoint.pt to resume from", "run without --resume to start training", kind=ConfigError)
    record = load_checkpoint(target)
    return (config_from_dict(record["config"]) if config is None else config), record


def train(config: TrainConfig | None, run_dir: str | os.PathLike, *, resume: bool = False, data=None, progress: bool = True) -> TrainResult:
    """Train (or continue training) the network of ``config`` and write RUN_DIR.

    RUN_DIR gets ``config.json`` (the resolved config), ``log.jsonl`` (one JSON record per
    logged step: ``step``, ``loss``, ``lr``, ``grad_norm``, ``time`` in seconds of training)
    and ``checkpoint.pt`` (see :mod:`pdd_core.apps.trainer.checkpoint`), saved every
    ``checkpoint_every`` steps and at the end. ``resume=True`` continues from the checkpoint
    up to ``config.steps`` in total (``config=None`` reuses the stored config); only the
    settings in ``RESUMABLE_FIELDS`` may differ from the stored ones. ``data`` overrides the
    config's file: any dataset with ``.grid``, ``.dt``, ``len()`` and ``[i] -> [T, C, *space]``;
    a file's split is verified against its checksum first (``PathDataset``), and a resumed run
    must get data of the grid and Δt it was trained on.

    Runs under ``torchrun`` as one rank of a data-parallel job (``pdd_core.apps.trainer.distributed``).
    The scheme is looked up in ``SCHEMES``: import ``schemes`` (the ``pdd`` command does).
    """
    run_dir = Path(run_dir)
    with verification():  # the training split is hashed once, however many readers open it
        return _train_in_directory(config, run_dir, resume, data, progress)


def _train_in_directory(config: TrainConfig | None, run_dir: Path, resume: bool, data, progress: bool) -> TrainResult:
    if distributed.process_rank() != 0:  # rank 0 owns the directory and its lock
        return _train(config, run_dir, resume, data, progress)
    check_parent(run_dir / CONFIG_NAME, "run_dir")
    created = not run_dir.exists()
    try:
        with write_errors(run_dir, "run_dir", kept="a checkpoint already written stays resumable with --resume"):
            with OutputLock.for_directory(run_dir, "run_dir"):
                return _train(config, run_dir, resume, data, progress)
    finally:
        if created and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a run that failed before writing anything leaves no empty directory


def _train(config: TrainConfig | None, run_dir: Path, resume: bool, data, progress: bool) -> TrainResult:
    config, record = prepare_run(config, run_dir, resume)
    # Unknown names fail before any data is read.
    MODELS.get(config.model.name)
    if data is not None and config.frames is not None:
        raise bad_argument(
            "frames",
            config.frames,
            "sub-path windows are drawn by the dataset file reader only",
            "crop the paths of your dataset yourself, or pass data by file",
            kind=ConfigError,
        )
    if config.bf16 and config.dtype != "float32":
        raise bad_argument(
            "bf16", True, f"bfloat16 autocast applies to float32 networks, not {config.dtype}", "set dtype = 'float32' or bf16 = false", kind=ConfigError
        )
    data = open_data(config) if data is None else data
    check_data(config, data)
    if record is not None:
        check_resumed_data(record, data, run_dir)
    stored = config_from_dict(record["config"]) if record is not None else None
    config = resolve_config(config, data, stored)
    if stored is not None:
        differences = resume_differences(stored, config)
        if differences:
            raise bad_argument(
                "resume",
                str(run_dir),
                "the run was started with other settings: " + "; ".join(differences),
                "resume with the stored settings (only steps, log/checkpoint cadence, workers and device may change) or start a new run directory",
                kind=ConfigError,
            )
        _check_total_steps(config.steps, int(record["step"]), run_dir)

    context = distributed.setup(device_type(config.device))
    try:
        return _run(config, run_dir, record, data, context, progress)
    finally:
        context.close()


def _run(config: TrainConfig, run_dir: Path, record: dict[str, Any] | None, data, context: distributed.Context, progress: bool) -> TrainResult:
    if config.batch_size < context.world_size:
        raise bad_argument(
            "batch_size", config.batch_size, f"is smaller than the {context.world_size} ranks", f"use batch_size >= {context.world_size}", kind=ConfigError
        )
    device = choose_device(config, context)
    dtype = getattr(torch, config.dtype)
    grid, dt = data.grid, float(data.dt)
    objective = config.objective.build(config.scheme, grid, dt)
    network = _seeded_network(config, grid).to(device=device, dtype=dtype)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    ema = EMA(network, config.ema_decay)
    step, elapsed, last_loss = _restore(record, network, optimizer, ema, device)
    saved_step = step
    power, autocovariance, mean = _data_statistics(record, data, grid, config, context)
    log_path = _prepare_directory(run_dir, config, record, step, context)

    view = NetworkView(distributed.wrap(TrainingNetwork(network, config.bf16), context, device), config.window)
    rows = context.rows(config.batch_size)
    parameters = [p for p in network.parameters() if p.requires_grad]
    first_step, started = step + 1, time.perf_counter()

    def save(at_step: int, loss: float) -> None:
        if context.is_main:
            payload = {
                "step": at_step,
                "config": config_to_dict(config),
                "grid": to_dict(grid),
                "dt": dt,
                "model": network.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": _rng_states(device),
                "elapsed": elapsed + time.perf_counter() - started,
                "last_loss": loss,
                "data_power": power,
                "data_autocovariance": autocovariance,
                "data_mean": mean,
            }
            save_checkpoint(checkpoint_path(run_dir), payload)
        context.barrier()

    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(
            tqdm(total=config.steps, initial=step, desc="train", unit="step", file=sys.stderr, dynamic_ncols=True, disable=not (progress and context.is_main))
        )
        log = stack.enter_context(open(log_path, "a", buffering=1)) if context.is_main else None
        for step, shard in zip(range(first_step, config.steps + 1), batches(data, config, context, first_step)):
            u0 = torch.zeros((config.batch_size, *shard.shape[1:]), dtype=dtype, device=device)
            u0[rows] = shard.to(device=device, dtype=dtype)
            global_loss, grad_norm = _gradient(objective, view, u0, step, config, context, device, parameters)
            _finite_or_stop("loss", global_loss, step, run_dir, saved_step)
            _finite_or_stop("gradient norm", float(grad_norm), step, run_dir, saved_step)
            _update(config, step, optimizer, ema, parameters, grad_norm)
            last_loss = global_loss
            bar.update(1)
            if step % config.log_every == 0:
                bar.set_postfix(loss=f"{global_loss:.4g}", refresh=False)
                _log_step(log, step, global_loss, optimizer, grad_norm, elapsed + time.perf_counter() - started)
            if step % config.checkpoint_every == 0 or step == config.steps:
                save(step, global_loss)
                saved_step = step
    steps_taken = max(0, config.steps - first_step + 1)
    return TrainResult(run_dir=run_dir, step=first_step - 1 + steps_taken, loss=last_loss, steps_taken=steps_taken, seconds=time.perf_counter() - started)


def _update(config: TrainConfig, step: int, optimizer, ema: EMA, parameters, grad_norm: torch.Tensor) -> None:
    """Clip (if set), set the step's learning rate, step the optimizer and the EMA of the weights."""
    if config.grad_clip is not None:
        torch.nn.utils.clip_grads_with_norm_(parameters, config.grad_clip, grad_norm)
    rate = learning_rate(step, lr=config.lr, steps=config.steps, schedule=config.lr_schedule, warmup_steps=config.warmup_steps)
    for group in optimizer.param_groups:
        group["lr"] = rate
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    ema.update()


def _log_step(log, step: int, loss: float, optimizer, grad_norm: torch.Tensor, seconds: float) -> None:
    """One line of log.jsonl (rank 0 only: other ranks pass ``log=None``)."""
    if log is not None:
        entry = {"step": step, "loss": loss, "lr": optimizer.param_groups[0]["lr"], "grad_norm": float(grad_norm), "time": seconds}
        log.write(json.dumps(entry) + "\n")


def _seeded_network(config: TrainConfig, grid) -> nn.Module:
    """The network of ``config``, initialised from its seed without touching the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_model(config.model.name, grid, config.window, noise_head=config.objective.noise_head, preset=config.model.preset, overrides=config.model.overrides)


def _restore(record: dict[str, Any] | None, network: nn.Module, optimizer, ema: EMA, device: torch.device) -> tuple[int, float, float]:
    """Load a checkpoint's weights, optimizer, EMA and RNG states; ``(step, elapsed, last_loss)`` (zeros for a fresh run)."""
    if record is None:
        return 0, 0.0, float("nan")
    network.load_state_dict(record["model"])
    optimizer.load_state_dict(record["optimizer"])
    ema.load_state_dict(record["ema"], updates=int(record["step"]))
    _restore_rng_states(record["rng"], device)
    return int(record["step"]), float(record["elapsed"]), float(record["last_loss"])


def _data_statistics(record: dict[str, Any] | None, data, grid, config: TrainConfig, context: distributed.Context):
    """``(G(k), A(k, ℓ), ū)`` stored with the run: measured once, by the rank that saves, or taken from the checkpoint.

    G(k) is the data power behind the Gaussian r_λ of a drift run's path score; A(k, ℓ) the
    temporal second moments per mode and ū the mean field (of the same paths) behind the
    generation prior and the few-step samplers.
    """
    power = record.get("data_power") if record is not None else None
    if power is None and context.is_main and config.objective.trains_drift:
        power = dataset_power(data, grid)
    autocovariance = record.get("data_autocovariance") if record is not None else None
    if autocovariance is None and context.is_main:
        autocovariance = dataset_autocovariance(whole_paths(data), grid)
    mean = record.get("data_mean") if record is not None else None
    if mean is None and context.is_main:
        mean = dataset_mean(whole_paths(data), grid)
    return power, autocovariance, mean


def _prepare_directory(run_dir: Path, config: TrainConfig, record: dict[str, Any] | None, step: int, context: distributed.Context) -> Path:
    """Write config.json and keep the log records up to ``step`` (rank 0); returns the log's path."""
    log_path = run_dir / LOG_NAME
    if context.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomically(run_dir / CONFIG_NAME, json.dumps(config_to_dict(config), indent=2) + "\n")
        if record is not None:
            truncate_log(log_path, step)
        elif log_path.exists():
            log_path.unlink()
    context.barrier()
    return log_path


def _gradient(objective, view, u0: torch.Tensor, step: int, config: TrainConfig, context: distributed.Context, device, parameters) -> tuple[float, torch.Tensor]:
    """Back-propagate this rank's share of the global-batch loss of ``step`` (Algorithm 1); ``(global loss, gradient norm)``.

    λ and the forward noise are keyed by (seed, step), so every rank draws the same global batch.
    """
    rows = context.rows(config.batch_size)
    lam = draw_lambda(config.batch_size, torch.Generator().manual_seed(stream_seed(config.seed, LAMBDAS, step)), config.lam_min, config.lam_max, config.lam_power)
    noise_generator = torch.Generator(device=device).manual_seed(stream_seed(config.seed, NOISE, step))
    corrupted = objective.corrupt(u0, lam, noise_generator)
    loss = objective.loss(view, tuple(t[rows] for t in corrupted), lam[rows])
    global_loss = float(context.sum(loss.detach().double() * ((rows.stop - rows.start) / config.batch_size)))
    if not math.isfinite(global_loss):  # the caller stops on it; every rank sees the same sum, so none back-propagates
        return global_loss, torch.zeros(())
    (loss * context.loss_weight(config.batch_size)).backward()
    return global_loss, torch.nn.utils.get_total_norm([p.grad for p in parameters if p.grad is not None])


__all__ = [
    "DivergenceError",
    "TrainResult",
    "resolve_config",
    "train",
]
