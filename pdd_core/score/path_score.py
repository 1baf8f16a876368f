"""The path score by reverse-mode autograd (PDD Sec. 3.4, B.7)."""

from __future__ import annotations

import attrs
import torch

from pdd_core.grid import Grid
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA, ScalarNoise, TabulatedNoise, check_noise_model, log_density


def _noise_model(instance, attribute, value) -> None:
    check_noise_model(value)


@attrs.frozen
class PathScore:
    """s_λ(u) = ∇_u log p_λ(u) of the drift's path density (PDD Eqs. 11 and 36).

    One batched forward of the drift over all T-1 windows and one backward pass: no loop
    over time. The gradient is taken with respect to ``u`` only (``torch.autograd.grad``),
    so parameter gradients are never accumulated, and no graph survives the call. Works
    under ``torch.no_grad()`` callers because it enables grad locally. The drift is used as
    given: put it in ``eval()`` mode first.

    ``noise_model`` is the increment noise of Eq. 35: :class:`~pdd_core.score.path_density.ScalarNoise`
    σ_λ²Δt I (Eq. 58, the paper) or :class:`~pdd_core.score.path_density.PerModeNoise` Σ̃_λ(k) (see :func:`~pdd_core.score.path_density.log_density`; the scalar
    form makes the reverse flow unstable on modes with α|k|² > β²/(σ_λ²Δt)). ``initial`` models
    the initial density r_λ of Eq. 36 (None: left out, as in the paper's B.6; or e.g.
    :class:`~pdd_core.score.initial_density.GaussianInitial`, which then also scores u(t0)).
    """

    drift: object
    scheme: object
    grid: Grid
    dt: float
    delta_lambda: float = DEFAULT_DELTA_LAMBDA
    noise_model: object = attrs.field(factory=ScalarNoise, validator=_noise_model)
    initial: object = None

    def for_schedule(self, lam_schedule: torch.Tensor, *, device, dtype) -> PathScore:
        """This score with the noise model's closed forms computed once at the λs of ``lam_schedule``, on ``device`` in ``dtype``.

        A sampler calls the score only at the λs of its schedule; :func:`pdd_core.sampling.sample`
        asks for this before its loop, so each call is the drift's forward and backward plus
        arithmetic on the device (:class:`~pdd_core.score.path_density.TabulatedNoise`).
        """
        if not callable(getattr(self.noise_model, "closed_form", None)):
            return self  # a user's noise model without separate closed forms is evaluated as given
        table = TabulatedNoise.build(self.noise_model, lam_schedule, self.scheme, self.grid, self.dt, self.delta_lambda, device=device, dtype=dtype)
        return attrs.evolve(self, noise_model=table)

    def __call__(self, u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            leaf = u.detach().requires_grad_(True)
            options = {"delta_lambda": self.delta_lambda, "noise_model": self.noise_model, "initial": self.initial}
            total = log_density(leaf, lam, self.drift, self.scheme, self.grid, self.dt, **options).sum()
            (score,) = torch.autograd.grad(total, leaf)
        return score
