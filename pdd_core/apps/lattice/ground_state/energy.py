"""The variational energy of RDM 6.13 for a state Ψ^θ = √p^θ_0 carried by a continuous flow, and its gradient.

With Ψ = e^{-S/2} (RDM 6.10, S = -log p^θ_0 up to a constant) one has
-½ ΔΨ / Ψ = ¼ ΔS - ⅛ |∇S|², so the local energy is

    E_L(φ) = (HΨ)(φ) / Ψ(φ) = ε^d [ ¼ Δ_φ S - ⅛ (∇_φ S)² + F(φ) ],     E = E_{φ~p^θ_0}[E_L]     (6.13).

RDM 6.13 as printed has the coefficients (-½, ¼) of the same two terms; on the harmonic
oscillator (S = x², p = e^{-x²}/√π) those give E = -¼ instead of ½, while the ones above give
the exact ½ with zero variance (tests/apps/test_ground_state.py), so we use these. E_L has zero
variance at an eigenstate, which makes the estimator and its gradient quiet near the optimum.

S and its derivatives are those of the flow's own density: log p^θ_0(φ) is integrated from φ up
to T along the flow (:meth:`ContinuousFlow.log_density`, exact divergence) and differentiated in
φ by autograd. Δ_φ S is exact (one Hessian row per site: one backward pass each, so it is used
up to :data:`EXACT_LAPLACIAN_SITES` sites) or the Hutchinson estimate v^T ∇²S v averaged over a
few probes (one pass each): unbiased, so E stays unbiased and the probes' noise is part of the
spread of E_L and of the reported standard error. The probes are v = U z with z Rademacher and U
the real orthonormal Fourier basis of the lattice (cos and sin of every momentum): E[vvᵀ] = 1
still, and v^T H v = Σ_p z_p² H_pp = tr H exactly whenever H is diagonal in that basis, as the
Hessian of every translation-invariant Gaussian state is; near such a state (the free theory,
weak coupling) the probe noise, which with Rademacher v in the site basis is 2 Σ_{i≠j} H_ij² and
does not vanish at the ground state, all but disappears.

Gradient (RDM below 6.13, ∇_θ e^{-S/2} = e^{-S/2}(-∇_θ S/2)): for a normalised real Ψ,
∇_θ E = 2 E[(E_L - E) ∇_θ log Ψ] = E[(E_L - E) ∇_θ log p^θ_0], so the surrogate
mean((E_L - Ē) · log p^θ_0(φ)) with E_L and φ held fixed has that gradient; the samples need not
be differentiated.
"""

from __future__ import annotations

import math
import sys
from typing import Literal

import attrs
import torch
from tqdm import tqdm

from pdd_core.apps.lattice.flow.cnf import ContinuousFlow
from pdd_core.apps.lattice.ground_state.hamiltonian import LatticeHamiltonian, real_fourier_modes

Laplacian = Literal["exact", "hutchinson"]
EXACT_LAPLACIAN_SITES = 16  # up to this many sites the Laplacian is exact by default, above it Hutchinson


def default_laplacian(hamiltonian: LatticeHamiltonian) -> Laplacian:
    return "exact" if hamiltonian.sites <= EXACT_LAPLACIAN_SITES else "hutchinson"


@attrs.frozen
class LocalEnergy:
    """E_L per sample ``[B]`` and the log density log p^θ_0 of the same samples ``[B]`` (differentiable in θ)."""

    values: torch.Tensor
    log_density: torch.Tensor


def local_energy(
    flow: ContinuousFlow, hamiltonian: LatticeHamiltonian, phi: torch.Tensor, *, laplacian: Laplacian = "exact", probes: int = 1, generator: torch.Generator | None = None
) -> LocalEnergy:
    """E_L(φ) of RDM 6.13 (module docstring) at samples ``phi`` ``[B, *shape]``; ``values`` are detached.

    ``probes``: Rademacher vectors of the Hutchinson Laplacian (ignored when it is exact).
    """
    phi = phi.detach().to(flow.dtype).requires_grad_(True)
    log_density = flow.log_density(phi, 0.0)
    (score,) = torch.autograd.grad(log_density.sum(), phi, create_graph=True)
    flat_score = score.reshape(score.shape[0], -1)
    if laplacian == "exact":
        trace = torch.zeros_like(log_density)
        for site in range(flat_score.shape[1]):
            (row,) = torch.autograd.grad(flat_score[:, site].sum(), phi, retain_graph=True)
            trace = trace + row.reshape(row.shape[0], -1)[:, site]
    elif laplacian == "hutchinson":
        trace = torch.zeros_like(log_density)
        for _ in range(probes):
            probe = fourier_probes(phi.shape, generator, phi.dtype)
            (hessian_probe,) = torch.autograd.grad((score * probe).sum(), phi, retain_graph=True)
            trace = trace + (hessian_probe * probe).reshape(phi.shape[0], -1).sum(dim=1) / probes
    else:
        raise ValueError(f"laplacian must be 'exact' or 'hutchinson', not {laplacian!r}")
    # S = -log p: ΔS = -Δ log p, |∇S|² = |∇ log p|².
    kinetic = -0.25 * trace - 0.125 * flat_score.square().sum(dim=1)
    values = hamiltonian.volume * (kinetic + hamiltonian.potential(phi))
    return LocalEnergy(values.detach(), log_density)


def fourier_probes(shape: torch.Size, generator: torch.Generator | None, dtype: torch.dtype) -> torch.Tensor:
    """Hutchinson probes ``[B, *lattice]``: U z with z Rademacher in the real orthonormal Fourier basis U (module docstring)."""
    basis = real_fourier_modes(tuple(shape[1:])).basis.to(dtype)
    signs = torch.randint(0, 2, (shape[0], basis.shape[0]), generator=generator, dtype=dtype) * 2 - 1
    return (signs @ basis).reshape(shape)


@attrs.frozen
class EnergyEstimate:
    """E = mean of E_L over independent samples, its standard error, the spread of E_L, and how ΔS was taken."""

    energy: float
    stderr: float
    local_std: float
    samples: int
    laplacian: Laplacian
    probes: int

    def to_json(self) -> dict[str, float | int | str]:
        laplacian = self.laplacian if self.laplacian == "exact" else f"hutchinson ({self.probes} Fourier-Rademacher probes per sample)"
        return {"energy": self.energy, "energy_stderr": self.stderr, "local_energy_std": self.local_std, "energy_samples": self.samples, "laplacian": laplacian}


def estimate_energy(
    flow: ContinuousFlow,
    hamiltonian: LatticeHamiltonian,
    n: int,
    generator: torch.Generator,
    *,
    laplacian: Laplacian | None = None,
    probes: int = 4,
    batch: int = 256,
    progress: bool = False,
) -> tuple[EnergyEstimate, torch.Tensor]:
    """The energy 6.13 of the flow's state from ``n`` independent samples, and the samples ``[n, *shape]``.

    ``laplacian``: exact up to :data:`EXACT_LAPLACIAN_SITES` sites by default, else Hutchinson with ``probes`` probes.
    """
    laplacian = laplacian or default_laplacian(hamiltonian)
    values, fields = [], []
    for start in tqdm(range(0, n, batch), desc="energy", unit="batch", file=sys.stderr, disable=not progress):
        with torch.no_grad():
            recorded, _ = flow.sample(min(batch, n - start), generator)
        phi = recorded[0.0]
        values.append(local_energy(flow, hamiltonian, phi, laplacian=laplacian, probes=probes, generator=generator).values)
        fields.append(phi.detach())
    energies = torch.cat(values).to(torch.float64)
    std = float(energies.std()) if n > 1 else math.nan
    return EnergyEstimate(float(energies.mean()), std / math.sqrt(n), std, n, laplacian, probes), torch.cat(fields)


def energy_gradient_surrogate(local: LocalEnergy) -> torch.Tensor:
    """mean((E_L - Ē) log p^θ_0): its θ-gradient is ∇_θ E (module docstring); its value is 0 up to round-off."""
    centred = local.values - local.values.mean()
    return (centred * local.log_density).mean()


__all__ = ["EXACT_LAPLACIAN_SITES", "EnergyEstimate", "default_laplacian", "Laplacian", "LocalEnergy", "energy_gradient_surrogate", "estimate_energy", "fourier_probes", "local_energy"]
