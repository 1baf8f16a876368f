"""Training the inverse RG: denoising score matching (RDM 5.23) of the two residual denoisers.

Both runs are ordinary ``pdd train`` runs with the ``denoising`` objective (ε-prediction,
:class:`~pdd_core.training.objectives.DenoisingObjective`, λ ~ U over the stage's range):

* the lattice run on [0, t_split] learns φ/s, s the RMS of the training fields (the
  standardisation of PDD A.2 without the mean shift: a constant shift does not commute with the
  M-modified flow, which damps the zero mode, and ⟨φ⟩ = 0 by the Z2 symmetry anyway);
* the zero-mode run on [t_split, t_max] learns the carrier fields of ẑ/s0
  (:mod:`~pdd_core.apps.lattice.inverse_rg.learned_flow`).

Needs the ``schemes`` package imported (the registry rebuilds the scheme), as ``pdd train`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import torch

from pdd_core.apps.lattice.estimators import field_array
from pdd_core.apps.lattice.inverse_rg.learned_flow import LearnedInverseRG, carrier_fields, carrier_grid, carrier_scale
from pdd_core.apps.lattice.inverse_rg.residual import BaseLaw, residual_model_config
from pdd_core.apps.lattice.inverse_rg.times import FlowTimes, check_carosso, zero_mode
from pdd_core.apps.trainer.checkpoint import load_trained_model, write_text_atomically
from pdd_core.apps.trainer.loop import train
from pdd_core.config import from_dict, from_tagged, tagged, to_dict
from pdd_core.drifts.presets import drift_preset
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SCHEMES
from pdd_core.training.config import ModelConfig, TrainConfig
from pdd_core.training.objective_config import DenoisingObjectiveConfig

METADATA_NAME = "inverse_rg.json"
LATTICE_RUN, ZERO_MODE_RUN = "lattice", "zero_mode"
# The learned part of ẑ's score is a function of one number and t: a small λ-conditioned FNO with
# one retained mode (pointwise layers plus the mean), cheap on the 2 x 2 carrier.
ZERO_MODE_NETWORK = ModelConfig("fno", "tiny", {"modes": 1, "width": 32, "layers": 3, "projection_width": 64, "embedding_dim": 32})


class FieldDataset:
    """Static fields ``[n, *grid.shape]`` as a training set for :func:`~pdd_core.apps.trainer.loop.train`:
    item i is float32 ``[1, 1, *grid.shape]`` (T = C = 1); ``dt`` is unused by the denoising objective."""

    dt = 1.0

    def __init__(self, fields: torch.Tensor, grid: Grid):
        self.grid = grid
        self.fields = fields.to(torch.float32).reshape(fields.shape[0], 1, 1, *grid.shape)

    def __len__(self) -> int:
        return self.fields.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.fields[index]


def lattice_network(grid: Grid, preset: str = "tiny") -> ModelConfig:
    """The periodic U-Net of a preset with its levels cut to the divisibility of N (N = 20: 20 -> 10 -> 5)."""
    widths = drift_preset("unet", grid.ndim, preset)["widths"]
    levels = min(min((size & -size).bit_length() - 1 for size in grid.shape), len(widths))
    if levels < 1:
        raise bad_argument("grid.shape", grid.shape, "the U-Net needs even lattice sizes", "use an even N", kind=ConfigError)
    return ModelConfig("unet", preset, {"widths": list(widths[:levels])})


@attrs.frozen
class TrainingSettings:
    """Settings of the two denoising runs (Adam, EMA, batches of ``batch_size`` fields)."""

    lattice_steps: int = 1000
    zero_mode_steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    ema_decay: float = 0.995
    preset: str = "tiny"
    seed: int = 0


def _config(settings: TrainingSettings, model: ModelConfig, scheme: Any, lam_min: float, lam_max: float, steps: int, n: int) -> TrainConfig:
    return TrainConfig(
        model=model,
        scheme=scheme,
        objective=DenoisingObjectiveConfig(),
        lam_min=lam_min,
        lam_max=lam_max,
        window=1,
        steps=steps,
        batch_size=min(settings.batch_size, n),
        lr=settings.lr,
        ema_decay=settings.ema_decay,
        seed=settings.seed,
        log_every=max(1, steps // 200),
        checkpoint_every=steps,
        device="cpu",
    )


def train_inverse_rg(
    samples: Any, grid: Grid, scheme: Any, run_dir: str | Path, times: FlowTimes, settings: TrainingSettings = TrainingSettings(), progress: bool = False
) -> LearnedInverseRG:
    """Train both residual denoisers from UV ``samples`` ``[n, N, N]`` (original units) and return the model.

    Writes ``run_dir/lattice`` and (when t_split < t_max) ``run_dir/zero_mode``, two ``pdd train``
    run directories, and ``run_dir/inverse_rg.json`` (grid, scheme, units, times, settings).
    """
    check_carosso(scheme)
    run_dir = Path(run_dir)
    fields = torch.from_numpy(field_array(samples, grid))
    n = fields.shape[0]
    scale = float(fields.pow(2).mean().sqrt())
    modes = zero_mode(fields)
    zero_mode_scale = carrier_scale(modes)
    if not (scale > 0 and zero_mode_scale > 0):
        raise bad_argument("samples", "fields with zero RMS or zero mean field", "cannot set the field units", "pass HMC samples of the theory")
    lattice_scheme = attrs.evolve(scheme, beta=scheme.beta / scale)
    lattice_model = residual_model_config(lattice_network(grid, settings.preset), lattice_scheme, BaseLaw.of_fields(fields / scale, grid))
    config = _config(settings, lattice_model, lattice_scheme, 0.0, times.t_split, settings.lattice_steps, n)
    train(config, run_dir / LATTICE_RUN, data=FieldDataset(fields / scale, grid), progress=progress)
    if times.t_split < times.t_max:
        carrier, constant = carrier_grid(grid), carrier_fields(modes, zero_mode_scale)
        carrier_scheme = attrs.evolve(scheme, alpha=0.0, beta=scheme.beta / zero_mode_scale)
        zero_model = residual_model_config(ZERO_MODE_NETWORK, carrier_scheme, BaseLaw.of_fields(constant, carrier))
        config = _config(settings, zero_model, carrier_scheme, times.t_split, times.t_max, settings.zero_mode_steps, n)
        train(config, run_dir / ZERO_MODE_RUN, data=FieldDataset(constant, carrier), progress=progress)
    metadata = {
        "grid": to_dict(grid),
        "scheme": tagged(scheme, SCHEMES),
        "scale": scale,
        "zero_mode_scale": zero_mode_scale,
        "times": to_dict(times),
        "n_train": n,
        "settings": to_dict(settings),
    }
    write_text_atomically(run_dir / METADATA_NAME, json.dumps(metadata, indent=1) + "\n")
    return load_inverse_rg(run_dir)


def load_inverse_rg(run_dir: str | Path) -> LearnedInverseRG:
    """Rebuild a :class:`LearnedInverseRG` (EMA weights) from the directory :func:`train_inverse_rg` wrote."""
    run_dir = Path(run_dir)
    path = run_dir / METADATA_NAME
    if not path.is_file():
        raise bad_argument("run_dir", str(run_dir), f"holds no {METADATA_NAME}", "pass a directory written by train_inverse_rg", kind=ConfigError)
    metadata = json.loads(path.read_text())
    times = from_dict(FlowTimes, metadata["times"])
    return LearnedInverseRG(
        lattice_network=load_trained_model(run_dir / LATTICE_RUN)[0],
        zero_mode_network=load_trained_model(run_dir / ZERO_MODE_RUN)[0] if times.t_split < times.t_max else None,
        grid=from_dict(Grid, metadata["grid"]),
        scheme=from_tagged(metadata["scheme"], SCHEMES),
        scale=float(metadata["scale"]),
        zero_mode_scale=float(metadata["zero_mode_scale"]),
        times=times,
    )


__all__ = ["FieldDataset", "LATTICE_RUN", "METADATA_NAME", "TrainingSettings", "ZERO_MODE_NETWORK", "ZERO_MODE_RUN", "lattice_network", "load_inverse_rg", "train_inverse_rg"]
