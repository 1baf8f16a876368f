"""Resumable rollouts: ``OUT.partial/`` keeps a rollout's finished segments on disk.

A long simulation is taken in segments of about :data:`SEGMENT_STEPS` steps. After each, one
file ``rows-A-B-step-N.pt`` is written atomically with the segment's saved frames, the drift's
window after step N and the noise generator's state, so that

* a killed process loses at most one segment: re-running the same command continues from the
  last one and gives the same paths as an uninterrupted run, bit for bit;
* a rollout that diverges (NaN, or a state beyond the energy band) keeps every finished segment.

``request.json`` records the command's settings; a different request is refused, as for
``pdd data generate`` (:func:`pdd_core.files.open_work_directory`).
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import torch

from pdd_core.files import open_work_directory, write_bytes_atomically, write_errors

PARTIAL_SUFFIX = ".partial"
SEGMENT_STEPS = 100
SEGMENT_NAME = re.compile(r"rows-(\d+)-(\d+)-step-(\d+)\.pt")


def segment_steps(save_every: int) -> int:
    """Steps per segment: about :data:`SEGMENT_STEPS`, a multiple of ``save_every`` so saved frames stay aligned."""
    return save_every * max(1, SEGMENT_STEPS // save_every)


class PartialRollout:
    """The segment files of one rollout request, in ``directory``."""

    def __init__(self, directory: str | Path, request: dict) -> None:
        self.directory = Path(directory)
        self.request = request

    @classmethod
    def beside(cls, out: str | Path, request: dict) -> PartialRollout:
        out = Path(out)
        return cls(out.with_name(out.name + PARTIAL_SUFFIX), request)

    def open(self, overwrite: bool) -> bool:
        """Create the directory or claim the one an interrupted run left (True: there is work to resume)."""
        return open_work_directory(self.directory, self.request, overwrite, command="pdd simulate")

    def _files(self) -> list[tuple[int, int, int, Path]]:
        found = []
        for path in self.directory.glob("rows-*.pt"):
            match = SEGMENT_NAME.fullmatch(path.name)
            if match:
                found.append((*(int(group) for group in match.groups()), path))
        return sorted(found)

    def segments(self, rows: slice) -> list[dict]:
        """The finished segments of ``rows``, in step order (each: frames, window, step, generator)."""
        return [torch.load(path, weights_only=True) for start, stop, _, path in self._files() if (start, stop) == (rows.start, rows.stop)]

    def generator_state(self) -> torch.Tensor | None:
        """The noise generator's state after the last finished segment of all rows, or None."""
        files = self._files()
        return torch.load(files[-1][3], weights_only=True)["generator"] if files else None

    def finished_steps(self) -> int:
        """Steps finished by the rows in progress (0 before the first segment)."""
        files = self._files()
        return files[-1][2] if files else 0

    def save(self, rows: slice, step: int, frames: torch.Tensor, window: torch.Tensor, generator: torch.Generator | None) -> None:
        record = {"step": step, "frames": frames.cpu(), "window": window.cpu(), "generator": generator.get_state() if generator is not None else None}
        buffer = io.BytesIO()
        torch.save(record, buffer)
        kept = f"the finished segments stay in {self.directory}: re-run the same command to resume"
        with write_errors(self.directory, "out", kept=kept):
            write_bytes_atomically(self.directory / f"rows-{rows.start:06d}-{rows.stop:06d}-step-{step:09d}.pt", buffer.getbuffer())

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


__all__ = ["PARTIAL_SUFFIX", "SEGMENT_STEPS", "PartialRollout", "segment_steps"]
