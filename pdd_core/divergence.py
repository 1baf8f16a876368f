"""The one divergence guard of both integration drivers (physical time t and reverse λ).

A path (one row of the batch, all its values) has diverged when it turns NaN/inf or its mean
square exceeds ``band`` times a reference mean square: what a path that stayed in its density
holds. Each driver names its reference (docs/guide.md, "One driver shape for both axes"):

* :func:`pdd_core.rollout.rollout` and :func:`pdd_core.rollout.advance` integrate standardised
  paths, whose mean square is the data's, 1 per value: the reference is 1 and the default band
  :data:`ROLLOUT_BAND` = 10⁴ (an RMS of 100 standard deviations);
* :func:`pdd_core.sampling.sample` integrates from a start whose scale it knows (the prior's draw
  or the coarse path): the reference is the start's mean square over the batch and the default
  band :data:`SAMPLING_BAND` = 10³ (coarse-grained data and the prior differ by a few x, never 10³).
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.errors import DivergenceError, bad_argument
from pdd_core.validation import check_positive

ROLLOUT_BAND = 1e4
SAMPLING_BAND = 1e3


def mean_square(u: torch.Tensor) -> torch.Tensor:
    """Mean square value of each path ``[B]`` (float64, over all its frames, channels and points)."""
    return u.detach().to(torch.float64).pow(2).flatten(1).mean(1)


def _band(instance, attribute, value) -> None:
    if value is not None:
        check_positive("energy_band", value)  # NaN or <= 0 would silently disable or always trip the band


@attrs.frozen
class DivergenceGuard:
    """Stops an integration whose paths leave ``band`` x ``reference_name`` or turn NaN/inf (``band=None``: NaN/inf only).

    ``driver`` names the integration in the message (``rollout``, ``sample``), ``fix`` says what
    to change and ``not_finite`` what a NaN/inf means for it. Errors are :class:`~pdd_core.errors.DivergenceError`, carrying the rollout step
    where one is given.
    """

    band: float | None = attrs.field(validator=_band)
    reference_name: str
    driver: str
    fix: str
    not_finite: str = "the state became NaN or inf"

    def check_finite(self, u: torch.Tensor, at: str, *, step: int | None = None) -> None:
        """Stop when any value of ``u`` is NaN or inf; ``at`` says where (``step 3``, ``λ = 0.4``)."""
        if not bool(torch.isfinite(u).all()):
            self._stop(at, self.not_finite, self.fix, step)

    def check(self, u: torch.Tensor, reference: float | torch.Tensor, at: str, *, step: int | None = None) -> None:
        """Stop when ``u`` turns NaN/inf or a path's mean square exceeds ``band`` x ``reference`` (a mean square)."""
        self.check_finite(u, at, step=step)
        if self.band is None:
            return
        reference = torch.as_tensor(reference, dtype=torch.float64, device=u.device).clamp_min(torch.finfo(torch.float64).tiny)
        ratio = float((mean_square(u) / reference).max())
        if ratio > self.band:
            problem = f"a path's mean square grew to {ratio:.3g} x {self.reference_name}, beyond the band of {self.band:g} x (the {self.driver} diverges)"
            self._stop(at, problem, f"{self.fix}, or widen the band (energy_band) if such values are physical", step)

    def _stop(self, at: str, problem: str, fix: str, step: int | None) -> None:
        error = bad_argument(self.driver, at, problem, fix, kind=DivergenceError)
        error.step = step  # long-rollout checks report where a rollout blew up
        raise error


__all__ = ["ROLLOUT_BAND", "SAMPLING_BAND", "DivergenceGuard", "mean_square"]
