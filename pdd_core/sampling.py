"""The reverse-λ driver: generation and super-resolution (PDD Algorithm 3)."""

from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.schedules import check_grid
from pdd_core.score.gaussian_marginal import GaussianMarginal
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


# A sample whose mean energy per path exceeds this multiple of the start's has left the density:
# the coarse-grained data and the prior differ in energy by a few x, never by 1e3.
ENERGY_BAND = 1e3
DIVERGENCE_FIX = (
    "sample around the data's Gaussian marginal (GaussianExponential predictor + GaussianLangevin corrector), "
    "use more λ steps (PDD B.3 uses 1000 on [0, 1]), or, for a path score, a drift trained and scored with PerModeNoise()"
)


def check_finite_sample(u: torch.Tensor, lam: torch.Tensor) -> None:
    """Stop a diverging reverse-λ integration with a message that says what to change."""
    if not bool(torch.isfinite(u).all()):
        raise bad_argument(
            "sample",
            f"λ = {float(lam.reshape(-1)[0]):.4g}",
            "the sample became NaN or inf (explicit steps are unstable when κΔλ or b²Δλ/(σ_λ²Δt) exceed ~1; "
            "with a path score the reverse flow itself grows modes with α|k|² > β²·λ_max(-∂s), docs/results.md)",
            DIVERGENCE_FIX,
        )


def energy(u: torch.Tensor) -> torch.Tensor:
    """Mean square value per path ``[B]`` (float64)."""
    return u.detach().to(torch.float64).pow(2).flatten(1).mean(1)


def check_energy(u: torch.Tensor, lam: torch.Tensor, reference: torch.Tensor, band: float | None = ENERGY_BAND) -> None:
    """Stop when a path turns NaN or its energy leaves ``band`` x the start's mean energy ``reference``."""
    check_finite_sample(u, lam)
    if band is None:
        return
    ratio = float((energy(u) / reference.clamp_min(torch.finfo(torch.float64).tiny)).max())
    if ratio > band:
        raise bad_argument(
            "sample",
            f"λ = {float(lam.reshape(-1)[0]):.4g}",
            f"a path's energy grew to {ratio:.3g} x that of the start (band: {band:g} x), so the reverse-λ integration diverges",
            DIVERGENCE_FIX,
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
    prior=None,
    energy_band: float | None = ENERGY_BAND,
    progress: bool = False,
) -> torch.Tensor:
    """Integrate the reverse RG flow along the decreasing ``lam_grid`` and return u at λ_end.

    Exactly one of:
      * ``shape`` ``[B, T, C, *space]``: unconditional generation from ``prior`` (a
        :class:`~pdd_core.score.gaussian_marginal.GaussianMarginal`; default: the paper's
        N(0, Σ_λmax) per time step, Algorithm 3, line 1);
      * ``u_init``: super-resolution of a coarse path given at λ = lam_grid[0] (line 2),
        e.g. a simulation at λ = 0.2.

    Per-mode coefficients are computed once per grid step before the loop (they are shared
    by the batch); the loop itself is score calls plus arithmetic. ``boundary`` (e.g.
    :func:`extrapolate_t0`) is applied after every update; by default nothing is, and no
    clamping, mean removal or other stabiliser is ever applied silently. The integration
    stops with a clear error when a sample turns NaN or its energy exceeds ``energy_band`` x
    the start's (a diverging sampler, before it reaches inf); ``energy_band=None`` keeps only the
    NaN check, for flows whose end legitimately holds far more energy than their start (the
    ordered phase of lattice φ⁴ from a Gaussian prior).
    """
    check_generator(generator)
    grid_lam = check_grid(lam_grid)
    if (u_init is None) == (shape is None):
        raise bad_argument("u_init", "given" if u_init is not None else None, "pass exactly one of u_init (super-resolution) or shape (generation)", "e.g. shape=(16, 64, 2, 128)")
    if u_init is None:
        prior = GaussianMarginal() if prior is None else prior
        u = prior.sample(tuple(shape), scheme, grid, float(grid_lam[0]), generator, dtype=dtype)
    else:
        check_field(u_init, grid, "u_init")
        u = u_init
    boundary = boundary or no_boundary
    batch_one = lambda value: value.reshape(1)  # noqa: E731  (coefficients are shared by the batch)
    coefficients = [sampler.prepare(scheme, grid, batch_one(grid_lam[i]), batch_one(grid_lam[i + 1])) for i in range(grid_lam.numel() - 1)]
    state, start_energy = None, energy(u).mean()
    with torch.no_grad():
        for i in tqdm(range(grid_lam.numel() - 1), desc="reverse-λ", disable=not progress, leave=False):
            lam_from = grid_lam[i].expand(u.shape[0]).to(u.device)
            lam_to = grid_lam[i + 1].expand(u.shape[0]).to(u.device)
            u, state = sampler.step(score, u, lam_from, lam_to, coefficients[i], generator, state, boundary)
            check_energy(u, lam_to, start_energy, energy_band)
    return u
