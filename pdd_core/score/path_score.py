"""The path score by reverse-mode autograd (PDD Sec. 3.4, B.7)."""

from __future__ import annotations

import attrs
import torch

from pdd_core.grid import Grid
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA, log_density


@attrs.frozen
class PathScore:
    """s_λ(u) = ∇_u log p_λ(u) of the drift's path density (PDD Eqs. 11 and 36).

    One batched forward of the drift over all T-1 windows and one backward pass: no loop
    over time. The gradient is taken with respect to ``u`` only (``torch.autograd.grad``),
    so parameter gradients are never accumulated, and no graph survives the call. Works
    under ``torch.no_grad()`` callers because it enables grad locally. The drift is used as
    given: put it in ``eval()`` mode first.
    """

    drift: object
    scheme: object
    grid: Grid
    dt: float
    delta_lambda: float = DEFAULT_DELTA_LAMBDA

    def __call__(self, u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            leaf = u.detach().requires_grad_(True)
            total = log_density(leaf, lam, self.drift, self.scheme, self.grid, self.dt, delta_lambda=self.delta_lambda).sum()
            (score,) = torch.autograd.grad(total, leaf)
        return score
