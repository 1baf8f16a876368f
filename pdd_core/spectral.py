"""Pure spectral helpers for fields shaped ``[B, T, C, *space]``.

Transforms are orthonormal (``norm="ortho"``) over the trailing ``ndim`` spatial axes, so real
white noise stays white with unit variance per mode (DESIGN: numerics that must be right).
"""

from __future__ import annotations

import torch


def spatial_dims(ndim: int) -> tuple[int, ...]:
    """Negative indices of the trailing ``ndim`` spatial axes."""
    return tuple(range(-ndim, 0))


def rfft(u: torch.Tensor, ndim: int) -> torch.Tensor:
    """Orthonormal real FFT over the trailing ``ndim`` axes."""
    return torch.fft.rfftn(u, dim=spatial_dims(ndim), norm="ortho")


def irfft(u_hat: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`rfft` back to a real field with spatial ``shape``."""
    return torch.fft.irfftn(u_hat, s=shape, dim=spatial_dims(len(shape)), norm="ortho")


def apply_diagonal(u: torch.Tensor, diagonal: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Apply the circulant operator with Fourier symbol ``diagonal`` to ``u``.

    ``diagonal`` holds one real value per rfft mode and broadcasts against ``rfft(u)``
    (e.g. ``[B, 1, 1, *rfft_shape]``). The symbol must be even in k (a function of |k|² is),
    so the operator is real, symmetric and circulant.
    """
    u_hat = rfft(u, len(shape))
    return irfft(u_hat * diagonal.to(u_hat.real.dtype), shape).to(u.dtype)


def phi1(z: torch.Tensor) -> torch.Tensor:
    """φ1(z) = (e^z - 1)/z, computed with ``expm1`` and exactly 1 at z = 0.

    Used by the ETD predictor (PDD Eq. 66) and by every closed-form OU variance, since
    ``(1 - e^{-2rΔ}) / (2r) = Δ · φ1(-2rΔ)`` stays finite as r → 0 or Δ → 0 (PDD Eq. 18).
    """
    zero = z == 0
    safe = torch.where(zero, torch.ones_like(z), z)
    return torch.where(zero, torch.ones_like(z), torch.expm1(safe) / safe)


def phi2(z: torch.Tensor) -> torch.Tensor:
    """φ2(z) = (e^z - 1 - z)/z², exactly 1/2 at z = 0 (second-order exponential integrators).

    The direct formula cancels catastrophically for small |z|, so a Taylor series
    1/2 + z/6 + z²/24 + z³/120 + z⁴/720 is used for |z| < 1e-2 (error < 1e-14).
    """
    small = z.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(z), z)
    direct = (torch.expm1(safe) - safe) / safe**2
    series = 0.5 + z * (1 / 6 + z * (1 / 24 + z * (1 / 120 + z / 720)))
    return torch.where(small, series, direct)
