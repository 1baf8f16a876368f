"""A trained run directory as objects: the network, its scheme, config, data statistics, scores and marginal.

A run directory written by ``pdd train`` holds the network, the resolved config (scheme,
objective, λ range, window) and the data's grid and Δt; :func:`load_run` rebuilds all of it.
:func:`run_score` and :func:`run_marginal` give the score the run's objective provides and the
Gaussian marginal of its training data, which the inference entry points
(:mod:`pdd_core.apps.inference.tasks`) compose with the parts the caller chooses.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import attrs
import torch
from torch import nn

from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.trainer.checkpoint import load_checkpoint, model_from_record
from pdd_core.config import from_dict
from pdd_core.data.hdf5_layout import DatasetMetadata
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.devices import resolve_device
from pdd_core.errors import DataError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SYSTEMS
from pdd_core.sampling import Boundary, extrapolate_t0, no_boundary
from pdd_core.schedules import check_schedule
from pdd_core.score import POWER_PATHS, DenoisingScore, GaussianInitial, PathScore, SAPDDScore, data_power
from pdd_core.score.gaussian_marginal import GaussianMarginal, data_autocovariance, data_mean
from pdd_core.score.kinds import NOISE_HEAD, PATH_SCORE, PATH_SCORE_PER_MODE, PATH_SCORE_PER_MODE_WITH_INITIAL, NoiseHeadKind, PathScoreKind
from pdd_core.training.config import TrainConfig


@attrs.frozen(eq=False)
class TrainedRun:
    """Everything a trained run directory defines.

    ``data`` is the metadata of the training file (its ``mean``/``std`` define the
    standardised space) when that file is still found, else None. ``data_power`` is the
    training data's G(k), ``data_autocovariance`` its temporal second moments A(k, ℓ) per mode and
    ``data_mean`` its mean field ū, all stored in the checkpoint (None in checkpoints that predate them).
    """

    run_dir: Path
    model: nn.Module
    config: TrainConfig
    scheme: object
    grid: Grid
    dt: float
    data_path: Path | None
    data: DatasetMetadata | None
    data_power: torch.Tensor | None = None
    data_autocovariance: torch.Tensor | None = None
    data_mean: torch.Tensor | None = None

    @property
    def objective(self):
        """The objective record the run was trained with (:mod:`pdd_core.training.objective_config`)."""
        return self.config.objective

    @property
    def dtype(self) -> torch.dtype:
        return getattr(torch, self.config.dtype)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def delta_lambda(self) -> float:
        return self.config.objective.delta_lambda

    def state_projection(self):
        """The constraint of the training system's fine-scale states (``system.state_projection()``, e.g. Lorenz-96's
        replicated X; :mod:`pdd_core.state_projection`), None where the system declares none or the data file is not found."""
        if self.data is None or self.data.system not in SYSTEMS.names():
            return None
        projection = getattr(from_dict(SYSTEMS.get(self.data.system), self.data.config), "state_projection", None)
        return None if projection is None else projection()


def _training_file(run_dir: Path, data: str | None) -> Path | None:
    """The run's data file: as recorded (absolute, or relative to the working directory), else relative to RUN_DIR."""
    if data is None:
        return None
    for candidate in (Path(data), run_dir / data):
        if candidate.is_file():
            return candidate
    return None


def load_run(run_dir: str | os.PathLike, *, ema: bool = True, device: str | torch.device = "cpu") -> TrainedRun:
    """Rebuild a run from ``RUN_DIR/checkpoint.pt``: network (EMA weights by default, eval mode), scheme, grid, Δt, data statistics.

    The scheme is looked up in ``SCHEMES``: import ``schemes`` first (the ``pdd`` command does).
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise bad_argument("RUN_DIR", str(path), "no such run directory", "pass a directory written by `pdd train --out RUN_DIR`", kind=DataError)
    record = load_checkpoint(path)
    model, config, grid, dt = model_from_record(record, ema=ema)
    scheme = config.scheme
    data_path = _training_file(path, config.data)
    data = read_metadata(data_path) if data_path is not None else None
    model = model.to(resolve_device(device))
    for parameter in model.parameters():
        parameter.requires_grad_(False)  # inference never trains: no parameter gradient is ever built
    return TrainedRun(path, model, config, scheme, grid, dt, data_path, data, record.get("data_power"), record.get("data_autocovariance"), record.get("data_mean"))


def check_lambda(run: TrainedRun, lam: float, name: str = "lam") -> float:
    """λ within the range [lam_min, lam_max] the run was trained on."""
    low, high = run.config.lam_min, run.config.lam_max
    if not (isinstance(lam, (int, float)) and not isinstance(lam, bool) and math.isfinite(lam) and lam >= 0):
        raise bad_argument(name, lam, "λ must be a finite number >= 0", f"pass λ in [{low:g}, {high:g}]")
    if not low - 1e-12 <= lam <= high + 1e-12:
        raise bad_argument(name, lam, f"outside the range [{low:g}, {high:g}] of λ the run was trained on", f"pass λ in [{low:g}, {high:g}]")
    return float(lam)


def _check_lam_schedule(run: TrainedRun, lam_schedule: torch.Tensor) -> torch.Tensor:
    grid = check_schedule(lam_schedule)
    check_lambda(run, float(grid[0]), "lam_schedule[0]")
    check_lambda(run, float(grid[-1]), "lam_schedule[-1]")
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


def training_moments(run: TrainedRun, paths: int = POWER_PATHS) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(A(k, ℓ) ``[C, *rfft, T]``, ū ``[C, *space]``) of the run's standardised training paths, float64
    (:func:`data_autocovariance`, :func:`data_mean`).

    Stored in the checkpoint by the trainer; read from the training file for older checkpoints;
    None for what neither holds (a checkpoint that predates the mean, without its training file:
    the marginal is then taken about zero, as it was when that run was trained).
    """
    autocovariance, mean = run.data_autocovariance, run.data_mean
    if (autocovariance is None or mean is None) and run.data_path is not None:
        u = read_paths(run, run.data_path, split=run.config.split, n=min(paths, run.data.splits[run.config.split][0])).u
        autocovariance = data_autocovariance(u, run.grid) if autocovariance is None else autocovariance
        mean = data_mean(u, run.grid) if mean is None else mean
    return tuple(None if value is None else value.to(torch.float64) for value in (autocovariance, mean))


def run_marginal(run: TrainedRun, frames: int) -> GaussianMarginal:
    """The Gaussian marginal N(C_λ ū, C̃²G + Σ̃) of the run's training data for paths of ``frames`` frames.

    The data-informed prior and the few-step samplers' reference. A clear error when the run
    has no stored covariance and its training file is gone.
    """
    autocovariance, mean = training_moments(run)
    if autocovariance is None:
        raise bad_argument(
            "RUN_DIR",
            str(run.run_dir),
            f"the data-informed prior and sampler need the training data's covariance, but the checkpoint predates it and the training file {run.config.data!r} is not found",
            "make the training file available at the path recorded in config.json, or use --prior noise with a sampler that needs no reference (pc, etd, em, pf, eab2)",
            kind=DataError,
        )
    return GaussianMarginal.from_autocovariance(autocovariance, frames, mean=mean)


def default_score_kind(run: TrainedRun) -> PathScoreKind | NoiseHeadKind | None:
    """The score a run was trained for (its objective's ``score_kind``): the path score with its noise model (and r_λ for per-mode runs) for ``pdd``, the noise head for ``sa-pdd`` and ``denoising``, None for the conditional baseline."""
    return run.objective.score_kind()


def run_score(run: TrainedRun, kind: PathScoreKind | NoiseHeadKind | None = None):
    """The score of a run's objective (PDD Sec. 3.4 / B.4); ``kind`` None chooses as trained.

    By default: the path score of the drift for ``pdd``, with the noise model the run was trained
    with (a per-mode run gets r_λ too, since without it its first frame diverges); the noise head
    for ``sa-pdd``; the denoiser for ``denoising``. A :class:`PathScoreKind` or
    :class:`NoiseHeadKind` chooses explicitly where both exist (``sa-pdd``).
    """
    objective = run.objective
    if objective.score_kind() is None:
        raise bad_argument(
            "RUN_DIR",
            str(run.run_dir),
            "a conditional-denoising run models increments given clean states, not whole paths",
            "use `pdd simulate` with it, or a pdd/sa-pdd/denoising run",
        )
    kind = default_score_kind(run) if kind is None else kind
    if isinstance(kind, PathScoreKind):
        if not objective.trains_drift:
            raise bad_argument("score", "path", "a denoising run has no drift, so no path score", "use score 'noise' (or 'auto')")
        initial = GaussianInitial(training_power(run), run.delta_lambda, mean=training_moments(run)[1]) if kind.initial_density else None
        return PathScore(run.model, run.scheme, run.grid, run.dt, delta_lambda=run.delta_lambda, noise_model=kind.noise_model, initial=initial)
    if not isinstance(kind, NoiseHeadKind):
        raise bad_argument("kind", type(kind).__name__, "is not a score kind", "pass a PathScoreKind, NOISE_HEAD or None (as trained)")
    if objective.trains_drift and not objective.noise_head:
        raise bad_argument("score", "noise", "a pdd run has no noise head", "use score 'path' (or 'auto'), or train with objective 'sa-pdd'")
    network_score = SAPDDScore if objective.noise_head else DenoisingScore
    return network_score(run.model, run.scheme, run.grid, delta_lambda=run.delta_lambda)


def run_boundary(rule: Boundary | None, score, frames: int) -> Boundary | None:
    """The t0 rule of B.6 to sample ``score`` with: ``rule`` None extrapolates (:func:`extrapolate_t0`) for a
    path score whose density omits r_λ, when T >= 3; otherwise ``rule`` itself (``no_boundary``: none)."""
    if rule is extrapolate_t0 and frames < 3:
        raise bad_argument(
            "boundary",
            "extrapolate",
            f"the t0 extrapolation needs T >= 3 frames, got {frames}",
            "use boundary 'none' (or 'auto') for short paths",
            kind=ShapeError,
        )
    if rule is None:
        return extrapolate_t0 if isinstance(score, PathScore) and score.initial is None and frames >= 3 else None
    return None if rule is no_boundary else rule


__all__ = [
    "NOISE_HEAD",
    "NoiseHeadKind",
    "PATH_SCORE",
    "default_score_kind",
    "PATH_SCORE_PER_MODE",
    "PATH_SCORE_PER_MODE_WITH_INITIAL",
    "PathScoreKind",
    "TrainedRun",
    "check_lambda",
    "load_run",
    "resolve_device",
    "run_boundary",
    "run_marginal",
    "run_score",
    "training_moments",
    "training_power",
]
