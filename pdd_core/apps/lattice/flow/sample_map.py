"""The flow's sample map φ_T → φ_0 and the log density of what it returns, in one fixed-grid RK4 solve.

:meth:`ContinuousFlow.sample <pdd_core.apps.lattice.flow.cnf.ContinuousFlow.sample>` is built for
training and for recording intermediate times. A Metropolis proposal needs less, and cheaper:

* **One solve.** The instantaneous change of variables integrated along the path that produced
  φ_0, log q(φ_0) = log p_T(φ_T) − ∫_{s_T}^{s_0} div b ds, is the density of the map actually
  applied (up to the RK4 quadrature of that integral, 4th order in the step;
  tests/apps/test_flow_proposal.py measures it against the brute-force log|det ∂φ_0/∂φ_T|). Evaluating
  the density of φ_0 by integrating it back up to T (:meth:`ContinuousFlow.log_density`) costs a
  second solve and belongs to another discretised map.
* **One flow time per stage, the layers fused.** Every sample of a batch is at the same s in every
  RK4 stage, so what depends on s alone (c_θ(|p̂|², s), the site gains, the hollow convolution
  folded into the first per-site layer) is computed once per stage time and kept
  (:class:`~pdd_core.apps.lattice.flow.stage_velocity.StageVelocity`, the same function as the
  trained velocity with fewer and cheaper operations).
* **Cache-sized chunks.** The activations of a batch go through main memory once per operation; a
  draw is pushed in chunks whose hidden activations fit one core's L2 cache (512 KiB), which at
  16 x 16 made a proposal 1.3-1.9x cheaper than one chunk of 256 (docs/rg_flows.md).
* **float32 where the map runs, float64 where Metropolis needs it.** The fields and the network
  may be float32; the prior's log density, the accumulation of the divergence integral (a sum of
  terms of the size of the lattice) and, in the caller, the action are float64, so the weight
  −S − log q of a proposal is as precise as the map it describes.

The step is torchdiffeq's ``rk4`` (the 3/8 rule) on the grid of :class:`ContinuousFlow`: ``steps``
uniform steps in s over [s_0, s_T], so at the flow's own step count the map is the one it was
trained and sampled with (tested).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from pdd_core.apps.lattice.flow.cnf import ContinuousFlow
from pdd_core.apps.lattice.flow.stage_velocity import StageVelocity
from pdd_core.errors import bad_argument

PRECISIONS = {"float32": torch.float32, "float64": torch.float64}
ACTIVATION_BYTES = 2**19  # per chunk of a solve: one hidden layer's activations, one core's L2 cache on the machine measured
Field = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # φ -> (b, div b) at one flow time


def _rk4_step(stage: Callable[[float], Field], phi: torch.Tensor, s: float, h: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One 3/8-rule RK4 step of dφ/ds = b(φ, s) from s to s + h: ``(Δφ, Δ∫div)``, the latter float64; ``stage(s)`` is b at s."""

    def evaluate(x: torch.Tensor, at: float) -> tuple[torch.Tensor, torch.Tensor]:
        b, divergence = stage(at)(x)
        return b, divergence.to(torch.float64)

    k1, d1 = evaluate(phi, s)
    k2, d2 = evaluate(phi + h * k1 / 3, s + h / 3)
    k3, d3 = evaluate(phi + h * (k2 - k1 / 3), s + 2 * h / 3)
    k4, d4 = evaluate(phi + h * (k1 - k2 + k3), s + h)
    return (k1 + 3 * (k2 + k3) + k4) * (h / 8), (d1 + 3 * (d2 + d3) + d4) * (h / 8)


class SampleMap:
    """The sample map of ``flow`` with ``steps`` RK4 steps in ``precision`` (module docstring).

    ``flow``'s weights are copied (to ``precision``); later training of ``flow`` does not reach them.
    """

    def __init__(self, flow: ContinuousFlow, steps: int | None = None, precision: str = "float64"):
        if precision not in PRECISIONS:
            raise bad_argument("precision", precision, "is not a precision of the sample map", f"use one of {sorted(PRECISIONS)}")
        steps = flow.settings.steps if steps is None else steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise bad_argument("steps", steps, "must be an integer >= 1 (RK4 steps over the flow's log-time range)", "pass e.g. steps=8")
        self.flow, self.steps, self.precision = flow, steps, precision
        self.dtype = PRECISIONS[precision]
        self.velocity = _copy_velocity(flow)
        self._stages: dict[float, StageVelocity] = {}
        self.s_grid = [float(s) for s in torch.linspace(flow.s_min, flow.s_max, steps + 1, dtype=torch.float64)]

    def stage(self, s: float) -> StageVelocity:
        """The velocity at flow time ``s`` with its s-dependent parts computed once (every solve visits the same stage times)."""
        if s not in self._stages:
            self._stages[s] = StageVelocity.of(self.velocity, s, self.dtype)
        return self._stages[s]

    @property
    def chunk(self) -> int:
        """Fields pushed together: as many as keep one hidden layer's activations within ``ACTIVATION_BYTES``."""
        per_field = self.velocity.site[0].out_channels * self.flow.grid.n_points * self.dtype.itemsize
        return max(1, ACTIVATION_BYTES // per_field)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` draws ``(φ_0 [n, *grid] float64, log q(φ_0) [n] float64)``: φ_T from the prior, then :meth:`push` by chunks."""
        with torch.no_grad():
            pushed = [self.push(top) for top in self.flow.prior_sample(n, generator, torch.float64).split(self.chunk)]
            return torch.cat([fields for fields, _ in pushed]), torch.cat([log_density for _, log_density in pushed])

    def push(self, top: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The map from φ_T ``[B, *grid]`` down to s_0 and the log density of its image, both float64 (differentiable in φ_T)."""
        top = top.to(self.dtype)
        phi, integral = top, torch.zeros(top.shape[0], dtype=torch.float64)
        for s_from, s_to in zip(self.s_grid[:0:-1], self.s_grid[-2::-1]):
            step, accumulated = _rk4_step(self.stage, phi, s_from, s_to - s_from)
            phi, integral = phi + step, integral + accumulated
        # The prior at the field the map started from (its rounding to the precision included).
        return phi.to(torch.float64), self.flow.prior_log_density(top.to(torch.float64)) - integral

    def log_density(self, phi: torch.Tensor) -> torch.Tensor:
        """log q(φ) ``[B]`` float64 by integrating φ from s_0 up to s_T on the same grid (a second solve, of the reversed map)."""
        return torch.cat([self._integrate_up(part) for part in phi.split(self.chunk)])

    def _integrate_up(self, phi: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x, integral = phi.to(self.dtype), torch.zeros(phi.shape[0], dtype=torch.float64)
            for s_from, s_to in zip(self.s_grid[:-1], self.s_grid[1:]):
                step, accumulated = _rk4_step(self.stage, x, s_from, s_to - s_from)
                x, integral = x + step, integral + accumulated
            return self.flow.prior_log_density(x.to(torch.float64)) + integral


def _copy_velocity(flow: ContinuousFlow) -> nn.Module:
    """A frozen float64 copy of the flow's velocity network (its stages are cast to the map's precision)."""
    velocity = copy.deepcopy(flow.velocity).to(torch.float64).eval()
    for parameter in velocity.parameters():
        parameter.requires_grad_(False)
    return velocity


__all__ = ["PRECISIONS", "SampleMap"]
