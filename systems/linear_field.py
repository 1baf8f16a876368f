"""Linear Gaussian field: the system whose path distribution is known in closed form.

    ∂t u = (ν∇² − γ) u + s ξ        on a periodic grid, d = 1 or 2, C independent channels,

with ξ space-time white noise in the discrete convention of PDD Section A.1 (Eq. 25): at each
output time t_n, ξ(x_i, t_n) ~ N(0, 1/Δt) independently per grid point and channel (no 1/Δx
factor), so the noise increment s ξ Δt has variance s² Δt per grid point.

Orthonormal Fourier modes (``norm="ortho"``, :mod:`pdd_core.spectral`) keep that noise white, so
each rfft mode k is an independent Ornstein-Uhlenbeck process

    dũ_k = −r_k ũ_k dt + s dW_k,     r_k = ν|k|² + γ > 0,

with E|dW_k|² = dt (dW_k real for the self-conjugate modes k = 0 and Nyquist; otherwise its
real and imaginary parts are independent with variance dt/2 each). It is sampled exactly, with
no time-step error: over one output interval Δt each mode is the AR(1) recursion

    ũ_{n+1} = a_k ũ_n + b_k ε_n,   a_k = e^{−r_k Δt},   b_k² = s² (1 − e^{−2 r_k Δt}) / (2 r_k) = s² Δt φ1(−2 r_k Δt),

with ε_n the orthonormal rfft of real N(0, 1) white noise (same real/complex structure as dW_k).
The φ1 form (PDD Eq. 18 numerics) stays finite as r_k → 0. Initial states come from the
stationary law, so ``burn_in = 0`` is exact.

Closed-form ground truth (checked by tests/parts/test_linear_field.py), per rfft mode k and
identical for every channel:

* stationary variance      E|ũ_k|² = s² / (2 r_k)                          (:meth:`stationary_variance`)
* stationary path law      E[ũ_k(t_i) conj(ũ_k(t_j))] = s²/(2 r_k) e^{−r_k |i−j| Δt}   (:meth:`path_covariance`)
  (the pseudo-covariance E[ũ_k(t_i) ũ_k(t_j)] vanishes except for self-conjugate modes,
  and distinct modes, channels and samples are independent)
* exact linear drift       ∂t ũ_k = −r_k ũ_k                                (:meth:`drift_symbol`)
* exact one-step transition (a_k, b_k) above                                (:meth:`transition_coefficients`)

These let later stages check learned drifts, path scores and samplers against exact answers.
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
from pdd_core.spectral import irfft, phi1, rfft
from pdd_core.validation import check_count, check_field, non_negative, positive


def _as_int_tuple(value) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)


def _check_dimensions(instance, attribute, value: tuple[int, ...]) -> None:
    if len(value) not in (1, 2):
        raise bad_argument("shape", value, "the linear Gaussian field is defined for d = 1 or 2 spatial axes", "pass e.g. shape=(64,) or shape=(32, 32)")


def ou_transition(rate: torch.Tensor, dt: float, s: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact OU transition over ``dt`` for ``dũ = −r ũ dt + s dW``: ``(e^{−rΔt}, sqrt(s²(1 − e^{−2rΔt})/(2r)))``.

    The standard deviation is written as ``s sqrt(Δt φ1(−2rΔt))`` with φ1 via ``expm1``, so it
    is accurate for r Δt ≪ 1 and equals the Wiener value ``s sqrt(Δt)`` at r = 0.
    """
    decay = torch.exp(-rate * dt)
    std = s * torch.sqrt(dt * phi1(-2.0 * rate * dt))
    return decay, std


@SYSTEMS.register("linear")
@attrs.frozen
class LinearGaussianField:
    """∂t u = (ν∇² − γ) u + s ξ, sampled exactly mode by mode (see the module docstring).

    Attributes:
        shape: grid points per axis, d = 1 or 2.
        length: domain length of every axis (the domain is [0, length)^d).
        nu: diffusion coefficient ν >= 0.
        gamma: damping γ > 0 (keeps the k = 0 mode stationary).
        s: noise amplitude s > 0.
        dt: output interval Δt between frames.
        channels: number of independent, identically distributed field channels.
        symbol: ``continuous`` |k|² or the ``lattice`` Laplacian symbol (see :mod:`pdd_core.grid`).
    """

    shape: tuple[int, ...] = attrs.field(default=(64,), converter=_as_int_tuple, validator=_check_dimensions)
    length: float = attrs.field(default=2 * math.pi, validator=positive)
    nu: float = attrs.field(default=0.1, validator=non_negative)
    gamma: float = attrs.field(default=0.5, validator=positive)
    s: float = attrs.field(default=1.0, validator=positive)
    dt: float = attrs.field(default=0.1, validator=positive)
    channels: int = 1
    symbol: str = "continuous"

    static: ClassVar[bool] = False
    burn_in: ClassVar[float] = 0.0
    presets: ClassVar[dict[str, DatasetPreset]] = {
        "small": DatasetPreset(256, 32, 32, 32, note="'paper' scaled down to 64 points and 256/32/32 paths of 32 frames"),
        "paper": DatasetPreset(
            3000,
            100,
            100,
            64,
            overrides={"shape": (128,)},
            note="not in the papers: a moderately larger set, 128 points in 1D with PDD B.1's Lorenz-96 split (3000/100/100 paths of 64 frames)",
        ),
    }

    def __attrs_post_init__(self) -> None:
        _ = self.grid  # building the Grid validates sizes, channels and symbol at construction

    @property
    def grid(self) -> Grid:
        return Grid(self.shape, length=self.length, channels=self.channels, symbol=self.symbol)

    def rate(self) -> torch.Tensor:
        """r_k = ν|k|² + γ per rfft mode, float64 ``[*rfft_shape]``."""
        return self.nu * self.grid.k2() + self.gamma

    def drift_symbol(self) -> torch.Tensor:
        """The exact linear drift per rfft mode, −r_k (∂t ũ_k = −r_k ũ_k), float64 ``[*rfft_shape]``."""
        return -self.rate()

    def stationary_variance(self, k2: torch.Tensor | None = None) -> torch.Tensor:
        """E|ũ_k|² = s² / (2(ν|k|² + γ)) for the given squared wavenumbers (default: this grid's)."""
        k2 = self.grid.k2() if k2 is None else torch.as_tensor(k2, dtype=torch.float64)
        return self.s**2 / (2.0 * (self.nu * k2 + self.gamma))

    def transition_coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-mode exact AR(1) coefficients ``(a_k, b_k)`` over one output interval Δt."""
        return ou_transition(self.rate(), self.dt, self.s)

    def path_covariance(self, n_frames: int) -> torch.Tensor:
        """Exact stationary path covariance per rfft mode, float64 ``[*rfft_shape, T, T]``.

        ``K_k[i, j] = E[ũ_k(t_i) conj(ũ_k(t_j))] = s²/(2 r_k) e^{−r_k |i−j| Δt}``: a symmetric
        Toeplitz matrix per mode. Real-space paths have the circulant-in-space covariance
        ``Cov(u(x, t_i), u(x', t_j)) = (1/N) Σ_k K_k[i, j] e^{i k (x − x')}`` (full spectrum).
        """
        n_frames = check_count("n_frames", n_frames, 1)
        steps = torch.arange(n_frames, dtype=torch.float64)
        lags = (steps[:, None] - steps[None, :]).abs() * self.dt
        rate = self.rate()[..., None, None]
        return self.stationary_variance()[..., None, None] * torch.exp(-rate * lags)

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """A draw from the stationary law, float64 ``[B, C, *shape]``."""
        batch = check_count("batch", batch, 1)
        white = torch.from_numpy(self._white_noise(batch, rng))
        state_hat = rfft(white, self.grid.ndim) * self.stationary_variance().sqrt()
        return irfft(state_hat, self.shape).numpy()

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Exact AR(1) steps of Δt; returns frames ``[B, n_frames, C, *shape]`` and the final state.

        Noise is drawn frame by frame, so ``advance(s, m + n)`` equals ``advance`` by m then n
        with the same generator (to round-off: the chained state makes one more FFT round trip).
        """
        state = self._check_state(state)
        n_frames = check_count("n_frames", n_frames, 1)
        ndim = self.grid.ndim
        decay, std = self.transition_coefficients()
        mode = rfft(torch.from_numpy(state), ndim)
        frames_hat = torch.empty((state.shape[0], n_frames, *mode.shape[1:]), dtype=mode.dtype)
        for frame in range(n_frames):
            noise = rfft(torch.from_numpy(self._white_noise(state.shape[0], rng)), ndim)
            mode = decay * mode + std * noise
            frames_hat[:, frame] = mode
        frames = irfft(frames_hat, self.shape).numpy()
        return frames, frames[:, -1].copy()

    def _white_noise(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        if not isinstance(rng, np.random.Generator):
            raise bad_argument("rng", rng, "randomness must come from an explicit numpy Generator", "pass rng=numpy.random.default_rng(seed)", kind=DTypeError)
        return rng.standard_normal((batch, self.channels, *self.shape))

    def _check_state(self, state) -> np.ndarray:
        if not isinstance(state, np.ndarray):
            problem = "expected a numpy array [B, C, *space]"
            raise bad_argument("state", type(state).__name__, problem, "pass initial_state(...) or advance(...)[1]", kind=DTypeError)
        check_field(torch.from_numpy(np.ascontiguousarray(state)), self.grid, "state", leading=1)
        return np.ascontiguousarray(state, dtype=np.float64)


__all__ = ["LinearGaussianField", "ou_transition"]
