"""Per-mode coefficients of one reverse-λ step, shared by every λ-sampler.

The reverse of ``∂λ ũ = -κ ũ + b η̃`` integrated from λ_from down to λ_to = λ_from - Δ is, in
τ = -λ, ``dũ/dτ = κ ũ + b² s̃ + b η̃`` (PDD Eq. 11 per Fourier mode). Exponential
integrators need e^{∫κ} over the step, which is exactly 1 / C̃(λ_to → λ_from) of the
scheme's closed form, so λ-dependent rates need no quadrature here.
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


@attrs.frozen(eq=False)
class ReverseStep:
    """Coefficients of one step, shaped to broadcast against ``rfft(u)``: float64 as
    :func:`reverse_step` computes them, on the field's device and dtype after :meth:`on`.

    Attributes:
        delta: Δ = λ_from - λ_to, ``[B, 1, 1, *ones]``.
        growth: z = ∫_{λ_to}^{λ_from} κ dλ per mode (so e^z = 1/C̃), ``[B, 1, 1, *rfft]``.
        rate_from: κ(k, λ_from) per mode (explicit Euler-Maruyama uses it).
        diffusion_from, diffusion_to: b²(k, λ) at both ends of the step.
        active: modes that diffuse (False on an excluded k = 0 mode, PDD A.2).
    """

    grid: Grid
    delta: torch.Tensor
    growth: torch.Tensor
    rate_from: torch.Tensor
    diffusion_from: torch.Tensor
    diffusion_to: torch.Tensor
    active: torch.Tensor

    def on(self, device: torch.device, dtype: torch.dtype) -> ReverseStep:
        """The same coefficients on ``device`` in the field's real ``dtype`` (``active`` as 0 / 1)."""
        return on_device(self, device, dtype, "delta", "growth", "rate_from", "diffusion_from", "diffusion_to", "active")


def on_device(coefficients, device: torch.device, dtype: torch.dtype, *names: str):
    """``coefficients`` (an attrs record) with the tensors ``names`` moved to ``device`` and ``dtype``, once per λ schedule."""
    return attrs.evolve(coefficients, **{name: getattr(coefficients, name).to(device=device, dtype=dtype) for name in names})


def reverse_step(scheme, grid: Grid, lam_from: torch.Tensor, lam_to: torch.Tensor) -> ReverseStep:
    """Evaluate the scheme's closed forms for the step λ_from → λ_to (λ_to < λ_from)."""
    transition = scheme.transition(grid, lam_to, lam_from)
    delta = (lam_from - lam_to).reshape(-1, 1, 1, *([1] * grid.ndim))
    return ReverseStep(
        grid=grid,
        delta=delta,
        growth=-torch.log(transition.damping),
        rate_from=scheme.rate(grid, lam_from),
        diffusion_from=scheme.diffusion(grid, lam_from),
        diffusion_to=scheme.diffusion(grid, lam_to),
        active=transition.active,
    )


def modes(u: torch.Tensor, grid: Grid) -> torch.Tensor:
    return rfft(u, grid.ndim)


def field(u_hat: torch.Tensor, grid: Grid, dtype: torch.dtype) -> torch.Tensor:
    return irfft(u_hat, grid.shape).to(dtype)


def em_noise_modes(u: torch.Tensor, step: ReverseStep, noise) -> torch.Tensor:
    """b(λ_from) sqrt(Δ) η̃: the Euler-Maruyama noise of PDD Eq. 66 (white in space for Carosso), η from ``noise``."""
    return modes(noise.normal(u), step.grid) * (step.diffusion_from * step.delta).sqrt()
