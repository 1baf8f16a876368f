"""A λ-dependent forcing field of a neural drift: the part no translation-equivariant network has.

A periodic U-Net or FNO commutes with translations: shifting the window shifts the drift. A
system driven by a fixed spatial pattern does not: the Kolmogorov flow's vorticity equation has a
forcing term, a field in y alone, that the drift must add whatever the window is. An equivariant
network can only mimic it from the window itself, by amplifying the pattern where the window
already shows it: the drift's one-step map of the forced mode is then ρ̂ x with no constant, and
its chain pulls the mode's mean towards zero (docs/results.md, "The forcing the drift could not
represent"). This part adds

    b_λ = s · Σ_j g_j(e(λ)) · B_j,   j = 1..J,

learned fields B_j ``[C, *space]`` mixed by gates g_j read from the λ embedding e(λ): the forcing
as the coarse-grained system sees it at every λ. The fields start at zero, so an untrained drift
still returns exactly 0. The fixed scale s = ``FIELD_SCALE`` is a learning rate of their own: Adam
moves every parameter by about the learning rate per step, so at lr 1e-3 the fields alone would
reach the Kolmogorov flow's forcing (~0.1 per grid point, gates ~0.3) only after thousands of
steps; the Kolmogorov demo's 300 steps learned a third of it (docs/results.md, "The forcing the
drift could not represent").
"""

from __future__ import annotations

import torch
from torch import nn

from pdd_core.errors import ShapeError, bad_argument

FIELD_SCALE = 10.0


class ForcingPart(nn.Module):
    """b_λ = s Σ_j g_j(e(λ)) B_j with fields ``[bases, channels, *space]`` (module docstring)."""

    def __init__(self, channels: int, space: tuple[int, ...], embedding_dim: int, bases: int = 4):
        super().__init__()
        if not isinstance(bases, int) or isinstance(bases, bool) or bases < 1:
            raise bad_argument("bases", bases, "must be an integer >= 1", "pass e.g. bases=4")
        self.space = tuple(int(size) for size in space)
        self.fields = nn.Parameter(torch.zeros(bases, channels, *self.space))
        # The gates keep torch's random initialisation: with equal gates the J fields would stay equal.
        self.gates = nn.Linear(embedding_dim, bases)

    def forward(self, embedding: torch.Tensor, space: tuple[int, ...]) -> torch.Tensor:
        """embedding ``[B, embedding_dim]`` -> the forcing ``[B, C, *space]`` of a window on ``space``."""
        if tuple(space) != self.space:
            raise bad_argument(
                "history.shape[3:]", tuple(space), f"a drift with a forcing field is built for the grid {self.space}", "evaluate it on paths of its training grid", kind=ShapeError
            )
        return FIELD_SCALE * torch.einsum("bj,jc...->bc...", self.gates(embedding), self.fields)


__all__ = ["FIELD_SCALE", "ForcingPart"]
