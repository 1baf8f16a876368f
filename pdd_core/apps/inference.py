"""Inference with a trained run: simulation (PDD Algorithm 2), generation and super-resolution (Algorithm 3).

A run directory written by ``pdd train`` holds the network, the resolved config (scheme,
objective, λ range, window) and the data's grid and Δt; :func:`load_run` rebuilds all of it.
The three entry points compose the run with parts the caller chooses:

* :func:`simulate_run`: a :class:`~pdd_core.protocols.TimeIntegrator` (Euler for the σ = 0
  evaluation setting of B.5, Euler-Maruyama with σ_λ of Eq. 58 for D.1), or for a
  ``conditional-denoising`` run the λ-sampler of the baseline rollout (B.4);
* :func:`generate_run` and :func:`super_resolve_run`: a λ-sampler and a λ grid, with the score
  the run's objective provides (:func:`run_score`).

Library code never looks solvers up by name (``pdd_core.registry``): the ``pdd`` command maps
names such as ``pc`` to sampler objects.

Units: networks are trained on standardised data, (u - mean_c) / std_c with the per-channel
statistics of the training file (PDD A.2), so every path here is in that space. Output files
(:func:`write_inference_file`) keep it and record the run's statistics as ``source_mean`` and
``source_std`` so that u = u_std · source_std + source_mean recovers physical units.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path as FilePath
from typing import Any, Iterator

import attrs
import h5py
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pdd_core.apps.partial_rollout import PartialRollout, segment_steps
from pdd_core.apps.training.checkpoint import load_checkpoint, model_from_record
from pdd_core.baseline_rollout import advance_conditional, context_length_of
from pdd_core.config import from_tagged
from pdd_core.data.hdf5_layout import DatasetMetadata, write_dataset_file
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.errors import ConfigError, DataError, PDDError, ShapeError, bad_argument
from pdd_core.files import check_parent
from pdd_core.grid import Grid
from pdd_core.registry import SCHEMES
from pdd_core.rollout import ENERGY_BAND, advance, check_steps, initial_window
from pdd_core.sampling import extrapolate_t0, sample
from pdd_core.schedules import check_grid, power_grid, uniform_grid
from pdd_core.score import POWER_PATHS, DenoisingScore, GaussianInitial, PathScore, SAPDDScore, data_power
from pdd_core.score.gaussian_marginal import GaussianMarginal, data_autocovariance
from pdd_core.training.config import TrainConfig
from pdd_core.validation import check_generator
from pdd_core.version import __version__

DRIFT_OBJECTIVES = ("pdd", "sa-pdd")
SCORE_KINDS = ("auto", "path", "path-per-mode", "path-per-mode-r", "noise")
BOUNDARIES = ("auto", "extrapolate", "none")
LAMBDA_GRIDS = ("uniform", "power")
# Generated paths go to the one split the layout requires to be non-empty (docs/data_format.md).
OUTPUT_SPLIT = "train"
# The root attribute that marks an inference output (its values are already standardised).
COMMAND_ATTRIBUTE = "pdd_command"


@attrs.frozen(eq=False)
class TrainedRun:
    """Everything a trained run directory defines.

    ``data`` is the metadata of the training file (its ``mean``/``std`` define the
    standardised space) when that file is still found, else None. ``data_power`` is the
    training data's G(k) and ``data_autocovariance`` its temporal covariance A(k, ℓ) per mode,
    both stored in the checkpoint (None in checkpoints that predate them).
    """

    run_dir: FilePath
    model: nn.Module
    config: TrainConfig
    scheme: object
    grid: Grid
    dt: float
    data_path: FilePath | None
    data: DatasetMetadata | None
    data_power: torch.Tensor | None = None
    data_autocovariance: torch.Tensor | None = None

    @property
    def objective(self) -> str:
        return self.config.objective.name

    @property
    def dtype(self) -> torch.dtype:
        return getattr(torch, self.config.dtype)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def delta_lambda(self) -> float:
        return self.config.objective.delta_lambda


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or a ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device not in ("auto", "cpu", "cuda"):
        raise bad_argument("device", device, "unknown device", "use 'auto', 'cpu' or 'cuda'", kind=ConfigError)
    if device == "cuda" and not torch.cuda.is_available():
        raise bad_argument("device", "cuda", "no CUDA device is available", "use 'cpu' or 'auto'", kind=ConfigError)
    return torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")


def _training_file(run_dir: FilePath, data: str | None) -> FilePath | None:
    """The run's data file: as recorded (absolute, or relative to the working directory), else relative to RUN_DIR."""
    if data is None:
        return None
    for candidate in (FilePath(data), run_dir / data):
        if candidate.is_file():
            return candidate
    return None


def load_run(run_dir: str | os.PathLike, *, ema: bool = True, device: str | torch.device = "cpu") -> TrainedRun:
    """Rebuild a run from ``RUN_DIR/checkpoint.pt``: network (EMA weights by default, eval mode), scheme, grid, Δt, data statistics.

    The scheme is looked up in ``SCHEMES``: import ``schemes`` first (the ``pdd`` command does).
    """
    path = FilePath(run_dir)
    if not path.is_dir():
        raise bad_argument("RUN_DIR", str(path), "no such run directory", "pass a directory written by `pdd train --out RUN_DIR`", kind=DataError)
    record = load_checkpoint(path)
    model, config, grid, dt = model_from_record(record, ema=ema)
    scheme = from_tagged(config.scheme, SCHEMES)
    data_path = _training_file(path, config.data)
    data = read_metadata(data_path) if data_path is not None else None
    model = model.to(resolve_device(device))
    for parameter in model.parameters():
        parameter.requires_grad_(False)  # inference never trains: no parameter gradient is ever built
    return TrainedRun(path, model, config, scheme, grid, dt, data_path, data, record.get("data_power"), record.get("data_autocovariance"))


def check_lambda(run: TrainedRun, lam: float, name: str = "lam") -> float:
    """λ within the range [lam_min, lam_max] the run was trained on."""
    low, high = run.config.lam_min, run.config.lam_max
    if not (isinstance(lam, (int, float)) and not isinstance(lam, bool) and math.isfinite(lam) and lam >= 0):
        raise bad_argument(name, lam, "λ must be a finite number >= 0", f"pass λ in [{low:g}, {high:g}]")
    if not low - 1e-12 <= lam <= high + 1e-12:
        raise bad_argument(name, lam, f"outside the range [{low:g}, {high:g}] of λ the run was trained on", f"pass λ in [{low:g}, {high:g}]")
    return float(lam)


def lambda_grid(kind: str, lam_start: float, lam_end: float, steps: int) -> torch.Tensor:
    """A decreasing λ grid by name: ``uniform`` or ``power`` (ρ = 2, uniform in the cutoff length)."""
    if kind not in LAMBDA_GRIDS:
        raise bad_argument("grid", kind, "unknown λ grid", f"use one of {list(LAMBDA_GRIDS)}", kind=ConfigError)
    return (uniform_grid if kind == "uniform" else power_grid)(lam_start, lam_end, steps)


def _check_lam_grid(run: TrainedRun, lam_grid: torch.Tensor) -> torch.Tensor:
    grid = check_grid(lam_grid)
    check_lambda(run, float(grid[0]), "lam_grid[0]")
    check_lambda(run, float(grid[-1]), "lam_grid[-1]")
    return grid


def training_power(run: TrainedRun, paths: int = POWER_PATHS) -> torch.Tensor:
    """G(k) = E|û0(k)|² of the run's standardised training paths (its first ``paths``), ``[C, *rfft]`` float64.

    Stored in the checkpoint by the trainer; read from the training file for older checkpoints.
    """
    if run.data_power is not None:
        return run.data_power.to(torch.float64)
    if run.data_path is None:
        raise bad_argument(
            "RUN_DIR",
            str(run.run_dir),
            f"the Gaussian r_λ needs the power spectrum of the training data, but the training file {run.config.data!r} is not found",
            "make the training file available at the path recorded in config.json (or relative to RUN_DIR)",
            kind=DataError,
        )
    u = read_paths(run, run.data_path, split=run.config.split, n=min(paths, run.data.splits[run.config.split][0])).u
    return data_power(u, run.grid)


def training_autocovariance(run: TrainedRun, paths: int = POWER_PATHS) -> torch.Tensor | None:
    """A(k, ℓ) of the run's standardised training paths ``[C, *rfft, T]`` float64 (:func:`data_autocovariance`).

    Stored in the checkpoint by the trainer; read from the training file for older checkpoints;
    None when neither is available.
    """
    if run.data_autocovariance is not None:
        return run.data_autocovariance.to(torch.float64)
    if run.data_path is None:
        return None
    u = read_paths(run, run.data_path, split=run.config.split, n=min(paths, run.data.splits[run.config.split][0])).u
    return data_autocovariance(u, run.grid)


def run_marginal(run: TrainedRun, frames: int) -> GaussianMarginal:
    """The Gaussian marginal N(0, C̃²G + Σ̃) of the run's training data for paths of ``frames`` frames.

    The data-informed prior and the few-step samplers' reference. A clear error when the run
    has no stored covariance and its training file is gone.
    """
    autocovariance = training_autocovariance(run)
    if autocovariance is None:
        raise bad_argument(
            "RUN_DIR",
            str(run.run_dir),
            f"the data-informed prior and sampler need the training data's covariance, but the checkpoint predates it and the training file {run.config.data!r} is not found",
            "make the training file available at the path recorded in config.json, or use --prior noise with a sampler that needs no reference (pc, etd, em, pf, eab2)",
            kind=DataError,
        )
    return GaussianMarginal.from_autocovariance(autocovariance, frames)


def run_score(run: TrainedRun, kind: str = "auto"):
    """The score of a run's objective (PDD Sec. 3.4 / B.4).

    ``auto``: the autograd path score of the drift (:class:`PathScore`, Eq. 36) for ``pdd``,
    with the noise model the run was trained with (``objective.noise_model``; a per-mode run
    gets ``path-per-mode-r``, since without r_λ its first frame diverges); the noise
    head (:class:`SAPDDScore`) for ``sa-pdd``; the denoiser (:class:`DenoisingScore`) for
    ``denoising``. ``path`` or ``noise`` choose explicitly where both exist (``sa-pdd``).
    ``path-per-mode`` is the path score with the per-mode increment variance Σ̃_λ(k) in place
    of Eq. 58's scalar σ_λ²Δt (an extension, ``noise_model="per-mode"``): with the scalar one
    the reverse flow grows every mode with α|k|² > β²λ_max(-∂s), see docs/results.md.
    ``path-per-mode-r`` adds the Gaussian initial density r_λ of u(t0) (:class:`GaussianInitial`,
    with G(k) from :func:`training_power`), which B.6 leaves out; no t0 rule is then needed.
    """
    if kind not in SCORE_KINDS:
        raise bad_argument("score", kind, "unknown score kind", f"use one of {list(SCORE_KINDS)}", kind=ConfigError)
    objective = run.objective
    if objective == "conditional-denoising":
        raise bad_argument(
            "RUN_DIR",
            str(run.run_dir),
            "a conditional-denoising run models increments given clean states, not whole paths",
            "use `pdd simulate` with it, or a pdd/sa-pdd/denoising run",
        )
    if kind == "auto":
        kind = ("path-per-mode-r" if run.config.objective.noise_model == "per-mode" else "path") if objective == "pdd" else "noise"
    if kind.startswith("path"):
        if objective == "denoising":
            raise bad_argument("score", kind, "a denoising run has no drift, so no path score", "use score 'noise' (or 'auto')")
        noise_model = "scalar" if kind == "path" else "per-mode"
        initial = GaussianInitial(training_power(run), run.delta_lambda) if kind == "path-per-mode-r" else None
        return PathScore(run.model, run.scheme, run.grid, run.dt, delta_lambda=run.delta_lambda, noise_model=noise_model, initial=initial)
    if objective == "pdd":
        raise bad_argument("score", "noise", "a pdd run has no noise head", "use score 'path' (or 'auto'), or train with objective 'sa-pdd'")
    network_score = SAPDDScore if objective == "sa-pdd" else DenoisingScore
    return network_score(run.model, run.scheme, run.grid, delta_lambda=run.delta_lambda)


def run_boundary(kind: str, score, frames: int):
    """The t0 rule of B.6: ``auto`` extrapolates for path scores whose density omits r_λ, when T >= 3."""
    if kind not in BOUNDARIES:
        raise bad_argument("boundary", kind, "unknown boundary rule", f"use one of {list(BOUNDARIES)}", kind=ConfigError)
    if kind == "extrapolate" and frames < 3:
        raise bad_argument(
            "boundary",
            kind,
            f"the t0 extrapolation needs T >= 3 frames, got {frames}",
            "use boundary 'none' (or 'auto') for short paths",
            kind=ShapeError,
        )
    if kind == "extrapolate" or (kind == "auto" and isinstance(score, PathScore) and score.initial is None and frames >= 3):
        return extrapolate_t0
    return None


def _chunks(total: int, batch_size: int | None) -> Iterator[slice]:
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1):
        raise bad_argument("batch_size", batch_size, "must be an integer >= 1", "pass e.g. batch_size=16, or None for one batch")
    size = total if batch_size is None else batch_size
    for start in range(0, total, max(size, 1)):
        yield slice(start, min(start + size, total))


def _check_paths(u: torch.Tensor, run: TrainedRun, name: str) -> torch.Tensor:
    if u.ndim == 2 + run.grid.ndim:
        u = u.unsqueeze(1)
    expected = (run.grid.channels, *run.grid.shape)
    if u.ndim != 3 + run.grid.ndim or tuple(u.shape[2:]) != expected or u.shape[0] < 1:
        raise bad_argument(
            f"{name}.shape",
            tuple(u.shape),
            f"expected [B >= 1, T, {run.grid.channels}, *{run.grid.shape}] (the run's grid)",
            "pass paths on the grid of the run",
            kind=ShapeError,
        )
    return u.to(device=run.device, dtype=run.dtype)


def simulate_run(
    run: TrainedRun,
    initial: torch.Tensor,
    lam: float,
    steps: int,
    *,
    generator: torch.Generator | None = None,
    integrator=None,
    noise: bool = False,
    sampler=None,
    lam_grid: torch.Tensor | None = None,
    save_every: int = 1,
    batch_size: int | None = None,
    progress: bool = False,
    energy_band: float | None = ENERGY_BAND,
    partial: PartialRollout | None = None,
) -> torch.Tensor:
    """Simulate ``steps`` steps of Δt at fixed λ from λ = 0 initial data (PDD Algorithm 2).

    ``initial`` is standardised fine-scale data ``[B, C, *space]`` or an initial history
    ``[B, T0, C, *space]``; it is coarse-grained, u_λ(t0) = C_λ u0(t0) (Alg. 2, line 2).
    Drift runs (``pdd``, ``sa-pdd``) need ``integrator``; ``noise=True`` adds σ_λ of Eq. 58
    (D.1) and needs a stochastic integrator and a ``generator``. ``conditional-denoising``
    runs need ``sampler``, ``lam_grid`` and ``generator`` and simulate at λ = 0 (B.4).

    The rollout stops with a clear error when a state turns NaN or its mean square leaves
    ``energy_band`` (standardised units; None: NaN/inf only). With ``partial`` (an opened
    :class:`~pdd_core.apps.partial_rollout.PartialRollout`) every segment is kept on disk and finished
    segments found there are resumed, with the same result as an uninterrupted run.
    Returns ``[B, T0 + steps // save_every, C, *space]`` on the CPU.
    """
    initial = _check_paths(initial, run, "initial")
    lam = check_lambda(run, lam)
    check_steps(steps, save_every)
    advance_rows, scheme, window = _simulation_step(run, lam, noise, integrator, sampler, lam_grid, generator, save_every, energy_band)
    if partial is not None and generator is not None and (state := partial.generator_state()) is not None:
        generator.set_state(state)
    segment = segment_steps(save_every)
    outputs = []
    lam_t = torch.full((initial.shape[0],), lam, dtype=torch.float64, device=initial.device)
    with tqdm(total=initial.shape[0] * steps, unit="path-step", desc="rollout", disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        for rows in _chunks(initial.shape[0], batch_size):
            frames, history = initial_window(initial[rows], window, grid=run.grid, lam=lam_t[rows], scheme=scheme)
            parts, done = [], 0
            for record in partial.segments(rows) if partial is not None else ():
                parts.append(record["frames"].to(history))
                history, done = record["window"].to(history), record["step"]
            bar.update((rows.stop - rows.start) * done)
            while done < steps:
                taken = min(segment, steps - done)
                try:
                    saved, history = advance_rows(history, taken, done + 1)
                except PDDError as error:
                    if partial is None or not done:
                        raise
                    raise type(error)(f"{error} (steps 1-{done} of paths {rows.start}-{rows.stop - 1} are kept in {partial.directory})") from None
                done += taken
                parts.append(saved)
                if partial is not None:
                    partial.save(rows, done, saved, history, generator)
                bar.update((rows.stop - rows.start) * taken)
            outputs.append(torch.cat([frames, *parts], dim=1).cpu())
    return torch.cat(outputs)


def _simulation_step(run: TrainedRun, lam: float, noise: bool, integrator, sampler, lam_grid, generator, save_every: int, energy_band: float | None):
    """``(advance(window, steps, first_step) -> (saved, window), scheme to coarse-grain with, window length)`` of a run."""
    if run.objective == "conditional-denoising":
        if lam != 0.0:
            raise bad_argument("lam", lam, "the conditional baseline has no coarse-graining hierarchy (PDD B.4)", "simulate it at λ = 0")
        if noise:
            raise bad_argument("noise", True, "the conditional baseline samples every increment; σ_λ noise applies to drift runs", "drop noise")
        if sampler is None or lam_grid is None or generator is None:
            raise bad_argument(
                "sampler",
                sampler,
                "the conditional baseline samples each increment by reverse-λ integration",
                "pass sampler=, lam_grid= and generator=",
            )
        lam_grid = _check_lam_grid(run, lam_grid)
        options = {"increment_scale": run.config.objective.increment_scale, "generator": generator, "delta_lambda": run.delta_lambda, "save_every": save_every}
        options["energy_band"] = energy_band

        def advance_baseline(history, steps, first_step):
            return advance_conditional(run.model, run.scheme, run.grid, sampler, lam_grid, history, steps, first_step=first_step, **options)

        return advance_baseline, None, context_length_of(run.model)
    if run.objective not in DRIFT_OBJECTIVES:
        raise bad_argument(
            "RUN_DIR",
            str(run.run_dir),
            f"a {run.objective!r} run has no drift to simulate with",
            "use a pdd, sa-pdd or conditional-denoising run",
        )
    if integrator is None:
        raise bad_argument(
            "integrator",
            None,
            "a drift run needs a time integrator",
            "pass integrator=Euler() (σ = 0, PDD B.5) or EulerMaruyama() with noise=True",
        )
    if noise and not getattr(integrator, "stochastic", False):
        raise bad_argument("integrator", type(integrator).__name__, "is deterministic, but noise=True asks for σ_λ > 0", "use EulerMaruyama()")
    sigma = float(run.scheme.sigma(run.grid, lam, run.dt, delta_lambda=run.delta_lambda)[0]) if noise else 0.0
    if sigma > 0 and generator is None:
        raise bad_argument("generator", None, "σ > 0 needs an explicit source of noise", "pass generator=torch.Generator().manual_seed(seed)")

    def advance_drift(history, steps, first_step):
        batch = history.shape[0]
        lam_t, sigma_t = (torch.full((batch,), value, dtype=torch.float64, device=history.device) for value in (lam, sigma))
        return advance(run.model, integrator, history, lam_t, run.dt, steps, sigma=sigma_t, generator=generator, save_every=save_every, first_step=first_step, energy_band=energy_band)

    return advance_drift, run.scheme, run.model.window


def generate_run(
    run: TrainedRun,
    n: int,
    frames: int,
    *,
    sampler,
    lam_grid: torch.Tensor,
    generator: torch.Generator,
    score: str = "auto",
    boundary: str = "auto",
    prior: GaussianMarginal | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Unconditional generation of ``n`` paths of ``frames`` frames (PDD Algorithm 3, line 1).

    Each path starts from ``prior`` at λ_max = ``lam_grid[0]`` and is integrated down to
    ``lam_grid[-1]``. The default prior is the data-informed N(0, C̃²G + Σ̃) of the run's
    training data (:func:`run_marginal`); ``GaussianMarginal()`` is the paper's N(0, Σ_λmax) per
    time step. Returns ``[n, frames, C, *space]`` on the CPU.
    """
    for name, value in (("n", n), ("frames", frames)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad_argument(name, value, "must be an integer >= 1", f"pass e.g. {name}=8")
    check_generator(generator)
    lam_grid = _check_lam_grid(run, lam_grid)
    path_score = run_score(run, score)
    if isinstance(path_score, PathScore) and frames < 2:
        raise bad_argument("frames", frames, "a path score needs T >= 2 frames (it scores increments)", "generate at least 2 frames", kind=ShapeError)
    rule = run_boundary(boundary, path_score, frames)
    prior = run_marginal(run, frames) if prior is None else prior
    outputs = []
    for rows in _chunks(n, batch_size):
        shape = (rows.stop - rows.start, frames, run.grid.channels, *run.grid.shape)
        start = prior.sample(shape, run.scheme, run.grid, float(lam_grid[0]), generator, dtype=run.dtype).to(run.device)
        outputs.append(sample(path_score, run.scheme, run.grid, sampler, lam_grid, generator=generator, u_init=start, boundary=rule, progress=progress).cpu())
    return torch.cat(outputs)


def super_resolve_run(
    run: TrainedRun,
    coarse: torch.Tensor,
    *,
    sampler,
    lam_grid: torch.Tensor,
    generator: torch.Generator,
    score: str = "auto",
    boundary: str = "auto",
    batch_size: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Refine coarse paths given at λ_from = ``lam_grid[0]`` down to ``lam_grid[-1]`` (Algorithm 3, line 2).

    ``coarse`` ``[B, T, C, *space]`` is standardised, e.g. a simulation at λ = 0.2 (PDD Sec. 4.3).
    Returns ``[B, T, C, *space]`` on the CPU.
    """
    coarse = _check_paths(coarse, run, "coarse")
    check_generator(generator)
    lam_grid = _check_lam_grid(run, lam_grid)
    path_score = run_score(run, score)
    frames = coarse.shape[1]
    if isinstance(path_score, PathScore) and frames < 2:
        raise bad_argument(
            "coarse.shape",
            tuple(coarse.shape),
            "a path score needs T >= 2 frames (it scores increments)",
            "pass paths of at least 2 frames",
            kind=ShapeError,
        )
    rule = run_boundary(boundary, path_score, frames)
    outputs = []
    for rows in _chunks(coarse.shape[0], batch_size):
        outputs.append(
            sample(path_score, run.scheme, run.grid, sampler, lam_grid, generator=generator, u_init=coarse[rows], boundary=rule, progress=progress).cpu(),
        )
    return torch.cat(outputs)


@attrs.frozen(eq=False)
class InputPaths:
    """Standardised paths read from a file, with the λ they are at (None: not recorded, i.e. data at λ = 0)."""

    u: torch.Tensor
    lam: float | None
    split: str
    metadata: DatasetMetadata


def _standardize(values: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...], ndim: int, path: FilePath) -> torch.Tensor:
    if min(std) <= 0:
        raise bad_argument(f"{path}:std", std, "a channel is constant, so it cannot be standardised", "use data whose channels vary", kind=DataError)
    shape = (-1,) + (1,) * ndim
    mean_t, std_t = torch.tensor(mean, dtype=torch.float64).reshape(shape), torch.tensor(std, dtype=torch.float64).reshape(shape)
    return (torch.from_numpy(np.asarray(values, dtype=np.float64)) - mean_t) / std_t


def read_paths(run: TrainedRun, path: str | os.PathLike, split: str | None = None, n: int | None = None, frames: int | None = None) -> InputPaths:
    """The first ``n`` paths (first ``frames`` frames) of a file, in the run's standardised space.

    A dataset file (physical units) is standardised with the run's training statistics (the
    file's own when the run's training file is gone); an inference output
    (:func:`write_inference_file`) is already standardised and records its λ. ``split``
    defaults to ``train`` for inference outputs (where they keep their paths) and ``test``
    for dataset files.
    """
    path = FilePath(path)
    metadata = read_metadata(path)
    with h5py.File(path, "r") as file:
        is_output = COMMAND_ATTRIBUTE in file.attrs
        split = split or (OUTPUT_SPLIT if is_output else "test")
        if split not in metadata.splits:
            raise bad_argument("split", split, "unknown split", f"use one of {sorted(metadata.splits)}")
        if (metadata.grid.shape, metadata.grid.channels) != (run.grid.shape, run.grid.channels):
            raise bad_argument(
                f"{path}:grid",
                (metadata.grid.shape, metadata.grid.channels),
                f"differs from the run's grid {(run.grid.shape, run.grid.channels)}",
                "pass data on the grid the run was trained on",
                kind=DataError,
            )
        available, length = metadata.splits[split][:2]
        if available == 0:
            raise bad_argument("split", split, f"holds no paths in {path}", "choose a non-empty split", kind=DataError)
        for name, value, limit in (("n", n, available), ("frames", frames, length)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit):
                raise bad_argument(name, value, f"must be an integer in [1, {limit}] for the {split} split of {path}", f"pass {name} <= {limit}")
        values = file[split][: n or available, : frames or length]
        lam = float(file.attrs["lambda"]) if is_output and "lambda" in file.attrs else None
    if is_output:
        u = torch.from_numpy(np.asarray(values, dtype=np.float64))
    else:
        statistics = run.data or metadata
        u = _standardize(values, statistics.mean, statistics.std, metadata.grid.ndim, path)
    return InputPaths(u=u, lam=lam, split=split, metadata=metadata)


def check_output_path(path: str | os.PathLike, overwrite: bool) -> FilePath:
    """Refuse to replace an existing file unless ``overwrite``; create the parent directories."""
    target = FilePath(path)
    if target.is_dir():
        raise bad_argument("out", str(target), "is a directory", "pass a file name such as samples.h5", kind=DataError)
    if target.exists() and not overwrite:
        raise bad_argument("out", str(target), "already exists", "choose another name or pass --overwrite (overwrite=True)", kind=DataError)
    if target.exists() and not target.is_file():  # --overwrite replaces files, never a device node or a pipe
        raise bad_argument("out", str(target), "is not a regular file, so --overwrite may not replace it", "pass a file name such as samples.h5", kind=DataError)
    check_parent(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def write_inference_file(
    path: str | os.PathLike,
    paths: torch.Tensor,
    *,
    run: TrainedRun,
    dt: float,
    command: str,
    lam: float,
    sampler: str,
    steps: int,
    settings: dict[str, Any],
    seed: int | None = None,
    overwrite: bool = False,
) -> DatasetMetadata:
    """Write paths ``[N, T, C, *space]`` as a dataset file (docs/data_format.md), atomically.

    The paths fill the ``train`` split (the one the layout requires; ``valid`` and ``test``
    are empty), so ``mean``/``std`` describe the output itself. Extra root attributes record
    the provenance: ``pdd_command``, ``lambda`` (of the stored paths), ``sampler`` (the
    λ-sampler, or the time integrator of a simulation), ``steps`` (its number of steps),
    ``settings`` (JSON of all the command's settings), ``source_run``, ``source_objective``,
    ``source_data``, ``values`` (``standardized``) and, when the run's training file is
    known, ``source_mean``/``source_std`` to de-standardise. The file is written under a
    temporary name in the same directory and renamed over ``path``; the ``pdd`` commands hold
    ``path.lock`` (:class:`~pdd_core.files.OutputLock`) from their first step to this one.
    """
    target = check_output_path(path, overwrite)
    array = paths.detach().cpu().numpy()
    empty = np.zeros((0, *array.shape[1:]), dtype=np.float32)
    source = run.data
    splits = {"train": array, "valid": empty, "test": empty}
    system, config = (source.system, source.config) if source is not None else ("unknown", {})
    attributes: dict[str, Any] = {
        COMMAND_ATTRIBUTE: command,
        "lambda": np.float64(lam),
        "sampler": sampler,
        "steps": np.int64(steps),
        "settings": json.dumps(settings, sort_keys=True, default=str),
        "source_run": str(run.run_dir.resolve()),
        "source_objective": run.objective,
        "values": "standardized",
        "pdd_version": __version__,
    }
    if source is not None:
        attributes.update(source_data=str(run.data_path.resolve()), source_mean=np.asarray(source.mean), source_std=np.asarray(source.std))
    return write_dataset_file(target, splits, system=system, config=config, dt=dt, grid=run.grid, seed=seed, extra_attributes=attributes)


__all__ = [
    "BOUNDARIES",
    "COMMAND_ATTRIBUTE",
    "LAMBDA_GRIDS",
    "OUTPUT_SPLIT",
    "SCORE_KINDS",
    "InputPaths",
    "TrainedRun",
    "check_lambda",
    "check_output_path",
    "generate_run",
    "lambda_grid",
    "load_run",
    "read_paths",
    "resolve_device",
    "run_boundary",
    "run_score",
    "simulate_run",
    "super_resolve_run",
    "run_marginal",
    "training_autocovariance",
    "training_power",
    "write_inference_file",
]
