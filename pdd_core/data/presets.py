"""Named dataset sizes per system (``pdd data generate SYSTEM --preset NAME``)."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class DatasetPreset:
    """How many paths of how many frames to generate, and system parameter overrides.

    Attributes:
        n_train, n_valid, n_test: number of paths (samples) per split.
        n_frames: snapshots per path (T); for static systems, samples per chain (each chain
            is burnt in once and every frame becomes its own T = 1 sample).
        overrides: system parameters that differ from the class defaults for this preset.
        note: one line saying what the preset reproduces or what it scaled down.
    """

    n_train: int
    n_valid: int
    n_test: int
    n_frames: int
    overrides: dict[str, Any] = attrs.field(factory=dict)
    note: str = ""
