"""A general Fourier-diagonal scheme built from user functions (RDM 5.35-5.36)."""

from __future__ import annotations

from typing import Callable

import attrs
import torch

from pdd_core.errors import bad_argument
from pdd_core.spectral import phi1, phi2
from pdd_core.validation import at_least
from schemes.base import SpectralScheme, check_zero_mode

ModeFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
IntervalFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _callable(instance, attribute, value) -> None:
    if not callable(value):
        raise bad_argument(attribute.alias, value, "must be a function of (k2, lam)", f"pass e.g. {attribute.alias}=lambda k2, lam: 0.1 * k2")


def _callable_or_none(instance, attribute, value) -> None:
    if value is not None and not callable(value):
        raise bad_argument(attribute.alias, value, "must be a function of (k2, lam_a, lam_b) or None", "omit it to integrate numerically")


@attrs.frozen
class FourierDiagonal(SpectralScheme):
    """``∂λ ũ(k) = -κ(k², λ) ũ(k) + b(k², λ) η̃(k)`` from user functions.

    A Wegner-Morris scheme with cutoff B̃_λ and Gaussian seed action ½ Σ s_λ(k)|ũ(k)|²
    (RDM 5.35-5.36) is ``rate = B̃·s`` and ``noise = B̃``.

    Args:
        rate: κ(k2, lam) -> per-mode rate; ``k2`` is float64 ``rfft_shape``, ``lam`` is
            float64 ``[B, 1, 1, *ones]``; the result must broadcast to ``[B, 1, 1, *rfft]``.
        noise: b²(k2, lam) -> per-mode noise variance per unit λ (>= 0).
        log_damping: optional closed form of -∫_{λa}^{λb} κ, called as (k2, lam_a, lam_b).
        variance: optional closed form of Σ̃_ab, called as (k2, lam_a, lam_b).
        substeps: without closed forms, the transition is a product of ``substeps`` exact OU
            steps with κ frozen at each sub-interval's midpoint and b² linear across it: exact
            when κ and b² do not depend on λ, second order in the sub-step otherwise however
            stiff the mode, and stable (no explicit ODE solve).

    Holding functions, it is not a serialisable configuration record.
    """

    rate_fn: ModeFunction = attrs.field(validator=_callable, alias="rate")
    noise_fn: ModeFunction = attrs.field(validator=_callable, alias="noise")
    log_damping_fn: IntervalFunction | None = attrs.field(default=None, validator=_callable_or_none, alias="log_damping")
    variance_fn: IntervalFunction | None = attrs.field(default=None, validator=_callable_or_none, alias="variance")
    substeps: int = attrs.field(default=64, validator=at_least(1))
    zero_mode: str = attrs.field(default="auto", validator=check_zero_mode)

    def _evaluate(self, function, name: str, *args: torch.Tensor) -> torch.Tensor:
        value = torch.as_tensor(function(*args), dtype=torch.float64)
        if not bool(torch.isfinite(value).all()):
            raise bad_argument(name, function, "returned NaN or inf", f"make {name} finite for every k2 and λ in use")
        return value

    def _rate(self, k2, lam):
        return self._evaluate(self.rate_fn, "rate", k2, lam) + torch.zeros_like(k2) + torch.zeros_like(lam)

    def _diffusion(self, k2, lam):
        value = self._evaluate(self.noise_fn, "noise", k2, lam) + torch.zeros_like(k2) + torch.zeros_like(lam)
        if bool((value < 0).any()):
            raise bad_argument("noise", self.noise_fn, "returned a negative noise variance", "return b² >= 0")
        return value

    def _midpoints(self, lam_a, lam_b):
        step = (lam_b - lam_a) / self.substeps
        return step, [lam_a + (j + 0.5) * step for j in range(self.substeps)]

    def _log_damping(self, k2, lam_a, lam_b):
        if self.log_damping_fn is not None:
            return self._evaluate(self.log_damping_fn, "log_damping", k2, lam_a, lam_b) + torch.zeros_like(k2)
        step, midpoints = self._midpoints(lam_a, lam_b)
        return -step * sum(self._rate(k2, m) for m in midpoints)

    def _variance(self, k2, lam_a, lam_b):
        if self.variance_fn is not None:
            return self._evaluate(self.variance_fn, "variance", k2, lam_a, lam_b) + torch.zeros_like(k2)
        step, midpoints = self._midpoints(lam_a, lam_b)
        variance = torch.zeros(())
        noise_start = self._diffusion(k2, lam_a)
        for j, m in enumerate(midpoints):
            kappa = self._rate(k2, m)
            noise_end = self._diffusion(k2, lam_a + (j + 1) * step)
            z = -2.0 * kappa * step
            # ∫ e^{-2κ(h-τ)} b²(τ) dτ with b² linear over the sub-step: exact for linear noise and
            # second order however stiff κh is (a midpoint b² would be first order there).
            injected = step * (noise_start * phi1(z) + (noise_end - noise_start) * phi2(z))
            # Semigroup composition Σ_ac = C_bc² Σ_ab + Σ_bc of the sub-steps.
            variance = torch.exp(z) * variance + injected
            noise_start = noise_end
        return variance
