"""Fitted climate closures kept beside their run, so that a second ``pdd simulate`` or ``evaluate`` does not refit them.

A :class:`~pdd_core.apps.inference.climate_closure.ClimateClosure` costs calibration rollouts
per λ (Lorenz-96: ~25 s of CPU for two rounds; the Kolmogorov flow at 40²: minutes). What it
fits depends only on the run's checkpoint, the calibration data, the calibration settings and
λ, so the result is stored in ``RUN_DIR/closures/`` under a name derived from all of them: a
retrained run (another checkpoint), another data file or other settings never read a stale fit.
Files appear whole (written under a temporary name, then renamed); two processes that fit the
same closure write the same content, so the last rename is as good as the first. A run directory
that cannot be written (read-only, full) only loses the cache: the fit is used and a one-line
note goes to stderr.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import attrs
import torch

from pdd_core.apps.trainer.checkpoint import checkpoint_identity
from pdd_core.drifts.mode_correction import ModeCorrection
from pdd_core.files import write_bytes_atomically

DIRECTORY = "closures"
# Bump when the closure's fitting rule or the fields a file stores change: older files then no longer match.
FORMAT = 4


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Which file a fit came from: its resolved path, size and modification time."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return {"path": str(resolved), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@attrs.frozen
class StoredFit:
    """One λ's fitted closure as the cache keeps it: σ_k, the correction, and the fit's record for ``describe()``.

    ``rounds``: the calibration rounds kept; ``linear_fallback``: whether a secant step fell back to
    the linear rule; ``noise_scales``: the noise's speed scale per channel; ``overshoots``: the
    guard's counts (rounds of retries, modes retried, modes sent to the most damping).
    """

    sigma: torch.Tensor
    correction: ModeCorrection
    rounds: int
    linear_fallback: bool
    noise_scales: list[float]
    overshoots: dict[str, int]


@attrs.frozen
class ClosureCache:
    """The fitted closures of one run, ``directory`` (``RUN_DIR/closures``), keyed by what they were fitted from."""

    directory: Path = attrs.field(converter=Path)

    @classmethod
    def of_run(cls, run_dir: str | os.PathLike) -> ClosureCache:
        return cls(Path(run_dir) / DIRECTORY)

    def path(self, identity: dict[str, Any]) -> Path:
        """The file of a fit identified by ``identity`` (JSON-serialisable): a SHA-256 of it, with λ in the name for a reader."""
        digest = hashlib.sha256(json.dumps({"format": FORMAT, **identity}, sort_keys=True).encode()).hexdigest()[:24]
        return self.directory / f"lambda{identity['lam']:g}_{digest}.pt"

    def load(self, identity: dict[str, Any]) -> StoredFit | None:
        """The stored fit identified by ``identity``; None where there is none (or it cannot be read)."""
        path = self.path(identity)
        if not path.is_file():
            return None
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            return StoredFit(
                sigma=stored["sigma"],
                correction=ModeCorrection(stored["linear"], stored["offset"]),
                rounds=int(stored["rounds"]),
                linear_fallback=bool(stored["linear_fallback"]),
                noise_scales=[float(scale) for scale in stored["noise_scales"]],
                overshoots={str(key): int(count) for key, count in stored["overshoots"].items()},
            )
        except (OSError, RuntimeError, KeyError, ValueError, EOFError, pickle.UnpicklingError) as error:  # a damaged file is refitted and replaced
            print(f"note: the stored climate closure {path} cannot be read ({type(error).__name__}); refitting it", file=sys.stderr)
            return None

    def store(self, identity: dict[str, Any], fit: StoredFit) -> None:
        path = self.path(identity)
        buffer = io.BytesIO()
        record = {"sigma": fit.sigma.cpu(), "linear": fit.correction.linear.cpu(), "offset": fit.correction.offset.cpu(), "rounds": fit.rounds, "linear_fallback": fit.linear_fallback}
        torch.save({**record, "noise_scales": list(fit.noise_scales), "overshoots": dict(fit.overshoots), "identity": identity}, buffer)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomically(path, buffer.getbuffer())
        except OSError as error:
            print(f"note: the fitted climate closure is not kept in {self.directory} ({error.strerror or error}); the next command refits it", file=sys.stderr)


def closure_identity(run_dir: str | os.PathLike, data_file: str | os.PathLike, settings: dict[str, Any], lam: float) -> dict[str, Any]:
    """What a fit at λ depends on: the checkpoint, the calibration data file and the calibration ``settings``."""
    return {"checkpoint": checkpoint_identity(run_dir), "data": file_identity(data_file), "settings": settings, "lam": float(lam)}


__all__ = ["ClosureCache", "StoredFit", "closure_identity", "file_identity"]
