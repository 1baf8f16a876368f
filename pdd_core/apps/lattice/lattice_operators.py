"""Dense position-space operators of the periodic lattice: the Laplacian and the dilatation of RDM 5.51-5.52.

Sites are flattened in C order of ``grid.shape``, site n = (n_1, ..., n_d) with every n_i in {0, ..., N_i - 1}.
Both operators act on the site values φ(n) (the project's orthonormal site variables, docs/rg_flows.md).
"""

from __future__ import annotations

from functools import reduce

import numpy as np

from pdd_core.grid import Grid


def _on_axis(grid: Grid, axis: int, one_dimensional: np.ndarray) -> np.ndarray:
    """``one_dimensional`` acting on lattice axis ``axis``, the identity on the others (a Kronecker product)."""
    factors = [one_dimensional if i == axis else np.eye(n) for i, n in enumerate(grid.shape)]
    return reduce(np.kron, factors)


def _forward_shift(sites: int) -> np.ndarray:
    """(S φ)(n) = φ(n + 1 mod N): the periodic neighbour of Z_N."""
    return np.roll(np.eye(sites), 1, axis=1)


def lattice_laplacian(grid: Grid) -> np.ndarray:
    """Δφ(n) = Σ_i (φ(n + e_i) + φ(n - e_i) - 2φ(n)) / ε_i²: minus the lattice symbol |p̂|² of RDM 5.13 in position space."""
    terms = []
    for axis, (sites, spacing) in enumerate(zip(grid.shape, grid.spacing)):
        shift = _forward_shift(sites)
        terms.append(_on_axis(grid, axis, (shift + shift.T - 2.0 * np.eye(sites)) / spacing**2))
    return sum(terms)


def dilatation_generator(grid: Grid) -> np.ndarray:
    """x·Dφ(n) = Σ_i x_i (φ(n + e_i) - φ(n)) / ε_i with x_i = n_i ε_i: the dilatation of RDM 5.51 with D of 5.52.

    x is the position of site n measured from site 0, so the origin of the dilatation sits at that corner and
    n_i runs over 0..N_i-1. 5.51 prints n·Dφ with n the site index, which is x·Dφ / ε: not a dilatation of
    positions (it would rescale them by (Λ0/Λ_t)^{1/ε}) and not of the dimension of Δφ, so the position x is used.
    The ε_i cancel: x·Dφ(n) = Σ_i n_i (φ(n + e_i) - φ(n)). Every off-diagonal entry is n_i >= 0, so for the
    dilatation's sign in 5.51 (-∂t log Λ_t >= 0) the printed forward differences are upwind differences and the
    flow is stable. The seam: at n_i = N_i - 1 the forward neighbour is site n_i = 0 (the periodic lattice Z_N),
    where the velocity x jumps from (N_i - 1) ε_i to 0; translation invariance is lost there (docs/rg_flows.md).
    """
    terms = []
    for axis, sites in enumerate(grid.shape):
        terms.append(_on_axis(grid, axis, np.diag(np.arange(sites, dtype=np.float64)) @ (_forward_shift(sites) - np.eye(sites))))
    return sum(terms)


__all__ = ["dilatation_generator", "lattice_laplacian"]
