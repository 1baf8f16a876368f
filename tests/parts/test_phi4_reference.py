"""Regression of the phi^4 HMC sampler against independently computed references.

No published table of ⟨|M|⟩ and χ could be consulted offline, so the references are computed
here, by code that shares nothing with the sampler, in the standard hopping parameterisation

    S_h[ϕ] = Σ_n [ -2κ Σ_μ ϕ(n)ϕ(n+μ) + ϕ(n)² + λ_h (ϕ(n)² - 1)² ]        (lattice units)

(e.g. Vierhaus 2010, RDM Ref. [133]), mapped to RDM's parameters (L, N, m², λ, a) of Eq. 4.6 /
7.2 with spacing ε = L/N (docs/rg_flows.md):

    χ = a φ = sqrt(2κ) ϕ,   m² = a² m0² / ε²,   λ = a⁴ λ0 / ε²,
    m0² = (1 - 2λ_h)/κ - 2d,   λ0 = 6 λ_h / κ²                            (d = 2)

so that S_RDM[φ] = S_h[ϕ] - λ_h V. Observables in hopping units: m = N^{-d} Σ_n ϕ(n),
⟨|m|⟩ and χ_h = V (⟨m²⟩ - ⟨|m|⟩²), V = N^d.

* 2 x 2 lattice: exact 4-dimensional quadrature (trapezoid on a uniform grid, spectrally
  accurate for ⟨m²⟩; ~1e-4 relative for ⟨|m|⟩ because of the kink of |m|).
* 4 x 4 lattice: a separately written single-site Metropolis sampler (numpy, checkerboard)
  in the hopping variables.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pdd_core.apps.lattice import Jackknife
from pdd_core.metrics.resampling import estimate_all
from systems.phi4 import LatticePhi4

DIMENSIONS = 2


def rdm_parameters(kappa: float, lam_h: float, length: float, n: int, a: float) -> tuple[dict[str, float], float]:
    """RDM's (L, N, m², λ, a) for hopping (κ, λ_h), and the factor φ = factor · ϕ."""
    spacing = length / n
    m0_squared = (1 - 2 * lam_h) / kappa - 2 * DIMENSIONS
    lam0 = 6 * lam_h / kappa**2
    parameters = {"L": length, "N": n, "a": a, "m2": a**2 * m0_squared / spacing**2, "lam": a**4 * lam0 / spacing**2}
    return parameters, math.sqrt(2 * kappa) / a


def hopping_action(phi: np.ndarray, kappa: float, lam_h: float) -> np.ndarray:
    bonds = sum(phi * np.roll(phi, -1, axis=axis) for axis in (-2, -1))
    return (-2 * kappa * bonds + phi**2 + lam_h * (phi**2 - 1) ** 2).sum(axis=(-2, -1))


def quadrature_2x2(kappa: float, lam_h: float, points: int = 48, half_width: float = 4.0) -> dict[str, float]:
    """Exact ⟨|m|⟩, ⟨m²⟩ of the 2 x 2 periodic lattice by quadrature over ϕ ∈ [-w, w]⁴.

    With N = 2 each bond appears twice in Σ_n Σ_μ ϕ(n)ϕ(n+μ): 2(ab + cd + ac + bd) for sites
    a = (0,0), b = (1,0), c = (0,1), d = (1,1).
    """
    x = np.linspace(-half_width, half_width, points)
    site_weight = np.exp(-(x**2) - lam_h * (x**2 - 1) ** 2)
    b, c, d = np.meshgrid(x, x, x, indexing="ij")
    rest = site_weight[:, None, None] * site_weight[None, :, None] * site_weight[None, None, :]
    totals = np.zeros(3)
    for a_value, a_weight in zip(x, site_weight):
        weight = a_weight * rest * np.exp(4 * kappa * (a_value * b + c * d + a_value * c + b * d))
        m = (a_value + b + c + d) / 4
        totals += [weight.sum(), (weight * np.abs(m)).sum(), (weight * m**2).sum()]
    return {"abs_m": totals[1] / totals[0], "m2": totals[2] / totals[0]}


def metropolis_magnetisation(
    kappa: float, lam_h: float, n: int, chains: int, sweeps: int, thermalisation: int, rng: np.random.Generator, step: float = 1.5
) -> np.ndarray:
    """m after every sweep, ``[chains, sweeps]``: checkerboard single-site Metropolis on S_h."""
    phi = 0.5 * rng.standard_normal((chains, n, n))
    rows, columns = np.indices((n, n))
    colours = [((rows + columns) % 2) == colour for colour in (0, 1)]
    series = np.empty((chains, sweeps))

    def local(value: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
        return -2 * kappa * value * neighbours + value**2 + lam_h * (value**2 - 1) ** 2

    for sweep in range(thermalisation + sweeps):
        for colour in colours:
            neighbours = sum(np.roll(phi, shift, axis=axis) for shift in (1, -1) for axis in (1, 2))
            proposal = phi + step * rng.uniform(-1, 1, phi.shape)
            accept = colour & (np.log(rng.random(phi.shape)) < local(phi, neighbours) - local(proposal, neighbours))
            phi = np.where(accept, proposal, phi)
        if sweep >= thermalisation:
            series[:, sweep - thermalisation] = phi.mean(axis=(1, 2))
    return series


def moments(m: np.ndarray, sites: int, blocks: int) -> dict[str, object]:
    """⟨|m|⟩, ⟨m²⟩ and χ_h = V(⟨m²⟩ - ⟨|m|⟩²) with blocked-jackknife errors (chain-major samples)."""
    primaries = np.stack([np.abs(m), m**2], axis=1)

    def statistic(means: np.ndarray) -> np.ndarray:
        return np.stack([means[..., 0], means[..., 1], sites * (means[..., 1] - means[..., 0] ** 2)], axis=-1)

    return estimate_all(primaries, statistic, ("abs_m", "m2", "chi"), Jackknife(n_blocks=blocks))


def hmc_magnetisation(parameters: dict[str, float], factor: float, hmc: dict[str, float], chains: int, frames: int, seed: int) -> np.ndarray:
    """Chain-major m = N^{-d} Σ ϕ of the HMC frames, converted to hopping units."""
    system = LatticePhi4(**parameters, **hmc)
    rng = np.random.default_rng(seed)
    # Start near φ = 0: with a strong quartic term in lattice units, initial_state's N(0, 1)
    # sites can make every leapfrog trajectory diverge, so such a chain would never move.
    start = 0.1 * system.initial_state(chains, rng)
    state = system.run_chain(start, max(1, system.thermalisation_trajectories // system.trajectories_per_frame), rng).state
    run = system.run_chain(state, frames, rng)
    return run.frames.mean(axis=(2, 3, 4)).reshape(-1) / factor


def test_mapping_turns_the_rdm_action_into_the_hopping_action():
    rng = np.random.default_rng(0)
    for kappa, lam_h, length, n, a in [(0.3, 0.5, 1.0, 4, 1.0), (0.22, 0.02, 3.0, 6, 1.7)]:
        parameters, factor = rdm_parameters(kappa, lam_h, length, n, a)
        system = LatticePhi4(**parameters)
        phi_h = rng.normal(size=(5, n, n))
        assert np.allclose(system.action(factor * phi_h), hopping_action(phi_h, kappa, lam_h) - lam_h * n * n, rtol=1e-12, atol=1e-10)


def test_quadrature_is_converged():
    coarse, fine = quadrature_2x2(0.3, 0.5, points=40, half_width=3.5), quadrature_2x2(0.3, 0.5, points=56, half_width=4.5)
    assert coarse["m2"] == pytest.approx(fine["m2"], rel=1e-9)
    assert coarse["abs_m"] == pytest.approx(fine["abs_m"], rel=1e-4)


@pytest.mark.parametrize(("kappa", "lam_h"), [(0.3, 0.5), (0.5, 0.1)])
def test_hmc_matches_exact_quadrature_on_the_2x2_lattice(kappa, lam_h):
    parameters, factor = rdm_parameters(kappa, lam_h, length=1.0, n=2, a=1.0)
    hmc = {"step_size": 0.25, "leapfrog_steps": 6, "trajectories_per_frame": 2, "thermalisation_trajectories": 40}
    m = hmc_magnetisation(parameters, factor, hmc, chains=32, frames=1000, seed=1)
    exact = quadrature_2x2(kappa, lam_h)
    sites = 4
    exact["chi"] = sites * (exact["m2"] - exact["abs_m"] ** 2)
    measured = moments(m, sites, blocks=64)
    for name, value in exact.items():
        assert measured[name].error < 0.04 * value, name
        assert abs(measured[name].value - value) < 4 * measured[name].error, (kappa, lam_h, name, measured[name], value)


def test_hmc_matches_an_independent_metropolis_sampler_on_the_4x4_lattice():
    kappa, lam_h, n = 0.3, 0.5, 4
    parameters, factor = rdm_parameters(kappa, lam_h, length=1.0, n=n, a=1.5)
    hmc = {"step_size": 0.15, "leapfrog_steps": 12, "trajectories_per_frame": 2, "thermalisation_trajectories": 100}
    chains = 32
    hmc_moments = moments(hmc_magnetisation(parameters, factor, hmc, chains=chains, frames=400, seed=2), n * n, blocks=64)
    metropolis = metropolis_magnetisation(kappa, lam_h, n, chains=64, sweeps=3000, thermalisation=200, rng=np.random.default_rng(3))
    metropolis_moments = moments(metropolis.reshape(-1), n * n, blocks=64)
    for name in ("abs_m", "chi"):
        first, second = hmc_moments[name], metropolis_moments[name]
        combined = math.hypot(first.error, second.error)
        assert combined < 0.03 * second.value, name
        assert abs(first.value - second.value) < 4 * combined, (name, first, second)
