"""Rollout noise that keeps the data's climate: the residual noise, rescaled per mode on rollouts.

:class:`~pdd_core.apps.inference.residual_noise.ResidualNoise` gives each increment the variance
the drift leaves in one step. What a long rollout keeps also depends on how strongly the learned
drift damps each mode: a mode damped at the rate a_k, du = -a_k u dt + σ_k dW, keeps the stationary
variance σ_k²/(2a_k). A drift fitted by regression, E[Δu | window]/Δt, pulls the unpredictable part
of each mode back harder than the dynamics do, so its rollouts keep too little variance (Lorenz-96's
X at λ = 0: 0.72-0.85 of the truth's std; docs/results.md, "Rollout climate"), and where the drift
hardly damps a mode the residual noise piles up (X's PSD at its spectral notch).

The rescaling fits σ_k so that the rollout keeps the data's variance per channel and Fourier mode,
a stochastic closure fitted to the climate rather than to one step: a calibration rollout from the
calibration paths measures v_roll(k), the calibration paths at λ (C_λ u0 + sqrt(Σ_λ) ε, Eq. 3) give
v_data(k), and

    σ_k ← σ_k · sqrt(v_data(k) / v_roll(k)),

exact for a linear mode (its variance is proportional to σ_k²), repeated ``iterations`` times, each
factor clipped to [1/MAX_FACTOR, MAX_FACTOR]. The per-mode variance, hence the time-averaged PSD and
the per-channel std, then matches the *training* data by construction; what evaluation checks
independently is the same on the test paths, the speed of the dynamics and the spatiotemporal
spectral error (which sees the temporal correlations this white-in-time noise does not fit).
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.errors import DivergenceError, bad_argument
from pdd_core.registry import INTEGRATORS
from pdd_core.spectral import rfft

# Calibration rollouts: this many paths of STEPS steps, the first BURN_IN dropped, ITERATIONS rounds.
PATHS = 16
STEPS = 1000
BURN_IN = 250
ITERATIONS = 2
# The most one round may scale σ_k by (either way): the linear-mode rule is a guide, not a law, far from it.
MAX_FACTOR = 4.0


def mode_variance(u: torch.Tensor, ndim: int) -> torch.Tensor:
    """E|û(k) - E û(k)|² over paths and frames of ``u`` ``[B, T, C, *space]``, per channel and rfft mode ``[C, *rfft]``."""
    u_hat = rfft(u.double(), ndim)
    return (u_hat - u_hat.mean(dim=(0, 1), keepdim=True)).abs().pow(2).mean(dim=(0, 1))


def _positive_int(instance, attribute, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise bad_argument(attribute.name, value, "must be an integer >= 1", f"pass e.g. {attribute.name}={attribute.default}")


@attrs.define(eq=False)
class ClimateNoise:
    """σ_k(λ) ``[1, C, *rfft]``: ``residual``'s noise rescaled so that rollouts keep the calibration data's per-mode variance (module docstring).

    ``noise(lam)`` calibrates once per λ and keeps the result; ``factors(lam)`` is the product of the
    rounds' factors (1 where σ_k was not changed). Rollouts start from the first frames of the
    calibration paths and draw their noise from ``seed``.
    """

    residual: ResidualNoise
    paths: int = attrs.field(default=PATHS, validator=_positive_int)
    steps: int = attrs.field(default=STEPS, validator=_positive_int)
    burn_in: int = attrs.field(default=BURN_IN, validator=attrs.validators.instance_of(int))
    iterations: int = attrs.field(default=ITERATIONS, validator=_positive_int)
    _cache: dict[float, torch.Tensor] = attrs.Factory(dict)
    _factors: dict[float, torch.Tensor] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.burn_in < self.steps:
            raise bad_argument("burn_in", self.burn_in, f"must be in [0, steps = {self.steps})", f"pass e.g. burn_in={self.steps // 4}")

    @property
    def run(self):
        return self.residual.run

    def __call__(self, lam: float) -> torch.Tensor:
        if lam not in self._cache:
            self._cache[lam] = self._calibrate(lam)
        return self._cache[lam]

    def factors(self, lam: float) -> torch.Tensor:
        """σ_k(λ) / the residual noise's σ_k(λ), ``[1, C, *rfft]``."""
        self(lam)
        return self._factors[lam]

    @torch.no_grad()
    def _calibrate(self, lam: float) -> torch.Tensor:
        run, ndim = self.run, self.run.grid.ndim
        target = mode_variance(self.residual.paths_at(lam), ndim)
        sigma = self.residual(lam).double()
        total = torch.ones_like(sigma)
        initial = self.residual.data[: self.paths, : run.model.window]
        generator = torch.Generator(device=run.device).manual_seed(self.residual.seed)
        integrator = INTEGRATORS.get("euler-maruyama")()
        for round_ in range(self.iterations):
            current = sigma.to(run.dtype)
            try:
                path = simulate_run(run, initial, lam, self.steps, generator=generator, integrator=integrator, noise=True, noise_level=lambda _lam: current)
            except DivergenceError as failure:
                raise type(failure)(f"climate noise at λ = {lam}: calibration rollout {round_ + 1} of {self.iterations} left its energy band ({failure})") from None
            kept = path[:, initial.shape[1] + self.burn_in :]
            factor = torch.nan_to_num(target / mode_variance(kept, ndim), nan=1.0).clamp(1 / MAX_FACTOR**2, MAX_FACTOR**2).sqrt().unsqueeze(0)
            factor = torch.where(sigma > 0, factor, torch.ones_like(factor))  # a mode without noise (a conserved mean) keeps none
            sigma, total = sigma * factor, total * factor
        self._factors[lam] = total
        return sigma.to(self.residual(lam).dtype)

    def describe(self) -> dict:
        return {**self.residual.describe(), "kind": "climate", "calibration_rollouts": {"paths": self.paths, "steps": self.steps, "burn_in": self.burn_in, "iterations": self.iterations}}


__all__ = ["ClimateNoise", "mode_variance"]
