"""The five protocols of the framework plus the score and noise-source protocols.

Conventions shared by all of them:

* Fields are torch tensors shaped ``[B, T, C, *space]`` (paths) or ``[B, C, *space]``
  (single states); float32 or float64; the grid is a :class:`pdd_core.grid.Grid`.
* λ (the RG diffusion scale) is given per sample as a float64 tensor ``[B]``.
* Randomness is always an argument (``torch.Generator`` for torch code,
  ``numpy.random.Generator`` for numba/numpy truth integrators), never global state.
* Parts are stateless settings objects; one driver loop owns iteration
  (``rollout`` over physical time t, ``sample`` over a decreasing λ schedule).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from pdd_core.grid import Grid
from pdd_core.records import Transition


@runtime_checkable
class System(Protocol):
    """A physical system and its truth integrator (PDD Appendix B.1).

    A system is a frozen settings record (its parameters are its configuration, so
    ``cattrs`` round-trips it). It integrates in float64 and hands out float32 or float64
    NumPy arrays; the data pipeline decides what is stored.

    Contract:
        * ``grid``: the output grid (channels included).
        * ``dt``: the output sampling interval Δt between saved frames.
        * ``burn_in``: physical time discarded before the first saved frame.
        * ``initial_state(batch, rng)`` -> float64 ``[B, C_state, *space_state]``: a random
          initial condition drawn from ``rng``.
        * ``advance(state, n_frames, rng)`` -> ``(frames, state)``: integrate ``n_frames``
          output intervals; ``frames`` is ``[B, n_frames, C, *grid.shape]`` holding only the
          saved frames (memory never grows with the number of integration steps) and
          ``state`` is the final internal state, so calls can be chained. ``rng`` drives
          stochastic forcing and is ignored by deterministic systems.
        * ``static``: True for equilibrium field ensembles (lattice phi^4): successive
          frames are decorrelated MCMC samples and the data pipeline stores each frame as
          its own sample with T = 1; ``dt`` and ``burn_in`` then count MCMC sweeps.
        * ``presets``: class-level ``dict[str, DatasetPreset]`` with at least ``small`` and
          ``paper`` (see :mod:`pdd_core.data.presets`).
    """

    grid: Grid
    dt: float
    burn_in: float
    static: bool

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray: ...

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class RGScheme(Protocol):
    """A linear coarse-graining diffusion in λ, diagonal in Fourier space.

    ``∂λ ũ(k) = -κ(k, λ) ũ(k) + b(k, λ) η̃`` (PDD Eq. 1 / Eq. 67; RDM 5.35-5.36).
    Everything follows from the per-mode closed forms of a transition λ_a → λ_b: the damping
    C̃ and the variance Σ̃, computed in float64 and cast to the field's dtype.

    Contract (all λ arguments: a float or a float64 ``[B]`` tensor, λ >= 0):
        * ``transition(grid, lam_a, lam_b, batch)`` -> :class:`Transition` (λ_a <= λ_b).
        * ``coarse_grain(u0, grid, lam)`` -> ``C_λ u0``.
        * ``marginal(grid, lam, batch, name)`` -> the :class:`Transition` 0 → λ (C̃_λ, Σ̃_λ).
        * ``forward_sample(u0, grid, lam, generator, return_noise=False)`` -> ``C_λ u0 + sqrt(Σ_λ) ε``
          (PDD Eq. 3), or ``(u_λ, ε)`` with ``return_noise=True`` (SA-PDD's target).
        * ``transition_score(u_lam, u0, grid, lam)`` -> ``∇ log q(u_λ | u0)``.
        * ``sigma(grid, lam, dt, delta_lambda=...)`` -> σ_λ ``[B]`` of PDD Eq. 58 with the Σ_Δλ floor (A.7).
        * ``prior_sample(shape, grid, lam_max, generator, dtype, device)`` -> a draw of N(0, Σ_λmax)
          on ``device`` (default: the generator's).
        * ``rate(grid, lam)`` / ``diffusion(grid, lam)`` -> κ(k, λ) and b²(k, λ) per mode,
          shaped ``[B, 1, 1, *rfft_shape]``, for exponential integrators.
    """

    def transition(self, grid: Grid, lam_a, lam_b, batch: int | None = None) -> Transition: ...

    def coarse_grain(self, u0: torch.Tensor, grid: Grid, lam) -> torch.Tensor: ...

    def marginal(self, grid: Grid, lam, batch: int | None = None, name: str = "lam") -> Transition: ...

    def forward_sample(self, u0: torch.Tensor, grid: Grid, lam, generator: torch.Generator, *, return_noise: bool = False): ...

    def transition_score(self, u_lam: torch.Tensor, u0: torch.Tensor, grid: Grid, lam) -> torch.Tensor: ...

    def sigma(self, grid: Grid, lam, dt: float, *, delta_lambda: float = ...) -> torch.Tensor: ...

    def prior_sample(
        self, shape: tuple[int, ...], grid: Grid, lam_max, generator: torch.Generator, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> torch.Tensor: ...

    def rate(self, grid: Grid, lam) -> torch.Tensor: ...

    def diffusion(self, grid: Grid, lam) -> torch.Tensor: ...


@runtime_checkable
class Drift(Protocol):
    """The physical-time drift f_λ(history) ≈ ∂t u (PDD Eq. 6; windows of A.5/B.2).

    Contract:
        * ``window``: W, the number of states the drift sees (current + W-1 past).
        * ``__call__(history, lam)``: ``history`` is ``[B, W, C, *space]`` ordered oldest
          first, zero-padded before t0; ``lam`` is float64 ``[B]``. Returns ``[B, C, *space]``
          in the dtype of ``history``. Deterministic: no randomness inside.
    """

    window: int

    def __call__(self, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Score(Protocol):
    """A path score s_λ(u) = ∇_u log p_λ(u) (PDD Eq. 11; RDM 5.23).

    ``__call__(u, lam)`` takes ``u`` ``[B, T, C, *space]`` and λ float64 ``[B]`` and returns a
    tensor of the same shape and dtype as ``u``. It keeps no autograd graph after the call
    and never accumulates parameter gradients, so samplers can call it in a loop.
    """

    def __call__(self, u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class TimeIntegrator(Protocol):
    """One step in physical time t of ``du = f dt + σ dW`` (PDD Eq. 6, Algorithm 2).

    Settings-only object with the driver shape of :class:`LambdaSampler`: the driver
    (:func:`pdd_core.rollout.advance`) owns the loop, the window of past states, saving, the
    divergence guard and the noise source. Class attributes declare capabilities:
    ``strong_order``, ``weak_order`` and ``stochastic`` (whether ``step`` draws noise).

    * ``init(drift, dt, sigma, *, device, dtype)`` -> coefficients: a typed record of what every
      step reuses (noise amplitudes, a sampler's plan), on ``device`` in ``dtype``, computed once
      per call of the driver; σ is ``[B]`` or ``[B, 1, *rfft]`` (0 for deterministic rollouts).
    * ``step(drift, history, lam, dt, coefficients, noise, state)`` -> ``(u, state)``: the next
      state ``[B, C, *space]`` given ``history`` ``[B, W, C, *space]`` (oldest first) and λ
      ``[B]``; every random draw comes from ``noise`` (:class:`NoiseSource`); ``state`` carries
      what a multistep method remembers (None to start).
    """

    strong_order: float
    weak_order: float
    stochastic: bool

    def init(self, drift: Drift, dt: float, sigma: torch.Tensor, *, device: torch.device, dtype: torch.dtype) -> object: ...

    def step(self, drift: Drift, history: torch.Tensor, lam: torch.Tensor, dt: float, coefficients: object, noise: NoiseSource, state: object) -> tuple[torch.Tensor, object]: ...


@runtime_checkable
class NoiseSource(Protocol):
    """Where a λ-sampler's or a time integrator's randomness comes from: ``normal(like)`` is a standard normal draw
    with the shape, dtype and device of ``like`` (:class:`pdd_core.noise_source.GeneratorNoise`
    draws it from a ``torch.Generator``; a test may pass a recorded or zero source)."""

    def normal(self, like: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class LambdaSampler(Protocol):
    """One reverse-λ step λ_from → λ_to < λ_from of the reverse RG SDE/ODE (PDD Eqs. 11, 65-66).

    Settings-only object; the driver ``sample`` owns the loop over a decreasing λ schedule
    (schedules are data), what is saved, the t0 boundary rule and progress, and leaves autograd
    to its caller. Class attributes declare ``order`` (weak order of the generated
    distribution), ``stochastic`` and ``evaluations_per_step`` (score calls per step).

    * ``init(scheme, grid, lam_from, lam_to, *, device, dtype)`` -> coefficients: a typed record
      of every per-mode quantity a step needs (e^{∫κ}, φ-functions, noise amplitudes), computed
      once per λ schedule before the loop and already on ``device`` in the real ``dtype`` of the
      field, so the loop is pure arithmetic plus score calls.
    * ``step(score, u, lam_from, lam_to, coefficients, noise, state, boundary)`` -> ``(u, state)``:
      ``u`` is the path ``[B, T, C, *space]``, λs are float64 ``[B]``, ``noise`` is the
      :class:`NoiseSource` of every random draw, ``state`` carries what multistep methods
      remember (``None`` to start), and ``boundary(u)`` is applied after every update the step
      makes (the t0 rule of B.6).

    Any sampler works with any :class:`Score` and any :class:`RGScheme`.
    """

    order: float
    stochastic: bool
    evaluations_per_step: int

    def init(self, scheme: RGScheme, grid: Grid, lam_from: torch.Tensor, lam_to: torch.Tensor, *, device: torch.device, dtype: torch.dtype) -> object: ...

    def step(self, score: Score, u: torch.Tensor, lam_from: torch.Tensor, lam_to: torch.Tensor, coefficients: object, noise: NoiseSource, state: object, boundary) -> tuple[torch.Tensor, object]: ...
