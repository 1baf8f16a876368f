"""Tiny deterministic systems for the data tests (registered under test-only names).

``ToyWalk`` is a damped random walk u_{n+1} = a u_n + s ξ_n on a 1D grid with two channels;
``ToyField`` is its static counterpart (each frame an i.i.d. Gaussian field, T = 1). The
environment variable PDD_TOY_DELAY (seconds per ``advance`` call) slows them down so a test
can kill a generation midway; it changes timing only, never values.
"""

from __future__ import annotations

import os
import time
from typing import ClassVar

import attrs
import numpy as np

from pdd_core.data.presets import DatasetPreset
from pdd_core.grid import Grid
from pdd_core.registry import SYSTEMS
from pdd_core.validation import check_positive


def _positive(instance, attribute, value) -> None:
    check_positive(attribute.name, value)


def _pause() -> None:
    delay = float(os.environ.get("PDD_TOY_DELAY", "0"))
    if delay > 0:
        time.sleep(delay)


@SYSTEMS.register("toy-test")
@attrs.frozen
class ToyWalk:
    n_points: int = attrs.field(default=8, validator=_positive)
    damping: float = attrs.field(default=0.9, validator=_positive)
    noise: float = attrs.field(default=1.0, validator=_positive)
    offset: tuple[float, float] = (0.0, 3.0)
    dt: float = attrs.field(default=0.1, validator=_positive)
    burn_in: float = 0.5

    static: ClassVar[bool] = False
    presets: ClassVar[dict[str, DatasetPreset]] = {
        "small": DatasetPreset(7, 3, 2, 5, overrides={"n_points": 6}, note="toy sizes: 6 points instead of 8"),
        "paper": DatasetPreset(20, 5, 5, 10),
    }

    @property
    def grid(self) -> Grid:
        return Grid((self.n_points,), channels=2)

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((batch, 2, self.n_points))

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        _pause()
        offset = np.asarray(self.offset)[None, :, None]
        frames = np.empty((state.shape[0], n_frames, 2, self.n_points))
        for n in range(n_frames):
            state = self.damping * state + self.noise * rng.standard_normal(state.shape)
            frames[:, n] = state + offset
        return frames, state


@SYSTEMS.register("toy-static-test")
@attrs.frozen
class ToyField:
    size: int = attrs.field(default=4, validator=_positive)
    dt: float = 1.0
    burn_in: float = 3.0

    static: ClassVar[bool] = True
    presets: ClassVar[dict[str, DatasetPreset]] = {"small": DatasetPreset(10, 3, 3, 4), "paper": DatasetPreset(40, 10, 10, 4)}

    @property
    def grid(self) -> Grid:
        return Grid((self.size, self.size), symbol="lattice")

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        return np.zeros((batch, 1, self.size, self.size))

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        frames = rng.standard_normal((state.shape[0], n_frames, 1, self.size, self.size))
        return frames, frames[:, -1]
