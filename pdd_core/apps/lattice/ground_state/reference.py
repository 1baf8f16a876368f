"""Reference ground-state energies by exact diagonalisation, for the Hamiltonians no closed form covers.

* one site, H₁ = -½ ∂² + ½ m² x² + λ x⁴: the second-order finite-difference Hamiltonian on a fine
  uniform grid of [-X, X] (Dirichlet), lowest eigenvalue of a tridiagonal matrix
  (``scipy.linalg.eigh_tridiagonal``), with one Richardson step h → h/2 (error O(h⁴));
* a chain (d = 1) of N sites: H in the product basis of the first ``basis`` harmonic-oscillator
  states of every site, lowest eigenvalue by Lanczos (``scipy.sparse.linalg.eigsh``) on a matrix-free
  operator. The truncated H is H restricted to a subspace, so its lowest eigenvalue is an upper
  bound of E₀ (Rayleigh-Ritz) that decreases to E₀ as ``basis`` grows. The oscillator frequency of
  the basis is the self-consistent (Hartree) one, ω² = m² + 2κ + 12 λ ⟨x²⟩ with ⟨x²⟩ = 1/(2ω).
  Memory and time grow as basis^N: :data:`MAX_STATES` states is where it stops being feasible here.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import LinearOperator, eigsh

from pdd_core.apps.lattice.ground_state.hamiltonian import LatticeHamiltonian
from pdd_core.errors import bad_argument

MAX_STATES = 2_000_000  # basis^N above this needs more than ~1 GiB of Lanczos vectors


def single_site_energy(m2: float, lam: float, *, points: int = 8000, half_width: float | None = None) -> float:
    """E₀ of H₁ = -½ ∂² + ½ m² x² + λ x⁴ (module docstring), accurate to ~1e-9 relative at the defaults."""
    if lam == 0 and m2 <= 0:
        raise bad_argument("m2", m2, "the oscillator without a quartic term needs m2 > 0", "pass m2 > 0 or lam > 0")
    width = half_width if half_width is not None else _classical_extent(m2, lam)

    def lowest(n: int) -> float:
        x = np.linspace(-width, width, n + 2)[1:-1]
        h = x[1] - x[0]
        diagonal = 1.0 / h**2 + 0.5 * m2 * x**2 + lam * x**4
        return float(eigh_tridiagonal(diagonal, np.full(n - 1, -0.5 / h**2), select="i", select_range=(0, 0), eigvals_only=True)[0])

    coarse, fine = lowest(points), lowest(2 * points + 1)  # the fine grid halves h exactly
    return (4 * fine - coarse) / 3


def _classical_extent(m2: float, lam: float) -> float:
    """A box half-width far outside the ground state: where the potential reaches 60 (e^{-2√(2·60)} ~ 1e-10 tails)."""
    x = 1.0
    while 0.5 * m2 * x**2 + lam * x**4 < 60:
        x *= 1.2
    return x


@attrs.frozen
class ChainReference:
    """Lowest eigenvalue of the truncated chain Hamiltonian, and how it was obtained."""

    energy: float
    basis: int
    states: int
    omega: float


def chain_energy(hamiltonian: LatticeHamiltonian, basis: int) -> ChainReference:
    """E₀ of a d = 1 ``hamiltonian`` in ``basis`` oscillator states per site (module docstring); an upper bound that converges."""
    if hamiltonian.d != 1:
        raise bad_argument("d", hamiltonian.d, "the truncated-basis reference is built for chains", "pass d=1 (for d = 2 use the free theory's closed form)")
    if not isinstance(basis, int) or basis < 2:
        raise bad_argument("basis", basis, "needs >= 2 oscillator states per site", "pass e.g. basis=8")
    states = basis**hamiltonian.N
    if states > MAX_STATES:
        raise bad_argument("basis", basis, f"{basis}^{hamiltonian.N} = {states} states exceed the {MAX_STATES} that fit here", "lower basis or N")
    omega = hartree_frequency(hamiltonian)
    onsite, position = _site_operators(hamiltonian, basis, omega)
    shape, n = (basis,) * hamiltonian.N, hamiltonian.N

    def apply(vector: np.ndarray) -> np.ndarray:
        psi = vector.reshape(shape)
        out = np.zeros_like(psi)
        for site in range(n):
            out += np.moveaxis(np.tensordot(onsite, psi, axes=([1], [site])), 0, site)
        # -κ Σ_n x_n x_{n+1 mod N}: for N = 2 the two bonds join the same pair, as in F.
        for site in range(n):
            moved = np.moveaxis(np.tensordot(position, psi, axes=([1], [site])), 0, site)
            out -= hamiltonian.hopping * np.moveaxis(np.tensordot(position, moved, axes=([1], [(site + 1) % n])), 0, (site + 1) % n)
        return hamiltonian.volume * out.reshape(vector.shape)

    operator = LinearOperator((states, states), matvec=apply, dtype=np.float64)
    start = np.zeros(shape)
    start[(0,) * n] = 1.0  # the harmonic product ground state: overlaps the true one
    value = eigsh(operator, k=1, which="SA", v0=start.ravel() + 1e-3, tol=1e-10)[0][0]
    return ChainReference(float(value), basis, states, omega)


def hartree_frequency(hamiltonian: LatticeHamiltonian) -> float:
    """ω with ω² = m² + 2κ + 12 λ/(2ω) (the self-consistent Gaussian frequency of one site in its neighbours' mean field)."""
    base = hamiltonian.m2 + 2 * hamiltonian.hopping
    omega = math.sqrt(max(base, 0.0) + 1.0)
    for _ in range(200):
        omega = math.sqrt(max(base + 6 * hamiltonian.lam / omega, 1e-6))
    return omega


def _site_operators(hamiltonian: LatticeHamiltonian, basis: int, omega: float) -> tuple[np.ndarray, np.ndarray]:
    """(h₁, x) on one site in ``basis`` oscillator states of frequency ω: h₁ = -½∂² + ½(m² + 2κ)x² + λx⁴ and x.

    Built in basis + 4 states and cut, so the kept block of x² and x⁴ is exact (x moves one level).
    """
    size = basis + 4
    lowering = np.diag(np.sqrt(np.arange(1, size)), 1)
    x = (lowering + lowering.T) / math.sqrt(2 * omega)
    momentum_square = -0.5 * omega * (lowering.T - lowering) @ (lowering.T - lowering)
    x2 = x @ x
    onsite = 0.5 * momentum_square + 0.5 * (hamiltonian.m2 + 2 * hamiltonian.hopping) * x2 + hamiltonian.lam * x2 @ x2
    return onsite[:basis, :basis], x[:basis, :basis]


__all__ = ["MAX_STATES", "ChainReference", "chain_energy", "hartree_frequency", "single_site_energy"]
