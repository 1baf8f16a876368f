"""Sampling a trained inverse RG: the reverse SDE (RDM 5.25) in two stages, recorded at the ts of interest.

Every pdd λ-sampler treats the score explicitly, so a mode of rate κ in equilibrium is
propagated stably and accurately only while κΔt is small (ETD multiplies it by 2 - e^{κΔt} per
step even with the exact score; its stationary variance is 1.6 % too large at κΔt = 0.2, 0.4 %
at 0.1, and unbounded beyond ln 3). On RDM's lattice κ_max = 8N²/L² + M² = 3201, while the zero
mode decays at rate M² = 1 from ~84 stationary spreads (m² = -2), so one lattice integration
from t_max ≈ 7.4 would cost ~10⁵ network calls per sample. The flow removes the need
(:mod:`~pdd_core.apps.lattice.inverse_rg.times`): stage 1 integrates the zero mode ẑ alone from
t_max to t_split; stage 2 integrates the lattice from ẑ(t_split) plus an exact Gaussian draw
of the other modes down to 0, with κ_max Δt = ``stiffness``.

pdd grids have at least 2 points per axis, so ẑ is carried as a constant field on a 2 x 2 grid
with ``Carosso(alpha=0, beta, mass=M)``: every carrier mode has rate M² and noise β², its zero
mode follows exactly ẑ's flow, and the three other (data-free) modes are ignored. Each stage
works in its own field units s (φ/s, noise β/s; the SDE is linear, so this is RDM's flow in
units of s); samples are returned in the original units, which the estimators need.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import attrs
import numpy as np
import torch
from torch import nn

from pdd_core.apps.lattice.inverse_rg.times import FlowTimes, with_zero_mode, zero_mode
from pdd_core.apps.lattice.rg_flow import check_times
from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.sampling import sample_at
from pdd_core.score.noise_score import DenoisingScore
from pdd_core.validation import check_generator, check_positive

CARRIER_SHAPE = (2, 2)
# κ_max Δt of the lattice stage: the ETD equilibrium variance of the stiffest mode is then 1.6 % high.
DEFAULT_STIFFNESS = 0.2
DEFAULT_ZERO_MODE_STEPS = 200


def carrier_grid(grid: Grid) -> Grid:
    """The 2 x 2 grid that carries ẑ (its symbol is irrelevant: the carrier scheme has α = 0)."""
    return Grid(CARRIER_SHAPE, length=grid.lengths[0], symbol="lattice")


def carrier_scale(zero_modes: torch.Tensor) -> float:
    """s0 such that the carrier field ẑ / (2 s0) (constant on 2 x 2, zero mode ẑ/s0) has RMS 1."""
    return float(zero_modes.pow(2).mean().sqrt()) / math.sqrt(math.prod(CARRIER_SHAPE))


def carrier_fields(zero_modes: torch.Tensor, scale: float) -> torch.Tensor:
    """Constant 2 x 2 fields ``[n, 2, 2]`` whose orthonormal zero mode is ẑ / s0."""
    return (zero_modes / (math.sqrt(math.prod(CARRIER_SHAPE)) * scale))[:, None, None].expand(zero_modes.shape[0], *CARRIER_SHAPE)


@attrs.frozen
class LearnedFlow:
    """Samples ``[n, N, N]`` of the learned p_t at every requested t (original units), and their cost:
    network calls per sample per stage (a carrier call is far cheaper than a lattice call)."""

    samples: dict[float, np.ndarray]
    score_evaluations: dict[str, int]
    seconds: float


def decreasing_grid(top: float, bottom: float, steps: int, low: float, stops: Sequence[float]) -> torch.Tensor:
    """λs from ``top`` down to ``low``: ``steps`` uniform steps from top to ``bottom`` (cut at ``low``) plus the stops."""
    uniform = np.linspace(top, bottom, steps + 1)
    points = {float(x) for x in uniform if x >= low} | {top, low} | {float(t) for t in stops if low <= t <= top}
    return torch.tensor(sorted(points, reverse=True), dtype=torch.float64)


def _integrate(score, scheme, grid: Grid, sampler, lam_schedule: torch.Tensor, stops: Sequence[float], generator, start: torch.Tensor, progress: bool) -> dict[float, torch.Tensor]:
    """The reverse SDE from ``start`` (u at lam_schedule[0]) along ``lam_schedule`` in one pass; ``{stop: u}`` at every stop on it."""
    # No energy band: the ordered phase's field holds orders of magnitude more energy than the prior.
    options = {"generator": generator, "u_init": start, "energy_band": None, "progress": progress}
    with torch.no_grad():
        return sample_at(score, scheme, grid, sampler, lam_schedule, sorted(set(stops), reverse=True), **options)


def _check_count(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", f"pass {name} >= {minimum}")


@attrs.frozen(eq=False)
class LearnedInverseRG:
    """A trained inverse RG: residual denoisers for the lattice on [0, t_split] and the zero-mode
    carrier on [t_split, t_max] (None when t_split = t_max), the physical scheme and the units."""

    lattice_network: nn.Module
    zero_mode_network: nn.Module | None
    grid: Grid
    scheme: Any
    scale: float
    zero_mode_scale: float
    times: FlowTimes

    @property
    def lattice_scheme(self) -> Any:
        return attrs.evolve(self.scheme, beta=self.scheme.beta / self.scale)

    @property
    def zero_mode_scheme(self) -> Any:
        return attrs.evolve(self.scheme, alpha=0.0, beta=self.scheme.beta / self.zero_mode_scale)

    def lattice_steps(self, stiffness: float = DEFAULT_STIFFNESS) -> int:
        """Uniform steps over [0, t_split] with κ_max Δt = ``stiffness`` (κ_max = α max|p̂|² + M²)."""
        check_positive("stiffness", stiffness)
        return max(1, math.ceil(float(self.scheme.rate(self.grid, 0.0).max()) * self.times.t_split / stiffness))

    def sample_flow(
        self,
        n: int,
        ts: Sequence[float],
        sampler,
        generator: torch.Generator,
        *,
        stiffness: float = DEFAULT_STIFFNESS,
        zero_mode_steps: int = DEFAULT_ZERO_MODE_STEPS,
        progress: bool = False,
    ) -> LearnedFlow:
        """``n`` independent reverse-SDE paths from the prior at t_max, recorded at every t in ``ts``.

        Beyond t_max p_t is drawn as the prior N(0, Σ̃_t); on [t_split, t_max] as the stage-1 ẑ(t)
        plus exact N(0, Σ̃_t) on the other modes; below t_split by stage 2.
        """
        check_generator(generator)
        _check_count("n", n, 2)
        _check_count("zero_mode_steps", zero_mode_steps, 1)
        times = check_times(ts)
        lattice_steps = self.lattice_steps(stiffness)
        started = time.perf_counter()
        t_split, t_max = self.times.t_split, self.times.t_max
        samples = {t: self._gaussian(n, t, generator)[:, 0, 0].numpy() for t in times if t > t_max}
        evaluations = {"lattice": 0, "zero_mode": 0}
        if self.zero_mode_network is not None:
            upper = [t for t in times if t_split <= t <= t_max]
            zero_modes = self._sample_zero_mode(n, [*upper, t_split], sampler, generator, zero_mode_steps, progress)
            evaluations["zero_mode"] = zero_mode_steps * sampler.evaluations_per_step
            samples.update({t: self._with_gaussian_modes(zero_modes[t], t, generator)[:, 0, 0].numpy() for t in upper})
            start = self._with_gaussian_modes(zero_modes[t_split], t_split, generator)
        else:
            start = self._gaussian(n, t_split, generator)
        lower = [t for t in times if t < t_split or (self.zero_mode_network is None and t == t_split)]
        if lower:
            lattice, steps = self._sample_lattice(start / self.scale, lower, sampler, generator, lattice_steps, progress)
            samples.update({t: (lattice[t][:, 0, 0].double() * self.scale).numpy() for t in lower})
            evaluations["lattice"] = steps * sampler.evaluations_per_step
        return LearnedFlow(samples={t: samples[t] for t in times}, score_evaluations=evaluations, seconds=time.perf_counter() - started)

    def _gaussian(self, n: int, t: float, generator: torch.Generator) -> torch.Tensor:
        """``[n, 1, 1, N, N]`` draws of N(0, Σ̃_t) in original units."""
        return self.scheme.prior_sample((n, 1, 1, *self.grid.shape), self.grid, t, generator, dtype=torch.float64)

    def _with_gaussian_modes(self, zero_modes: torch.Tensor, t: float, generator: torch.Generator) -> torch.Tensor:
        """N(0, Σ̃_t) on every non-zero mode, zero mode set to ``zero_modes`` ``[n]``: ``[n, 1, 1, N, N]``."""
        return with_zero_mode(self._gaussian(zero_modes.shape[0], t, generator), zero_modes.to(torch.float64)[:, None, None])

    def _sample_zero_mode(self, n: int, stops: Sequence[float], sampler, generator, steps: int, progress: bool) -> dict[float, torch.Tensor]:
        """Stage 1: ẑ ``[n]`` (original units) at every stop in [t_split, t_max]."""
        carrier, scheme = carrier_grid(self.grid), self.zero_mode_scheme
        t_split, t_max = self.times.t_split, self.times.t_max
        lam_schedule = decreasing_grid(t_max, t_split, steps, t_split, stops)
        score = DenoisingScore(self.zero_mode_network.eval(), scheme, carrier, delta_lambda=t_split)
        start = scheme.prior_sample((n, 1, 1, *CARRIER_SHAPE), carrier, t_max, generator)
        recorded = _integrate(score, scheme, carrier, sampler, lam_schedule, stops, generator, start, progress)
        return {t: zero_mode(u[:, 0, 0].double()) * self.zero_mode_scale for t, u in recorded.items()}

    def _sample_lattice(self, start: torch.Tensor, stops: Sequence[float], sampler, generator, steps: int, progress: bool) -> tuple[dict[float, torch.Tensor], int]:
        """Stage 2: fields in units of s at every stop below t_split, from ``start`` at t_split, and the steps taken."""
        lam_schedule = decreasing_grid(self.times.t_split, 0.0, steps, min(stops), stops)
        # The Σ floor of DenoisingScore (PDD A.7) lies below every λ at which a step evaluates the score.
        score = DenoisingScore(self.lattice_network.eval(), self.lattice_scheme, self.grid, delta_lambda=float(lam_schedule[lam_schedule > 0].min()))
        recorded = _integrate(score, self.lattice_scheme, self.grid, sampler, lam_schedule, stops, generator, start.to(torch.float32), progress)
        return recorded, lam_schedule.numel() - 1


__all__ = [
    "CARRIER_SHAPE",
    "DEFAULT_STIFFNESS",
    "DEFAULT_ZERO_MODE_STEPS",
    "LearnedFlow",
    "LearnedInverseRG",
    "carrier_fields",
    "carrier_grid",
    "carrier_scale",
    "decreasing_grid",
]
