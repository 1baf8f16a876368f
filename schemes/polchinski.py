"""The M-modified lattice Polchinski scheme (RDM 5.38-5.42)."""

from __future__ import annotations

import attrs
import torch

from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SCHEMES
from pdd_core.spectral import phi1
from pdd_core.validation import check_positive, positive
from schemes.base import SpectralScheme, check_zero_mode


def _non_negative(instance, attribute, value) -> None:
    check_positive(attribute.name, value, allow_zero=True)


def _finite_or_none(instance, attribute, value) -> None:
    if value is not None and not (isinstance(value, (int, float)) and abs(value) < float("inf")):
        raise bad_argument("m2", value, "must be a finite number or None", "pass m2=None to use mass**2")


@SCHEMES.register("polchinski")
@attrs.frozen
class Polchinski(SpectralScheme):
    """Polchinski's scheme with the cutoff K_t = exp(-(|p̂|² + M²) t) of RDM (5.42).

    From the Wegner-Morris SDE (RDM 5.35-5.36) with B̃_t = -∂t K_t / (|p̂|² + m²) and the
    Gaussian seed action of (5.39), per mode:

        κ = -∂t log K_t = |p̂|² + M²,      b²(t) = β² (|p̂|² + M²) K_t / (|p̂|² + m²),
        C̃_ab = K_b / K_a,                Σ̃_ab = β² (K_b - K_b²/K_a) / (|p̂|² + m²),

    which for a = 0 is RDM's kernel (5.41). The damping equals the M-modified Carosso one,
    but the injected noise dies off as K_t, so fields flow to zero (RDM 5.40). ``m2``
    defaults to ``mass**2`` (the M-modification of RDM 7.1) and must keep |p̂|² + m² > 0
    on every active mode. In orthonormal site variables RDM's normalisation is
    ``beta = a**(-d/2)`` for lattice spacing a.
    """

    mass: float = attrs.field(default=1.0, validator=_non_negative)
    m2: float | None = attrs.field(default=None, validator=_finite_or_none)
    beta: float = attrs.field(default=1.0, validator=positive)
    zero_mode: str = attrs.field(default="auto", validator=check_zero_mode)

    # The equations of RDM whose lattice kernel ``rdm_lattice`` builds (``pdd rg-flow`` records them).
    rdm_kernel = "5.41 with 5.42"

    @classmethod
    def rdm_lattice(cls, spacing: float, ndim: int, mass: float) -> Polchinski:
        """RDM's kernel (5.41 with K_t of 5.42) in orthonormal site variables: β = a^{-d/2}."""
        return cls(mass=mass, beta=spacing ** (-ndim / 2))

    @property
    def _kernel_m2(self) -> float:
        return self.mass**2 if self.m2 is None else self.m2

    def _kappa(self, k2: torch.Tensor) -> torch.Tensor:
        return k2 + self.mass**2

    def _noise_ratio(self, k2: torch.Tensor) -> torch.Tensor:
        """(|p̂|² + M²) / (|p̂|² + m²), exactly 1 when m² = M² (also at k = 0, M = 0)."""
        if self.m2 is None or self.m2 == self.mass**2:
            return torch.ones_like(k2)
        return self._kappa(k2) / (k2 + self._kernel_m2)

    def _check_grid(self, grid: Grid) -> None:
        denominator = grid.k2(torch.float64) + self._kernel_m2
        denominator = denominator[self.active_modes(grid)]
        if bool((denominator <= 0).any()):
            raise bad_argument("m2", self._kernel_m2, f"|p̂|² + m² must be > 0 on every active mode (min {float(denominator.min()):.3g})", "use a positive m2 (the M-modified kernel of RDM 7.1 uses m2 = mass**2)")

    def _log_damping(self, k2, lam_a, lam_b):
        return -self._kappa(k2) * (lam_b - lam_a)

    def _variance(self, k2, lam_a, lam_b):
        kappa = self._kappa(k2)
        interval = lam_b - lam_a
        # K_b (1 - K_b/K_a) / (|p̂|²+m²) = e^{-κ λb} · Δ φ1(-κΔ) · κ/(|p̂|²+m²), finite at κ → 0.
        return self.beta**2 * torch.exp(-kappa * lam_b) * interval * phi1(-kappa * interval) * self._noise_ratio(k2)

    def _rate(self, k2, lam):
        return self._kappa(k2) + torch.zeros_like(lam)

    def _diffusion(self, k2, lam):
        return self.beta**2 * self._noise_ratio(k2) * torch.exp(-self._kappa(k2) * lam)
