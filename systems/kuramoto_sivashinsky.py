"""Kuramoto-Sivashinsky equation, 1D periodic: the worked example of docs/adding_a_system.md.

    u_t = −u u_x − u_xx − u_xxxx      on [0, L), periodic.

Defaults: L = 22 on N = 64 points, a standard small chaotic domain (Cvitanović, Davidchack &
Siminos 2010, "On the state space geometry of the Kuramoto-Sivashinsky flow in a periodic
domain", SIAM J. Appl. Dyn. Syst. 9, 1-33), widely used to train and test learned surrogates.
Integrated in Fourier space with ETDRK4 (Kassam & Trefethen 2005, SIAM J. Sci. Comput. 26,
1214-1233, Eqs. 2.5 and the contour-integral coefficients of Section 5): the stiff linear
part L̂(k) = k² − k⁴ is exact, the nonlinear term N̂ = −(ik/2) FFT(u²) is dealiased with the
2/3 rule. Its k = 0 entry is zero, so the mean ∫u dx is conserved exactly.
"""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import numpy as np
import torch

from pdd_core.data.presets import DatasetPreset
from pdd_core.errors import DTypeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SYSTEMS
from pdd_core.validation import at_least, check_count, check_field, non_negative, positive
from systems.etdrk4 import etdrk4_coefficients, etdrk4_step


@SYSTEMS.register("kuramoto-sivashinsky")
@attrs.frozen
class KuramotoSivashinsky:
    """Batched ETDRK4 truth integrator for KS; ``substeps`` steps of h = dt / substeps per output frame."""

    length: float = attrs.field(default=22.0, validator=positive)
    n_points: int = attrs.field(default=64, validator=at_least(8))  # the 2/3 band keeps at least two nonzero modes
    dt: float = attrs.field(default=0.25, validator=positive)
    substeps: int = attrs.field(default=5, validator=at_least(1))
    burn_in: float = attrs.field(default=250.0, validator=non_negative)
    initial_amplitude: float = attrs.field(default=0.1, validator=positive)

    static: ClassVar[bool] = False
    channel_names: ClassVar[tuple[str, ...]] = ("u",)  # labels of the channels in figures
    conserves_mean: ClassVar[bool] = True  # the spatial mean is a constant of motion: drifts are trained without a k = 0 part
    presets: ClassVar[dict[str, DatasetPreset]] = {
        "small": DatasetPreset(256, 32, 32, 64, note="'paper' scaled down to 256/32/32 paths of 64 frames (KS L = 22, N = 64)"),
        "paper": DatasetPreset(3000, 100, 100, 64, note="KS is not in the papers: PDD B.1's Lorenz-96 sizes (3000/100/100 paths of 64 frames), L = 22, N = 64"),
    }

    @property
    def grid(self) -> Grid:
        return Grid((self.n_points,), length=self.length)

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Small zero-mean random noise in the dealiased band, float64 ``[B, 1, N]``; burn-in grows it onto the attractor."""
        noise = np.fft.rfft(rng.standard_normal((check_count("batch", batch, 1), 1, self.n_points)))
        noise *= self._dealias() * (np.arange(noise.shape[-1]) > 0)
        field = np.fft.irfft(noise, n=self.n_points)
        return self.initial_amplitude * field / field.std(axis=-1, keepdims=True)

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """ETDRK4 over ``n_frames`` output intervals; returns frames ``[B, n_frames, 1, N]`` and the final state."""
        if not isinstance(state, np.ndarray):
            raise bad_argument("state", type(state).__name__, "expected a numpy array [B, 1, N]", "pass initial_state(...) or advance(...)[1]", kind=DTypeError)
        check_field(torch.from_numpy(np.ascontiguousarray(state)), self.grid, "state", leading=1)
        n_frames = check_count("n_frames", n_frames, 1)
        coefficients, derivative = self._coefficients()
        v = np.fft.rfft(np.asarray(state, dtype=np.float64))
        frames = np.empty((state.shape[0], n_frames, 1, self.n_points))
        for frame in range(n_frames):
            for _ in range(self.substeps):
                v = etdrk4_step(v, coefficients, lambda w: self._nonlinear(w, derivative))
            frames[:, frame] = np.fft.irfft(v, n=self.n_points)
        return frames, frames[:, -1].copy()

    def _nonlinear(self, v: np.ndarray, derivative: np.ndarray) -> np.ndarray:
        """N̂(v) = −(ik/2) FFT(u²), zero outside the 2/3 band so the quadratic product is alias-free."""
        return derivative * np.fft.rfft(np.fft.irfft(v, n=self.n_points) ** 2)

    def _dealias(self) -> np.ndarray:
        return (np.arange(self.n_points // 2 + 1) < self.n_points / 3).astype(np.float64)

    def _coefficients(self) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """ETDRK4 weights of h·L̂(k) = h(k² − k⁴) (:func:`systems.etdrk4.etdrk4_coefficients`) and −(ik/2)·dealias."""
        k = 2 * math.pi / self.length * np.arange(self.n_points // 2 + 1)
        return etdrk4_coefficients(k**2 - k**4, self.dt / self.substeps), -0.5j * k * self._dealias()


__all__ = ["KuramotoSivashinsky"]
