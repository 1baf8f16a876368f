"""The reverse-λ driver: generation and super-resolution (PDD Algorithm 3)."""

from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.schedules import check_grid
from pdd_core.validation import check_field, check_generator

Boundary = Callable[[torch.Tensor], torch.Tensor]


def extrapolate_t0(u: torch.Tensor) -> torch.Tensor:
    """u(t0) <- 2 u(t1) - u(t2): the temporal boundary rule of PDD B.6 (paths with T >= 3).

    The path density omits the initial density r_λ, so the score at t0 is incomplete; the
    paper overwrites t0 by linear extrapolation after every predictor and corrector step.
    """
    if u.shape[1] < 3:
        raise bad_argument("u.shape", tuple(u.shape), "the t0 extrapolation needs T >= 3 frames", "use boundary=None for short paths", kind=ShapeError)
    return torch.cat([(2 * u[:, 1] - u[:, 2]).unsqueeze(1), u[:, 1:]], dim=1)


def no_boundary(u: torch.Tensor) -> torch.Tensor:
    return u


def check_finite_sample(u: torch.Tensor, lam: torch.Tensor) -> None:
    """Stop a diverging reverse-λ integration with a message that says what to change."""
    if not bool(torch.isfinite(u).all()):
        raise bad_argument(
            "sample",
            f"λ = {float(lam.reshape(-1)[0]):.4g}",
            "the sample became NaN or inf (explicit steps are unstable when κΔλ or b²Δλ/(σ_λ²Δt) exceed ~1; "
            "with a path score the reverse flow itself grows modes with α|k|² > β²·λ_max(-∂s), docs/results.md)",
            "use more λ steps (PDD B.3 uses 1000 on [0, 1]), the probability-flow samplers (pf, eab2), or, unless already used, score 'path-per-mode-r' with a run trained with objective.noise_model = 'per-mode'",
        )


def sample(
    score,
    scheme,
    grid: Grid,
    sampler,
    lam_grid: torch.Tensor,
    *,
    generator: torch.Generator,
    u_init: torch.Tensor | None = None,
    shape: tuple[int, ...] | None = None,
    dtype: torch.dtype = torch.float32,
    boundary: Boundary | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Integrate the reverse RG flow along the decreasing ``lam_grid`` and return u at λ_end.

    Exactly one of:
      * ``shape`` ``[B, T, C, *space]``: unconditional generation from the prior
        N(0, Σ_λmax) per time step (Algorithm 3, line 1);
      * ``u_init``: super-resolution of a coarse path given at λ = lam_grid[0] (line 2),
        e.g. a simulation at λ = 0.2.

    Per-mode coefficients are computed once per grid step before the loop (they are shared
    by the batch); the loop itself is score calls plus arithmetic. ``boundary`` (e.g.
    :func:`extrapolate_t0`) is applied after every update; by default nothing is, and no
    clamping, mean removal or other stabiliser is ever applied silently.
    """
    check_generator(generator)
    grid_lam = check_grid(lam_grid)
    if (u_init is None) == (shape is None):
        raise bad_argument("u_init", "given" if u_init is not None else None, "pass exactly one of u_init (super-resolution) or shape (generation)", "e.g. shape=(16, 64, 2, 128)")
    if u_init is None:
        u = scheme.prior_sample(tuple(shape), grid, float(grid_lam[0]), generator, dtype=dtype)
    else:
        check_field(u_init, grid, "u_init")
        u = u_init
    boundary = boundary or no_boundary
    batch_one = lambda value: value.reshape(1)  # noqa: E731  (coefficients are shared by the batch)
    coefficients = [sampler.prepare(scheme, grid, batch_one(grid_lam[i]), batch_one(grid_lam[i + 1])) for i in range(grid_lam.numel() - 1)]
    state = None
    with torch.no_grad():
        for i in tqdm(range(grid_lam.numel() - 1), desc="reverse-λ", disable=not progress, leave=False):
            lam_from = grid_lam[i].expand(u.shape[0]).to(u.device)
            lam_to = grid_lam[i + 1].expand(u.shape[0]).to(u.device)
            u, state = sampler.step(score, u, lam_from, lam_to, coefficients[i], generator, state, boundary)
            check_finite_sample(u, lam_to)
    return u
