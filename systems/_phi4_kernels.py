"""numba kernels of Hamiltonian Monte Carlo for 2D lattice phi^4 (RDM Eqs. 4.5-4.6 and 7.2).

The action is written per site with three coefficients fixed by the physical parameters
(see :class:`systems.phi4.LatticePhi4`, ε = L/N the lattice spacing, d = 2):

    S[φ] = Σ_n [ κ/2 Σ_i (φ(n+e_i) - φ(n))² + μ/2 φ(n)² + g/4 φ(n)⁴ ]
    κ = a² ε^{d-2},   μ = ε^d m²,   g = ε^d λ / 6

and the HMC Hamiltonian is H = ½ Σ_n π(n)² + S[φ] (unit mass per site). The force is the
exact gradient F(n) = -∂S/∂φ(n) = κ Σ_i (φ(n+e_i) + φ(n-e_i) - 2φ(n)) - μ φ(n) - g φ(n)³.

Every random number (momenta, Metropolis uniforms, per-trajectory step sizes) is drawn by
the caller from a ``numpy.random.Generator`` and passed in, so results do not depend on the
number of threads. Chains are independent: ``prange`` runs over the batch axis of the HMC
kernel; the helpers (action, force, bare leapfrog) are serial, as they only serve checks.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


@numba.njit(inline="always", **_JIT)
def _neighbours(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Periodic index tables ``up[i] = i + 1 mod N`` and ``down[i] = i - 1 mod N``."""
    up = np.empty(size, dtype=np.int64)
    down = np.empty(size, dtype=np.int64)
    for i in range(size):
        up[i] = i + 1 if i + 1 < size else 0
        down[i] = i - 1 if i > 0 else size - 1
    return up, down


@numba.njit(inline="always", **_JIT)
def _action(phi: np.ndarray, up0: np.ndarray, up1: np.ndarray, kinetic: float, mass: float, quartic: float) -> float:
    """S[φ] of one configuration ``phi`` [N0, N1] (module docstring)."""
    total = 0.0
    for i in range(phi.shape[0]):
        for j in range(phi.shape[1]):
            value = phi[i, j]
            d0 = phi[up0[i], j] - value
            d1 = phi[i, up1[j]] - value
            square = value * value
            total += 0.5 * kinetic * (d0 * d0 + d1 * d1) + 0.5 * mass * square + 0.25 * quartic * square * square
    return total


@numba.njit(inline="always", **_JIT)
def _force(phi: np.ndarray, out: np.ndarray, up0: np.ndarray, down0: np.ndarray, kinetic: float, mass: float, quartic: float) -> None:
    """F = -∂S/∂φ of one configuration into ``out`` (module docstring).

    Row by row, with the two wrap-around columns peeled off so the inner loop is contiguous
    and vectorises (twice as fast as index tables on both axes).
    """
    last = phi.shape[1] - 1
    for i in range(phi.shape[0]):
        row = phi[i]
        above = phi[up0[i]]
        below = phi[down0[i]]
        target = out[i]
        value = row[0]
        target[0] = kinetic * (above[0] + below[0] + row[1] + row[last] - 4.0 * value) - value * (mass + quartic * value * value)
        for j in range(1, last):
            value = row[j]
            target[j] = kinetic * (above[j] + below[j] + row[j + 1] + row[j - 1] - 4.0 * value) - value * (mass + quartic * value * value)
        value = row[last]
        target[last] = kinetic * (above[last] + below[last] + row[0] + row[last - 1] - 4.0 * value) - value * (mass + quartic * value * value)


@numba.njit(inline="always", **_JIT)
def _leapfrog(
    phi: np.ndarray, pi: np.ndarray, force: np.ndarray, step: float, n_steps: int,
    up0: np.ndarray, down0: np.ndarray, kinetic: float, mass: float, quartic: float,
) -> None:
    """``n_steps`` kick-drift-kick leapfrog steps of size ``step`` on (φ, π), in place.

    Consecutive half kicks are merged, so the cost is ``n_steps + 1`` force evaluations.
    """
    size0, size1 = phi.shape
    _force(phi, force, up0, down0, kinetic, mass, quartic)
    kick = 0.5 * step
    for s in range(n_steps):
        for i in range(size0):
            for j in range(size1):
                pi[i, j] += kick * force[i, j]
                phi[i, j] += step * pi[i, j]
        _force(phi, force, up0, down0, kinetic, mass, quartic)
        kick = step
    for i in range(size0):
        for j in range(size1):
            pi[i, j] += 0.5 * step * force[i, j]


@numba.njit(parallel=True, **_JIT)
def hmc_trajectory(
    fields: np.ndarray, momenta: np.ndarray, log_uniforms: np.ndarray, steps: np.ndarray, n_steps: int, kinetic: float, mass: float, quartic: float,
    delta_h: np.ndarray, accepted: np.ndarray, action: np.ndarray,
) -> None:
    """One HMC trajectory of every chain: leapfrog, then Metropolis accept/reject.

    Args:
        fields: float64 ``[B, N0, N1]``; replaced in place by the accepted configurations.
        momenta: float64 ``[B, N0, N1]`` standard normal momenta (overwritten as scratch).
        log_uniforms: float64 ``[B]``, log of U(0, 1) draws for the Metropolis test.
        steps: float64 ``[B]`` leapfrog step size of each chain for this trajectory.
        n_steps: leapfrog steps per trajectory.
        delta_h, accepted, action: outputs ``[B]``: ΔH = H(end) - H(start) (+inf when the
            trajectory diverged), 1/0 acceptance, and S of the configuration kept.
    """
    batch, size0, size1 = fields.shape
    up0, down0 = _neighbours(size0)
    up1, _ = _neighbours(size1)
    for b in numba.prange(batch):
        phi = fields[b].copy()
        pi = momenta[b]
        force = np.empty((size0, size1))
        action_start = _action(phi, up0, up1, kinetic, mass, quartic)
        h_start = 0.5 * np.sum(pi * pi) + action_start
        _leapfrog(phi, pi, force, steps[b], n_steps, up0, down0, kinetic, mass, quartic)
        action_end = _action(phi, up0, up1, kinetic, mass, quartic)
        change = 0.5 * np.sum(pi * pi) + action_end - h_start
        if not math.isfinite(change):
            change = math.inf
        delta_h[b] = change
        # Metropolis: accept with probability min(1, e^{-ΔH}); a diverged trajectory (ΔH = inf) never passes.
        if log_uniforms[b] < -change:
            fields[b] = phi
            accepted[b] = 1
            action[b] = action_end
        else:
            accepted[b] = 0
            action[b] = action_start


@numba.njit(**_JIT)
def batched_action(fields: np.ndarray, kinetic: float, mass: float, quartic: float) -> np.ndarray:
    """S[φ] of every configuration of ``fields`` ``[B, N0, N1]`` -> ``[B]``."""
    batch, size0, size1 = fields.shape
    up0, _ = _neighbours(size0)
    up1, _ = _neighbours(size1)
    out = np.empty(batch)
    for b in range(batch):
        out[b] = _action(fields[b], up0, up1, kinetic, mass, quartic)
    return out


@numba.njit(**_JIT)
def batched_force(fields: np.ndarray, kinetic: float, mass: float, quartic: float) -> np.ndarray:
    """F = -∂S/∂φ of every configuration of ``fields`` ``[B, N0, N1]``."""
    batch, size0, size1 = fields.shape
    up0, down0 = _neighbours(size0)
    out = np.empty_like(fields)
    for b in range(batch):
        _force(fields[b], out[b], up0, down0, kinetic, mass, quartic)
    return out


@numba.njit(**_JIT)
def batched_leapfrog(fields: np.ndarray, momenta: np.ndarray, step: float, n_steps: int, kinetic: float, mass: float, quartic: float) -> None:
    """Leapfrog integration of every chain in place (no accept/reject); ``step`` may be negative."""
    batch, size0, size1 = fields.shape
    up0, down0 = _neighbours(size0)
    for b in range(batch):
        force = np.empty((size0, size1))
        _leapfrog(fields[b], momenta[b], force, step, n_steps, up0, down0, kinetic, mass, quartic)
