"""The Langevin corrector of PDD Eq. 65 and the predictor-corrector wrapper (Algorithm 3)."""

from __future__ import annotations

import attrs
import torch

from pdd_core.errors import bad_argument
from pdd_core.sampling import check_finite_sample
from pdd_core.validation import check_positive
from solvers.reverse_coefficients import field, modes, reverse_step


def _snr(instance, attribute, value) -> None:
    check_positive("snr", value)


def _steps(instance, attribute, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise bad_argument("corrector_steps", value, "must be an integer >= 0", "use 3 (PDD B.6) or 0 for the bare predictor")


@attrs.frozen
class LangevinCorrector:
    """u' = u + χ s + sqrt(2χ) z, χ = 2 (κ ‖z‖ / ‖s‖)² per sample (PDD Eq. 65).

    ``snr`` is κ (0.7 for L96 and 0.3 for KF in PDD B.6). z is drawn white and restricted
    to the active modes, so an excluded k = 0 mode (PDD A.2) is never stirred. A sample whose
    score vanishes is left in place (χ = 0) instead of producing inf.
    """

    snr: float = attrs.field(default=0.7, validator=_snr)

    order = 0.0
    stochastic = True
    evaluations_per_step = 1

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        return reverse_step(scheme, grid, lam_from, lam_to).on(device, dtype)

    def correct(self, score, u, lam, step, noise, boundary):
        grid = step.grid
        noise = field(modes(noise.normal(u), grid) * step.active, grid, u.dtype)
        s = score(u, lam)
        ratio = noise.flatten(1).norm(dim=1) / s.flatten(1).norm(dim=1)
        chi = torch.where(torch.isfinite(ratio), 2 * (self.snr * ratio) ** 2, torch.zeros_like(ratio))
        chi = chi.reshape(-1, *([1] * (u.ndim - 1)))
        return boundary(u + chi * s + torch.sqrt(2 * chi) * noise)

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        return self.correct(score, u, lam_to, coefficients, noise, boundary), state


@attrs.frozen(eq=False)
class PredictorCorrectorCoefficients:
    """The predictor's and the corrector's coefficients of one step."""

    predictor: object
    corrector: object


@attrs.frozen
class PredictorCorrector:
    """Any predictor followed by ``corrector_steps`` corrector moves at λ_to (PDD Algorithm 3)."""

    predictor: object
    corrector: LangevinCorrector = attrs.field(factory=LangevinCorrector)
    corrector_steps: int = attrs.field(default=3, validator=_steps)

    stochastic = True

    @property
    def order(self) -> float:
        return self.predictor.order

    @property
    def evaluations_per_step(self) -> int:
        return self.predictor.evaluations_per_step + self.corrector_steps * self.corrector.evaluations_per_step

    def init(self, scheme, grid, lam_from, lam_to, *, device, dtype):
        return PredictorCorrectorCoefficients(
            self.predictor.init(scheme, grid, lam_from, lam_to, device=device, dtype=dtype),
            self.corrector.init(scheme, grid, lam_from, lam_to, device=device, dtype=dtype),
        )

    def step(self, score, u, lam_from, lam_to, coefficients, noise, state, boundary):
        u, state = self.predictor.step(score, u, lam_from, lam_to, coefficients.predictor, noise, state, boundary)
        check_finite_sample(u, lam_to)  # before the corrector feeds a diverged sample to the score
        for _ in range(self.corrector_steps):
            u = self.corrector.correct(score, u, lam_to, coefficients.corrector, noise, boundary)
            check_finite_sample(u, lam_to)
        return u, state
