"""The settings of a training run: frozen ``attrs`` records structured by ``cattrs`` from TOML/JSON/flags.

A run is a function of its :class:`TrainConfig` (plus the data file): the resolved config is
written to ``RUN_DIR/config.json`` and stored in every checkpoint. Defaults follow PDD B.3
(Adam with lr 2·10⁻⁴, no gradient clipping, λ ~ U(0, 1), a history window of 5 states).
"""

from __future__ import annotations

import json
import os
import tomllib
from typing import Any

import attrs

from pdd_core.config import from_dict, from_tagged, registered, to_dict
from pdd_core.devices import check_device_name
from pdd_core.protocols import RGScheme
from pdd_core.registry import SCHEMES
from pdd_core.training.checks import check_integer, check_real, config_error
from pdd_core.training.learning_rate import LR_SCHEDULES
from pdd_core.training.objective_config import ObjectiveConfig, PDDObjectiveConfig, objective_from
from pdd_core.validation import SEED_LIMIT

DTYPES: tuple[str, ...] = ("float32", "float64")
# Settings that may change when a run is resumed: they do not alter the loss curve.
RESUMABLE_FIELDS: tuple[str, ...] = ("steps", "log_every", "checkpoint_every", "num_workers", "device")


@attrs.frozen
class ModelConfig:
    """Which network: a ``MODELS`` name, a size preset and constructor keyword overrides.

    Like the scheme, a model is a table tagged by ``name`` whose variants are an open registry
    (``MODELS``; its keyword arguments are the ``overrides``); the name is checked against the
    registry when training starts, after plug-ins have registered.
    ``channels``, ``ndim`` and ``window`` come from the data and :attr:`TrainConfig.window`;
    the noise head is switched on for the ``sa-pdd`` objective. ``preset`` defaults to
    ``small`` for the networks; ``linear`` has no presets (its one keyword is ``lam_nodes``).
    Without ``overrides`` the U-Net and the FNO get ``linear_part=True``
    (:class:`~pdd_core.drifts.linear_part.LinearPart`); pass ``overrides={}`` for the network
    without it.
    """

    name: str = "unet"
    preset: str | None = None
    overrides: dict[str, Any] = attrs.field(default=attrs.Factory(lambda self: default_overrides(self.name), takes_self=True))

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise config_error("model.name", self.name, "must be a model name", "use 'unet', 'fno' or 'linear'")
        for key in ("channels", "window", "ndim", "noise_head", "grid", "space"):
            if key in self.overrides:
                raise config_error(
                    f"model.overrides.{key}",
                    self.overrides[key],
                    "is set by the trainer (from the data, the window and the objective)",
                    f"remove {key} from the overrides",
                )


# New U-Net and FNO runs get the λ-dependent linear part (pdd_core.drifts.linear_part): on
# Lorenz-96 it moved the λ = 0.2 spectral error of deterministic rollouts from 16.7 to 1.3-1.7 and
# fixed the spatial mean (docs/results.md, "Rollout climate"). A config that lists its overrides
# (every stored run does) keeps exactly those, so older runs load as they were trained.
LINEAR_PART_BY_DEFAULT = ("unet", "fno")


# The networks with a conserve_mean switch: on data of a system whose spatial mean is conserved
# (Kolmogorov vorticity) `pdd train` sets it unless the config does.
MEAN_CONSERVING_MODELS = ("unet", "fno", "linear")
# The networks with a forcing_part switch: on data of a system driven by a fixed spatial pattern
# (the Kolmogorov flow's forcing) `pdd train` sets it unless the config does.
FORCING_FIELD_MODELS = ("unet", "fno")


def default_overrides(name: str) -> dict[str, Any]:
    return {"linear_part": True} if name in LINEAR_PART_BY_DEFAULT else {}


# A config file (or command line) that names no scheme gets this tagged table: a name at the
# edge, where names become objects, so the record itself needs no default scheme object.
FILE_DEFAULT_SCHEME = {"name": "carosso"}


def _scheme(value: Any) -> Any:
    """A tagged table (file, command line) becomes the scheme object; an object is kept."""
    return from_tagged(value, SCHEMES) if isinstance(value, dict) else value


@attrs.frozen
class TrainConfig:
    """Everything that determines a training run (PDD Algorithm 1, B.3).

    * ``data``/``split``: a dataset file in the layout of docs/data_format.md; ``frames``:
      train on random sub-paths of that many consecutive frames (None: whole paths).
    * ``scheme``: the RG scheme object, e.g. ``Carosso()`` (required here); a config file gives
      it as a tagged table, ``{"name": "carosso", "alpha": 0.1, "beta": 1.414}``
      (``FILE_DEFAULT_SCHEME`` when it names none), and so may the constructor.
    * ``lam_min``/``lam_max``: λ ~ U(lam_min, lam_max) per sample; equal values fix λ.
    * ``lam_power``: p of the λ law λ = lam_min + (lam_max - lam_min)·u^p, u ~ U(0, 1); 1 is the
      paper's uniform law, p > 1 gives the small λ of simulation more of the training.
    * ``window``: the history window W (None: 5, or 6 for ``conditional-denoising``).
    * ``lr_schedule``: ``constant`` or ``cosine`` decay to 0 at the last step, after
      ``warmup_steps`` of linear warm-up (:func:`~pdd_core.training.learning_rate.learning_rate`).
    * ``batch_size`` is global: under DDP every rank takes a contiguous share of its rows.
    * ``bf16``: bfloat16 autocast around the network forward only (never fp16).
    * ``dtype``: the precision of the parameters and of the paths fed to the loss.
    * ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    """

    data: str | None = None
    split: str = "train"
    frames: int | None = None
    model: ModelConfig = attrs.field(factory=ModelConfig)
    scheme: registered(SCHEMES) = attrs.field(kw_only=True, converter=_scheme)
    objective: ObjectiveConfig = attrs.field(factory=PDDObjectiveConfig, converter=objective_from)
    lam_min: float = 0.0
    lam_max: float = 1.0
    lam_power: float = 1.0
    window: int | None = None
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-4
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    ema_decay: float = 0.999
    grad_clip: float | None = None
    bf16: bool = False
    dtype: str = "float32"
    seed: int = 0
    log_every: int = 1
    checkpoint_every: int = 100
    num_workers: int = 0
    device: str = "auto"

    def __attrs_post_init__(self) -> None:
        if self.data is not None and not isinstance(self.data, str):
            raise config_error("data", self.data, "must be the path of a dataset file", "pass data = 'FILE.h5'")
        if self.split not in ("train", "valid", "test"):
            raise config_error("split", self.split, "unknown split", "use 'train', 'valid' or 'test'")
        if self.frames is not None:
            check_integer("frames", self.frames, 1)
        if not isinstance(self.scheme, RGScheme):
            raise config_error("scheme", type(self.scheme).__name__, "is not an RG scheme", "write e.g. scheme = {name = 'carosso', alpha = 0.1, beta = 1.414}")
        check_real("lam_min", self.lam_min)
        check_real("lam_max", self.lam_max)
        if self.lam_max < self.lam_min:
            raise config_error("lam_max", self.lam_max, f"must be >= lam_min ({self.lam_min})", "use e.g. lam_min = 0, lam_max = 1 (PDD B.3)")
        check_real("lam_power", self.lam_power, positive=True)
        if self.window is not None:
            check_integer("window", self.window, 1)
        check_integer("steps", self.steps, 1)
        check_integer("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, positive=True)
        if self.lr_schedule not in LR_SCHEDULES:
            raise config_error("lr_schedule", self.lr_schedule, "unknown learning-rate schedule", f"use one of {list(LR_SCHEDULES)}")
        check_integer("warmup_steps", self.warmup_steps, 0)
        if self.warmup_steps >= self.steps:
            raise config_error("warmup_steps", self.warmup_steps, f"must be below steps ({self.steps})", "use e.g. warmup_steps = steps // 20")
        check_real("ema_decay", self.ema_decay, at_most=1.0)
        if self.grad_clip is not None:
            check_real("grad_clip", self.grad_clip, positive=True)
        if not isinstance(self.bf16, bool):
            raise config_error("bf16", self.bf16, "must be true or false", "set bf16 = true for bfloat16 autocast")
        if self.dtype not in DTYPES:
            raise config_error("dtype", self.dtype, "unsupported parameter precision", f"use one of {list(DTYPES)}")
        check_integer("seed", self.seed, 0)
        if self.seed >= SEED_LIMIT:
            raise config_error("seed", self.seed, "must be below 2^63", "set seed to an integer in [0, 2^63)")
        check_integer("log_every", self.log_every, 1)
        check_integer("checkpoint_every", self.checkpoint_every, 1)
        check_integer("num_workers", self.num_workers, 0)
        check_device_name(self.device)

    @property
    def resolved_window(self) -> int:
        """W: the configured window, else 5 (PDD B.2) or 6 for the conditional baseline (B.4)."""
        if self.window is not None:
            return self.window
        return self.objective.default_window


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Structure a plain dict (TOML/JSON) into a :class:`TrainConfig`, with the validators' messages."""
    if not isinstance(data, dict):
        raise config_error("config", data, "a training config is a table of settings", "see docs/training.md")
    return from_dict(TrainConfig, {"scheme": dict(FILE_DEFAULT_SCHEME), **data})  # our validators' messages survive (pdd_core.config)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """JSON/TOML-ready builtins; ``config_from_dict(config_to_dict(c)) == c``."""
    return to_dict(config)


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The table of a TOML file, with a clear error for a missing or malformed file."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise config_error("CONFIG", str(path), "no such file", "pass the path of a TOML training config") from None
    except IsADirectoryError:
        raise config_error("CONFIG", str(path), "is a directory", "pass the path of a TOML training config file") from None
    except PermissionError:
        raise config_error("CONFIG", str(path), "cannot be read (permission denied)", "make the file readable") from None
    except UnicodeDecodeError:
        raise config_error("CONFIG", str(path), "is not UTF-8 text (TOML files are UTF-8)", "save the config as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise config_error("CONFIG", str(path), f"is not valid TOML ({error})", "fix the syntax (see docs/training.md for an example)") from None


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``set_dotted(d, "model.overrides.base", 16)``: assign into nested tables, creating them."""
    parts = key.split(".")
    table = data
    for part in parts[:-1]:
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            raise config_error("--set", key, f"{part!r} is a value, not a table", "address a field, e.g. model.overrides.base=16")
        table = child
    table[parts[-1]] = value


def resume_differences(stored: TrainConfig, requested: TrainConfig) -> list[str]:
    """Settings that differ between a stored run and a resume request, except ``RESUMABLE_FIELDS``."""
    # Through JSON, so a tuple from --set and the list read back from config.json compare equal.
    before, after = (json.loads(json.dumps(config_to_dict(c))) for c in (stored, requested))
    return [f"{key}: {before[key]!r} -> {after[key]!r}" for key in before if key not in RESUMABLE_FIELDS and before[key] != after[key]]


__all__ = [
    "DTYPES",
    "FILE_DEFAULT_SCHEME",
    "FORCING_FIELD_MODELS",
    "LINEAR_PART_BY_DEFAULT",
    "MEAN_CONSERVING_MODELS",
    "RESUMABLE_FIELDS",
    "ModelConfig",
    "ObjectiveConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "default_overrides",
    "read_toml",
    "resume_differences",
    "set_dotted",
]
