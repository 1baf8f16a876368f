"""Frozen state records. State is plain data; behaviour lives in stateless parts.

Tensors inside records are never written in place: every transformation returns a new
record (``attrs.evolve(path, u=new_u)``).
"""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.validation import as_lambda, check_field


@attrs.frozen(eq=False)
class Transition:
    """Per-mode closed form of one RG transition λ_a → λ_b (RDM 5.19/5.41, PDD Eqs. 17-18).

    ``damping`` is C̃(k) and ``variance`` is Σ̃(k), each shaped ``[B, 1, 1, *rfft_shape]`` so
    they broadcast against ``rfft(u)`` of a ``[B, T, C, *space]`` field. ``active`` marks modes
    that take part in the diffusion (False for an excluded k = 0 mode, PDD A.2).
    """

    damping: torch.Tensor
    variance: torch.Tensor
    active: torch.Tensor


def _check_path(instance: "Trajectory") -> None:
    check_field(instance.u, instance.grid, "Trajectory.u")
    if not (isinstance(instance.dt, (int, float)) and math.isfinite(instance.dt) and instance.dt > 0):
        raise bad_argument("Trajectory.dt", instance.dt, "the sampling interval must be finite and > 0", "pass the data's Δt, e.g. dt=0.05")
    if instance.lam.shape != (instance.u.shape[0],):
        raise bad_argument("Trajectory.lam.shape", tuple(instance.lam.shape), f"expected one λ per sample ([{instance.u.shape[0]}])", "pass lam as a float or a [B] tensor", kind=ShapeError)


@attrs.frozen(eq=False)
class Trajectory:
    """A batch of spatiotemporal paths at diffusion scale λ.

    Attributes:
        u: field values ``[B, T, C, *space]`` (float32 or float64), T snapshots Δt apart.
        lam: diffusion scale per sample, float64 ``[B]`` (a float is broadcast).
        dt: physical sampling interval Δt between snapshots.
        grid: the spatial grid the field lives on.
    """

    u: torch.Tensor
    grid: Grid
    dt: float
    lam: torch.Tensor = 0.0

    def __attrs_post_init__(self) -> None:
        # Normalise λ once so every consumer sees float64 [B]; the record stays frozen.
        object.__setattr__(self, "lam", as_lambda(self.lam, self.u.shape[0], "Trajectory.lam", device=self.u.device))
        _check_path(self)

    @property
    def batch(self) -> int:
        return self.u.shape[0]

    @property
    def n_frames(self) -> int:
        return self.u.shape[1]
