"""What the seam of the periodic lattice does to RDM 5.51: the exact covariance of a free field flowed by 5.51 against 5.50.

A free field (RDM 7.2 at λ = 0) is Gaussian with site covariance P_0 = ε^{-d} (-Δ + m²)^{-1}, and both flows are
linear, so P_t = Φ P_0 Φᵀ + Q exactly (no sampling). 5.50 keeps P_t translation invariant; 5.51's dilatation about the
corner site 0 does not. Printed per t, for both flows and for the field less its lattice mean (the zero mode, which
both flows treat alike, would hide the rest): the site variance at the origin, at the centre and at the far corner
(next to the seam), and the translation-averaged nearest-neighbour correlation G(1)/G(0).

    python experiments/rg/dilatation_seam.py --m2 400 --ts 0.001 0.01 0.1 0.6
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import torch

from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice.lattice_operators import lattice_laplacian
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


def neighbour_correlation(covariance: np.ndarray, shape: tuple[int, int]) -> float:
    """Translation-averaged G(1)/G(0), G(r) = ⟨φ(n) φ(n + r e_i)⟩ over every site n and both axes."""
    sites = np.arange(covariance.shape[0]).reshape(shape)
    neighbours = [np.roll(sites, -1, axis=axis).ravel() for axis in (0, 1)]
    same = np.diag(covariance).mean()
    return float(np.mean([covariance[sites.ravel(), other].mean() for other in neighbours]) / same)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=20)
    parser.add_argument("--L", type=float, default=1.0)
    parser.add_argument("--m2", type=float, default=0.01, help="mass² of the free field (RDM 7.2 at λ = 0)")
    parser.add_argument("--mass", type=float, default=1.0, help="M of the M-modified kernels (RDM 7.1)")
    parser.add_argument("--ts", type=float, nargs="+", default=[0.001, 0.01, 0.1, 0.6])
    args = parser.parse_args()
    grid = Grid((args.N, args.N), length=args.L, symbol="lattice")
    sites = args.N**2
    start = np.linalg.inv(-lattice_laplacian(grid) + args.m2 * np.eye(sites)) / grid.spacing[0] ** 2
    flows = {name: rdm_scheme(name, grid, args.mass) for name in ("carosso-rescaled", "carosso-dilated")}
    probes = {"origin": 0, "centre": (args.N // 2) * args.N + args.N // 2, "far corner": sites - 1}
    previous = {name: (0.0, start) for name in flows}
    for t in sorted(args.ts):
        row = {"t": t}
        for name, process in flows.items():
            before, covariance = previous[name]
            if name == "carosso-dilated":
                damping, noise = process.transition_moments(grid, before, t)
            else:  # 5.50 per mode, mapped to sites column by column
                damping, noise = _spectral_moments(process, grid, before, t)
            covariance = damping @ covariance @ damping.T + noise
            previous[name] = (t, covariance)
            centring = np.eye(sites) - 1.0 / sites  # φ(n) - φ̄
            fluctuation = centring @ covariance @ centring
            variance = np.diag(fluctuation)
            row[name] = {
                **{probe: float(variance[index]) for probe, index in probes.items()},
                "max/min variance": float(variance.max() / variance.min()),
                "G(1)/G(0)": neighbour_correlation(fluctuation, grid.shape),
            }
        print(json.dumps(row))


def _spectral_moments(scheme, grid: Grid, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Φ and Q of a Fourier-diagonal scheme's transition as site matrices: its C̃ and Σ̃ applied to every site's unit field."""
    sites = math.prod(grid.shape)
    step = scheme.transition(grid, start, end, batch=1)
    basis = torch.eye(sites, dtype=torch.float64).reshape(sites, 1, 1, *grid.shape)
    damping = irfft(rfft(basis, 2) * step.damping, grid.shape).reshape(sites, sites).T.numpy()
    noise = irfft(rfft(basis, 2) * step.variance, grid.shape).reshape(sites, sites).T.numpy()
    return damping, noise


if __name__ == "__main__":
    main()
