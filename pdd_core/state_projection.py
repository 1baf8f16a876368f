"""Constraints of a system's fine-scale state space, imposed on every state of a rollout at λ = 0.

Some systems store a variable on a finer grid than the one it lives on: Lorenz-96's slow X_k is
one value per block of J fast sites, replicated J times on the KJ-point grid (Eqs. 59-60 in the
B.1 layout). Every true frame is in that subspace, so its X spectrum is empty at the multiples of
K and tiny beside them; a learned drift's states drift out of it, and their power there is 3-6x
the truth's (docs/results.md, "Rollout climate"). Projecting each new state back (the mean of
the copies, replicated) keeps a rollout among valid states, as conserving the mean keeps a
periodic vorticity's. The coarse-grained states at λ > 0 leave the subspace (the coarse-graining
mixes blocks), so rollouts project at λ = 0 only.
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.errors import ShapeError, bad_argument


@attrs.frozen
class ReplicatedCopies:
    """Channel ``channel`` of a 1D field ``[..., C, N]`` holds ``copies`` equal values per block: each block becomes its mean."""

    channel: int
    copies: int

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        size = u.shape[-1]
        if size % self.copies:
            raise bad_argument("u.shape", tuple(u.shape), f"the last axis ({size}) is not a whole number of blocks of {self.copies}", "project fields of the system's own grid", kind=ShapeError)
        field = u[..., self.channel, :]
        blocks = field.reshape(*field.shape[:-1], size // self.copies, self.copies).mean(dim=-1, keepdim=True)
        projected = u.clone()
        projected[..., self.channel, :] = blocks.expand(*blocks.shape[:-1], self.copies).reshape(field.shape)
        return projected


@attrs.frozen
class ProjectedIntegrator:
    """A time integrator whose every new state is passed through ``projection`` (a state-space constraint of the system)."""

    integrator: object
    projection: object

    @property
    def stochastic(self) -> bool:
        return getattr(self.integrator, "stochastic", False)

    def init(self, drift, dt, sigma, *, device, dtype):
        return self.integrator.init(drift, dt, sigma, device=device, dtype=dtype)

    def step(self, drift, window, lam, dt, coefficients, noise, state):
        u, state = self.integrator.step(drift, window, lam, dt, coefficients, noise, state)
        return self.projection(u), state


__all__ = ["ProjectedIntegrator", "ReplicatedCopies"]
