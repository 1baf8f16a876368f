"""A trained lattice flow as an exact-density independence Metropolis-Hastings proposal (RDM 1.2, 5.4).

``sample_with_log_density(n, rng)`` draws φ_0 from the flow's sample map and returns the log
density of each draw from the same RK4 solve
(:class:`~pdd_core.apps.lattice.flow.sample_map.SampleMap`: one solve instead of a sample and a
second solve back up, float32 fields with a float64 density, one flow time per RK4 stage);
:func:`~pdd_core.apps.lattice.gaussian_proposal.independence_metropolis_step` uses it when a
proposal has it. ``log_density(fields)`` evaluates log q at states the proposal did not make (a
chain's first state, or one an HMC frame moved) by integrating them up to T on the same grid; that
backward solve and the forward one are two RK4 discretisations of the same flow and agree to the
RK4 error (tests/apps/test_flow_proposal.py). What separates the forward density from the law of the
proposals is the RK4 quadrature of the divergence integral (4th order; measured against a
brute-force log|det| in tests/apps/test_flow_proposal.py and tests/apps/test_flow.py).

The draws are i.i.d. and do not depend on the chain, so they are made ``batch`` at a time and
handed out in order: a Metropolis cycle of 16 chains then pays for a sixteenth of a batch of 256,
not for a batch of 16 with its per-call overhead (docs/rg_flows.md, "A cheaper flow proposal").
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch

from pdd_core.apps.lattice.flow.cnf import ContinuousFlow
from pdd_core.apps.lattice.flow.sample_map import SampleMap
from pdd_core.errors import bad_argument


def _check_batch(instance, attribute, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise bad_argument("batch", value, "must be an integer >= 1 (proposals drawn per solve)", "pass e.g. batch=256")


@attrs.frozen(eq=False)
class FlowProposal:
    """p^θ_0 of ``flow`` as a proposal (module docstring).

    Attributes:
        flow: the trained flow (made float64 for its prior density; its weights are copied into the map).
        batch: proposals drawn per solve (the pool handed out in order).
        steps: RK4 steps of the sample map over the flow's log-time range; None: the flow's own.
        precision: "float32" or "float64", of the fields and the network along the map (the
            density is accumulated in float64 either way).
    """

    flow: ContinuousFlow = attrs.field(converter=lambda flow: flow.double().eval())
    batch: int = attrs.field(default=256, validator=_check_batch)
    steps: int | None = None
    precision: str = "float32"  # checked by SampleMap
    sample_map: SampleMap = attrs.field(init=False)
    _pool: dict[str, np.ndarray] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "sample_map", SampleMap(self.flow, self.steps, self.precision))

    def sample_with_log_density(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` proposals ``[n, *grid]`` and their log densities ``[n]`` (float64), from the pool, refilled ``batch`` at a time."""
        while len(self._pool.get("log_density", ())) < n:
            generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
            fields, log_density = self.sample_map.sample(self.batch, generator)
            self._extend_pool(fields.numpy(), log_density.numpy())
        fields, log_density = self._pool["fields"], self._pool["log_density"]
        self._pool.update(fields=fields[n:], log_density=log_density[n:])
        return fields[:n], log_density[:n]

    def _extend_pool(self, fields: np.ndarray, log_density: np.ndarray) -> None:
        if self._pool:
            fields, log_density = np.concatenate([self._pool["fields"], fields]), np.concatenate([self._pool["log_density"], log_density])
        self._pool.update(fields=fields, log_density=log_density)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` proposals ``[n, *grid]`` float64."""
        return self.sample_with_log_density(n, rng)[0]

    def log_density(self, fields: Any) -> np.ndarray:
        """log q of any fields ``[..., *grid]`` -> ``[n]`` float64, by the backward solve on the same grid (module docstring)."""
        phi = torch.as_tensor(np.asarray(fields, dtype=np.float64)).reshape(-1, *self.flow.grid.shape)
        values = [self.sample_map.log_density(phi[start : start + self.batch]) for start in range(0, phi.shape[0], self.batch)]
        return torch.cat(values).numpy()

    def describe(self) -> dict[str, Any]:
        """The settings of the map, for a record."""
        return {"batch": self.batch, "ode_steps": self.sample_map.steps, "precision": self.precision}


def importance_ess_per_sample(log_weights: np.ndarray) -> float:
    """ESS/N = (Σw)² / (N Σw²) of importance weights w = exp(log_weights): 1 for an exact proposal."""
    shifted = np.exp(log_weights - np.max(log_weights))
    return float(shifted.sum() ** 2 / (len(shifted) * np.square(shifted).sum()))


__all__ = ["FlowProposal", "importance_ess_per_sample"]
