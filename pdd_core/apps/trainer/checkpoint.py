"""One self-describing checkpoint file per run, written atomically.

``RUN_DIR/checkpoint.pt`` is a ``torch.save`` of a plain dict::

    format          "pdd-checkpoint"
    format_version  1
    pdd_version     the package version that wrote it
    step            number of optimizer steps taken
    config          the resolved TrainConfig as a dict (config_to_dict)
    grid, dt        the data's Grid (as a dict) and Δt, so the model rebuilds without the data
    model, ema      state_dicts of the trained and the weight-averaged network
    optimizer       the Adam state
    rng             torch's global CPU (and CUDA) RNG states
    last_loss       the loss of step ``step``
    data_power      G(k) = E|û0(k)|² of the standardised training data [C, *rfft] (float64), for
                    the Gaussian initial density r_λ (score "path-per-mode-r"); None for
                    denoising runs, absent in checkpoints written before it was added
    data_autocovariance
                    A(k, ℓ) of the first 64 whole standardised training paths [C, *rfft, T]
                    (float64): the temporal covariance per mode behind the generation prior and
                    the few-step samplers' reference (GaussianMarginal); absent in older checkpoints
    data_mean       the mean field ū of the same paths [C, *space] (float64): the marginal's mean,
                    about which it takes the covariance; absent in older checkpoints

    checksum        SHA-256 of everything above (:func:`content_checksum`), checked on load, so
                    a flipped bit in a weight is refused rather than resumed; absent in
                    checkpoints written before it was added

It is written to a temporary file in the same directory, flushed to disk and renamed over
the old one (``os.replace`` is atomic), so a crash or an exception at any moment leaves
either the previous checkpoint or the new one, never a partial file. It holds only
tensors and builtins, so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pdd_core.config import from_dict
from pdd_core.errors import DataError, bad_argument
from pdd_core.files import write_bytes_atomically
from pdd_core.grid import Grid
from pdd_core.training.config import TrainConfig, config_from_dict
from pdd_core.training.models import build_model
from pdd_core.version import __version__

CHECKPOINT_NAME = "checkpoint.pt"
CONFIG_NAME = "config.json"
LOG_NAME = "log.jsonl"
CHECKPOINT_FORMAT = "pdd-checkpoint"
CHECKPOINT_VERSION = 1


def checkpoint_path(run_dir: str | os.PathLike) -> Path:
    """``RUN_DIR/checkpoint.pt``; a path to a file is returned unchanged."""
    path = Path(run_dir)
    return path if path.suffix == ".pt" else path / CHECKPOINT_NAME


def checkpoint_identity(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Which checkpoint a result came from (its file's size and modification time), to tell a retrained run apart."""
    stat = checkpoint_path(run_dir).stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def content_checksum(value: Any) -> str:
    """SHA-256 of a checkpoint's content: tensors by dtype, shape and bytes, the rest by its JSON-like repr, keys sorted."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest, value: Any) -> None:
    if torch.is_tensor(value):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"tensor {tensor.dtype} {tuple(tensor.shape)}:".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(b"{")
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode() + b":")
            _feed(digest, value[key])
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    else:
        digest.update(f"{type(value).__name__} {value!r};".encode())


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus format, version and checksum fields) atomically to ``path``."""
    target = Path(path)
    record = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "pdd_version": __version__, **payload}
    record["checksum"] = content_checksum(record)
    buffer = io.BytesIO()
    torch.save(record, buffer)
    write_bytes_atomically(target, buffer.getbuffer())


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Replace a small text file (the resolved config, a truncated log) in one rename."""
    write_bytes_atomically(path, text.encode())


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSONL loss log; a torn last line (a crash mid-write) is skipped."""
    records = []
    target = Path(path)
    if not target.is_file():
        return records
    for line in target.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def truncate_log(path: str | os.PathLike, step: int) -> None:
    """Keep the log records of steps <= ``step``: those after the checkpoint will be redone."""
    kept = [record for record in read_log(path) if record["step"] <= step]
    write_text_atomically(path, "".join(json.dumps(record) + "\n" for record in kept))


# The entries a checkpoint must hold to be resumed or sampled from.
REQUIRED_KEYS = ("step", "config", "grid", "dt", "model", "ema")
# The kinds of run that write checkpoint.pt, in words, for the message that names a run of the wrong kind.
TRAIN_RUN, FLOW_RUN, GROUND_STATE_RUN = "a `pdd train` run", "a `pdd rg-flow --flow` run", "a `pdd ground-state` run"


def checkpoint_kind(record: dict[str, Any]) -> str | None:
    """The kind of run that wrote a checkpoint's entries (``TRAIN_RUN``, ``FLOW_RUN``, ``GROUND_STATE_RUN``), None if none of them.

    A flow run's record names a registered lattice system; a ground state's names its Hamiltonian by class.
    """
    if "config" in record and "ema" in record:
        return TRAIN_RUN
    flow = record.get("record")
    if isinstance(flow, dict) and "flow" in flow:
        system = flow.get("system")
        return FLOW_RUN if isinstance(system, dict) and "name" in system else GROUND_STATE_RUN
    return None



def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu", required: tuple[str, ...] = REQUIRED_KEYS, *, expected: str = TRAIN_RUN) -> dict[str, Any]:
    """Read and validate a checkpoint (a run directory or the ``.pt`` file itself) of ``expected`` (a kind of run) that holds the keys ``required``."""
    target = checkpoint_path(path)
    if not target.is_file():
        raise bad_argument("checkpoint", str(target), "no such file", f"pass the directory of {expected} (it holds checkpoint.pt)", kind=DataError)
    try:
        record = torch.load(target, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's refusal spans several lines and suggests weights_only=False: never for an untrusted file.
        raise bad_argument(
            "checkpoint",
            str(target),
            "holds Python objects other than tensors and builtins (refused: loading them could run code)",
            "use a checkpoint written by `pdd train`",
            kind=DataError,
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:  # a damaged or foreign file
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise bad_argument(
            "checkpoint",
            str(target),
            f"cannot be read ({type(error).__name__}: {first_line})",
            "the file is damaged or not a pdd checkpoint: train again or restore a copy",
            kind=DataError,
        ) from None
    if not isinstance(record, dict) or record.get("format") != CHECKPOINT_FORMAT:
        raise bad_argument("checkpoint", str(target), "is not a pdd checkpoint", "pass a checkpoint written by `pdd train`", kind=DataError)
    if record.get("format_version") != CHECKPOINT_VERSION:
        raise bad_argument(
            "checkpoint format_version",
            record.get("format_version"),
            f"this pdd reads version {CHECKPOINT_VERSION}",
            "use the pdd version that wrote it",
            kind=DataError,
        )
    missing = [key for key in required if key not in record]
    found = checkpoint_kind(record)
    if missing and found not in (None, expected):
        raise bad_argument("checkpoint", str(target), f"is {found}, not {expected}", f"pass the directory of {expected}", kind=DataError)
    if missing:
        raise bad_argument("checkpoint", str(target), f"lacks {', '.join(missing)}", "the file is damaged: train again or restore a copy", kind=DataError)
    if "checksum" in record:
        stored = record.pop("checksum")
        if content_checksum(record) != stored:
            raise bad_argument("checkpoint", str(target), "its contents no longer match their SHA-256 (the file is damaged)", "resume from an earlier copy or train again", kind=DataError)
    for weights in (name for name in ("model", "ema") if name in record):
        bad = [name for name, value in record[weights].items() if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all())]
        if bad:
            # A diverged or damaged run: sampling with it would blame Δt or the sampler instead.
            raise bad_argument("checkpoint", str(target), f"holds NaN/inf {weights} weights ({bad[0]}{' and more' if len(bad) > 1 else ''})", "resume from an earlier copy or train again", kind=DataError)
    return record


def checkpoint_config(record: dict[str, Any]) -> TrainConfig:
    """The resolved :class:`TrainConfig` stored in a checkpoint."""
    return config_from_dict(record["config"])


def load_trained_model(path: str | os.PathLike, *, ema: bool = True, map_location: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig, Grid, float]:
    """Rebuild the network of a run from its checkpoint alone: ``(model, config, grid, dt)`` (see :func:`model_from_record`)."""
    return model_from_record(load_checkpoint(path, map_location), ema=ema)


def model_from_record(record: dict[str, Any], *, ema: bool = True) -> tuple[nn.Module, TrainConfig, Grid, float]:
    """The network of a loaded checkpoint record: ``(model, config, grid, dt)``.

    ``ema=True`` loads the weight-averaged parameters (the ones to sample with). The model is
    returned in ``eval()`` mode with the run's parameter dtype.
    """
    config = checkpoint_config(record)
    grid = from_dict(Grid, record["grid"])
    model = build_model(
        config.model.name,
        grid,
        config.resolved_window,
        noise_head=config.objective.noise_head,
        preset=config.model.preset,
        overrides=config.model.overrides,
    )
    model = model.to(dtype=getattr(torch, config.dtype))
    try:
        model.load_state_dict(record["ema" if ema else "model"])
    except RuntimeError as error:  # torch lists every mismatched tensor over many lines
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise bad_argument("checkpoint", config.model.name, f"its weights do not fit the network its config describes ({first})", "the checkpoint and its config disagree: train again or restore a copy", kind=DataError) from None
    return model.eval(), config, grid, float(record["dt"])


__all__ = [
    "CHECKPOINT_NAME",
    "CONFIG_NAME",
    "LOG_NAME",
    "FLOW_RUN",
    "GROUND_STATE_RUN",
    "TRAIN_RUN",
    "checkpoint_config",
    "checkpoint_kind",
    "checkpoint_identity",
    "checkpoint_path",
    "content_checksum",
    "load_checkpoint",
    "load_trained_model",
    "model_from_record",
    "read_log",
    "save_checkpoint",
    "truncate_log",
    "write_text_atomically",
]
