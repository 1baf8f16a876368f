"""The two training objectives of RDM Sec. 7.1 for the same flow, prior, batch and optimiser.

* reverse KL (RDM 5.5), the usual normalizing-flow loss: KL(p^θ_0 | p_0) = E_{φ~p^θ_0}[log p^θ_0(φ) + S(φ)] + log Z;
* RDM's objective (5.22): KL(p^θ_0 | p_0) + ∫_0^T dt λ(t) KL(p_t | p^θ_t), where p_t is the Carosso flow
  of the theory: HMC samples φ_0 pushed through the exact forward kernel (RDM 5.20). Up to the
  entropy of p_t, which does not depend on θ, KL(p_t | p^θ_t) = -E_{p_t}[log p^θ_t].

Choice of λ(t) (RDM leaves it open): λ(t) dt = ds / (s_T - s_0) with s = log(t + ε), i.e. one unit
of weight spread uniformly in log RG time, the scale on which the Carosso flow moves one band of
modes after another. The integral is estimated by one t per sample drawn from that density, so
every step sees the whole range of t at the cost of one extra flow solve.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import torch

from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, carosso_kernel_sample


def lattice_action(system: Any, phi: torch.Tensor) -> torch.Tensor:
    """S[φ] of RDM Eq. 4.6 (as ``LatticePhi4.action``) in torch, differentiable, ``[B, N, N]`` -> ``[B]``."""
    hops = sum((torch.roll(phi, -1, dims=axis) - phi).square() for axis in (-2, -1))
    square = phi.square()
    density = 0.5 * system.kinetic * hops + 0.5 * system.mass_term * square + 0.25 * system.quartic_term * square.square()
    return density.sum(dim=(-2, -1))


def reverse_kl(flow: ContinuousFlow, system: Any, batch: int, generator: torch.Generator) -> torch.Tensor:
    """E_{φ~p^θ_0}[log p^θ_0(φ) + S(φ)] = KL(p^θ_0 | p_0) - log Z (RDM 5.5), a Monte Carlo estimate over ``batch`` flows."""
    samples, log_density = flow.sample(batch, generator)
    return (log_density + lattice_action(system, samples[0.0])).mean()


def flow_matching_term(flow: ContinuousFlow, data: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    """-∫ λ(t) E_{p_t}[log p^θ_t] dt with t log-uniform (module docstring), from ``batch`` rows of the t = 0 samples ``data``."""
    rows = torch.randint(data.shape[0], (batch,), generator=generator)
    data = data[rows].to(flow.dtype)
    u = torch.rand(batch, generator=generator, dtype=data.dtype)
    t = torch.exp(flow.s_min + u * (flow.s_max - flow.s_min)) - flow.epsilon
    t = t.clamp(0.0, flow.settings.t_max)
    phi_t = carosso_kernel_sample(data, flow.scheme, flow.grid, t, generator)
    return -flow.log_density(phi_t, t).mean()


@attrs.frozen
class ReverseKL:
    """The usual normalizing-flow loss, RDM 5.5."""

    name: ClassVar[str] = "reverse-kl"

    def loss(self, flow: ContinuousFlow, system: Any, data: torch.Tensor | None, batch: int, generator: torch.Generator) -> torch.Tensor:
        return reverse_kl(flow, system, batch, generator)


@attrs.frozen
class RDMObjective:
    """RDM's objective 5.22: reverse KL at t = 0 plus the KLs to the Carosso flow of the data at every t."""

    name: ClassVar[str] = "rdm"

    def loss(self, flow: ContinuousFlow, system: Any, data: torch.Tensor | None, batch: int, generator: torch.Generator) -> torch.Tensor:
        return reverse_kl(flow, system, batch, generator) + flow_matching_term(flow, data, batch, generator)


__all__ = ["RDMObjective", "ReverseKL", "flow_matching_term", "lattice_action", "reverse_kl"]
