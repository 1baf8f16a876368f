"""Cox-Matthews ETDRK4 for du/dt = L u + N(u) with a diagonal L (Kassam & Trefethen 2005): the one copy.

The Kuramoto-Sivashinsky system steps with :func:`etdrk4_step`; Kolmogorov flow uses the same
coefficients inside its fused numba stages (``systems/_kolmogorov_spectral.py``), which do the
same four stages without the temporaries of whole-array expressions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CONTOUR_POINTS = 32  # points on the upper unit half circle around each h·L (Kassam & Trefethen 2005, Sec. 5)


def etdrk4_coefficients(linear: np.ndarray, h: float) -> tuple[np.ndarray, ...]:
    """Cox-Matthews ETDRK4 coefficients (E, E½, Q, f1, f2, f3) for a real diagonal L.

    Kassam & Trefethen (2005), Eqs. 2.5 and Sec. 5: each φ-type function of z = hL is the mean
    of its values on a unit circle around z, which avoids the cancellation of the closed forms
    at small |z|. L is real, so the upper half circle and the real part suffice.
    """
    roots = np.exp(1j * np.pi * (np.arange(1, CONTOUR_POINTS + 1) - 0.5) / CONTOUR_POINTS)
    z = h * linear[..., None] + roots
    ez = np.exp(z)
    q = h * np.real(np.mean((np.exp(z / 2) - 1) / z, axis=-1))
    f1 = h * np.real(np.mean((-4 - z + ez * (4 - 3 * z + z**2)) / z**3, axis=-1))
    f2 = h * np.real(np.mean((2 + z + ez * (z - 2)) / z**3, axis=-1))
    f3 = h * np.real(np.mean((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3, axis=-1))
    return np.exp(h * linear), np.exp(h * linear / 2), q, f1, f2, f3


def etdrk4_step(v: np.ndarray, coefficients: tuple[np.ndarray, ...], nonlinear: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """One step of Kassam & Trefethen (2005), Eq. 2.5, on the spectral state ``v``."""
    decay, half_decay, q, f1, f2, f3 = coefficients
    nv = nonlinear(v)
    a = half_decay * v + q * nv
    na = nonlinear(a)
    b = half_decay * v + q * na
    nb = nonlinear(b)
    c = half_decay * a + q * (2 * nb - nv)
    nc = nonlinear(c)
    return decay * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nc


__all__ = ["CONTOUR_POINTS", "etdrk4_coefficients", "etdrk4_step"]
