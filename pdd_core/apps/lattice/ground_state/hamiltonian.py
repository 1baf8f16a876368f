"""The lattice Hamiltonian of RDM Sec. 6 and what is known about it in closed form.

RDM 6.3 / 6.9: on a periodic lattice of N^d sites with spacing ε = L/N,

    H = ε^d ( -½ Δ_φ + F(φ) ),   F(φ) = Σ_n [ ½ κ Σ_i (φ(n+e_i) - φ(n))² + ½ m² φ(n)² + λ φ(n)⁴ ],

with Δ_φ = Σ_n ∂²/∂φ(n)². The hopping weight is κ = g_∇ / ε² (``gradient`` = g_∇), so with
g_∇ = 1 the gradient term is the lattice discretisation of ½(∇φ)² and F is the potential of the
statistical action RDM 4.6 (whose free modes have ω_p² = |p̂|² + m², |p̂|² of RDM 4.27). RDM 6.3
as printed puts (L/N)² in front of the hopping term; we read it as the lattice derivative 1/ε²,
the only choice under which the continuum limit exists (with L = N, ε = 1, the two agree).
``gradient = 0`` decouples the sites: N copies of the single-site oscillator
H₁ = -½ ∂² + ½ m² x² + λ x⁴.

Free theory (λ = 0, m² > 0). In the orthonormal Fourier modes φ̂ (an orthogonal change of
variables, so Δ_φ keeps its form) F = ½ Σ_p k_p |φ̂_p|² with k_p = g_∇ |p̂|² + m², every real
normal coordinate is a harmonic oscillator of frequency ω_p = √k_p, and

    E₀ = ε^d Σ_p ½ ω_p,      Ψ₀ ∝ exp(-½ Σ_p ω_p |φ̂_p|²),
    ⟨φ(0) φ(r)⟩ = N^{-d} Σ_p cos(2π p·r / N) / (2 ω_p)      (p₀ = |Ψ₀|², covariance ½ K^{-1/2}).

In the real orthonormal Fourier basis (cos and sin of every momentum, :func:`real_fourier_modes`)
the coordinates y_i of a sample of p₀ are independent N(0, 1/(2ω_i)), which makes a sharp test of
a learned state (:func:`free_mode_test`): S_i = Σ_samples 2ω_i y_i² ~ χ²(n) for each of the N^d
coordinates, z_i = (S_i - n)/√(2n), and Σ_i z_i² ~ χ²(N^d) (normal approximation of χ²(n), good
for n ≳ 100). It sees every mode's width at the precision the samples allow, where the
two-point function at each separation r mixes all modes.
"""

from __future__ import annotations

import functools
import math

import attrs
import numpy as np
import torch
from scipy import stats

from pdd_core.errors import bad_argument
from pdd_core.grid import Grid


def _check_dimension(instance, attribute, value) -> None:
    if value not in (1, 2):
        raise bad_argument("d", value, "the ground-state lattices are chains (d = 1) or square lattices (d = 2)", "pass d=1 or d=2")


def _check_sites(instance, attribute, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 2:
        raise bad_argument("N", value, "needs an integer number of sites per side >= 2", "pass e.g. N=4")


def _number(value):
    """Numbers become floats; anything else is left for the validator to name."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _is_real(value) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def _check_finite(instance, attribute, value) -> None:
    if not _is_real(value):
        raise bad_argument(attribute.name, value, "must be finite", f"pass a real {attribute.name}")


def _check_non_negative(instance, attribute, value) -> None:
    if not (_is_real(value) and value >= 0):
        raise bad_argument(attribute.name, value, "must be finite and >= 0", f"pass {attribute.name} >= 0")


def _check_positive(instance, attribute, value) -> None:
    if not (_is_real(value) and value > 0):
        raise bad_argument(attribute.name, value, "must be finite and > 0", f"pass {attribute.name} > 0")


@attrs.frozen
class LatticeHamiltonian:
    """H = ε^d (-½ Δ_φ + F(φ)) of RDM 6.9 (module docstring); fields are ``[B, *shape]`` with shape (N,)·d.

    Attributes:
        d: spatial dimension (1 or 2).
        N: sites per side.
        L: side length; the spacing is ε = L / N.
        m2: m², the mass term ½ m² φ².
        lam: λ >= 0, the quartic term λ φ⁴ (RDM 6.3's normalisation, not λ/4!).
        gradient: g_∇ >= 0, the hopping weight in units of 1/ε² (0 decouples the sites).
    """

    d: int = attrs.field(default=1, validator=_check_dimension)
    N: int = attrs.field(default=4, validator=_check_sites)
    L: float = attrs.field(default=4.0, converter=_number, validator=_check_positive)
    m2: float = attrs.field(default=1.0, converter=_number, validator=_check_finite)
    lam: float = attrs.field(default=0.0, converter=_number, validator=_check_non_negative)
    gradient: float = attrs.field(default=1.0, converter=_number, validator=_check_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.lam == 0 and self.mode_curvatures().min() <= 0:
            raise bad_argument("m2", self.m2, "a free theory (lam = 0) needs every k_p = g_∇|p̂|² + m² > 0 to have a ground state", "pass m2 > 0 or lam > 0")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.N,) * self.d

    @property
    def sites(self) -> int:
        return self.N**self.d

    @property
    def spacing(self) -> float:
        """ε = L / N."""
        return self.L / self.N

    @property
    def volume(self) -> float:
        """ε^d, the factor in front of RDM 6.9."""
        return self.spacing**self.d

    @property
    def hopping(self) -> float:
        """κ = g_∇ / ε², the weight of ½ (φ(n+e_i) - φ(n))² in F."""
        return self.gradient / self.spacing**2

    @property
    def grid(self) -> Grid:
        """The periodic lattice, with RDM's lattice symbol |p̂|² (4.27)."""
        return Grid(self.shape, length=self.L, channels=1, symbol="lattice")

    def potential(self, phi: torch.Tensor) -> torch.Tensor:
        """F(φ) ``[B]`` of fields ``[B, *shape]``, differentiable."""
        axes = tuple(range(-self.d, 0))
        hops = sum((torch.roll(phi, -1, dims=axis) - phi).square() for axis in axes)
        square = phi.square()
        return (0.5 * self.hopping * hops + 0.5 * self.m2 * square + self.lam * square.square()).sum(dim=axes)

    def mode_curvatures(self) -> np.ndarray:
        """k_p = g_∇ |p̂|² + m² on the full momentum grid ``shape`` (the free modes' ω_p²)."""
        ns = np.meshgrid(*[np.arange(self.N)] * self.d, indexing="ij")
        p2 = sum(4.0 * np.sin(np.pi * n / self.N) ** 2 for n in ns) / self.spacing**2
        return self.gradient * p2 + self.m2

    def free_ground_energy(self) -> float:
        """E₀ = ε^d Σ_p ½ ω_p of the free theory (module docstring); refuses λ > 0."""
        self._require_free("free_ground_energy")
        return float(self.volume * 0.5 * np.sqrt(self.mode_curvatures()).sum())

    def free_two_point(self) -> np.ndarray:
        """⟨φ(0) φ(r)⟩ in p₀ = |Ψ₀|² of the free theory for every separation r, ``shape``."""
        self._require_free("free_two_point")
        spectrum = 1.0 / (2.0 * np.sqrt(self.mode_curvatures()))
        return np.real(np.fft.ifftn(spectrum))

    def _require_free(self, what: str) -> None:
        if self.lam != 0:
            raise bad_argument("lam", self.lam, f"{what} is the closed form of the free theory", "pass lam=0, or use pdd_core.apps.lattice.ground_state.reference for λ > 0")


@attrs.frozen
class FourierModes:
    """The real orthonormal Fourier basis of a periodic lattice: rows ``basis`` ``[n, n]`` and the momentum index of each ``[n, d]``."""

    basis: torch.Tensor
    momenta: np.ndarray


@functools.lru_cache(maxsize=8)
def real_fourier_modes(shape: tuple[int, ...]) -> FourierModes:
    """The orthonormal real Fourier modes of a periodic lattice of ``shape`` (n sites).

    A momentum equal to its own negative gives one real mode cos(p·x)/√n; every other pair ±p gives
    √(2/n) cos(p·x) and √(2/n) sin(p·x).
    """
    sites = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(-1, len(shape))
    sizes = np.array(shape)
    rows, momenta, seen = [], [], set()
    for momentum in map(tuple, sites):
        partner = tuple((-np.array(momentum)) % sizes)
        if partner in seen:
            continue
        seen.add(momentum)
        phase = 2 * np.pi * (sites * (np.array(momentum) / sizes)).sum(axis=1)
        if partner == momentum:
            rows.append(np.cos(phase) / math.sqrt(len(sites)))
            momenta.append(momentum)
        else:
            rows += [math.sqrt(2 / len(sites)) * np.cos(phase), math.sqrt(2 / len(sites)) * np.sin(phase)]
            momenta += [momentum, momentum]
    return FourierModes(torch.from_numpy(np.stack(rows)), np.array(momenta))


@attrs.frozen
class ModeTest:
    """The χ² test of a sample's mode widths against the free ground state (module docstring)."""

    chi2: float
    dof: int
    p_value: float
    max_abs_z: float
    samples: int

    def to_json(self) -> dict[str, float | int]:
        return {"chi2": self.chi2, "dof": self.dof, "p_value": self.p_value, "max_abs_z": self.max_abs_z, "samples": self.samples}


def free_mode_test(phi: torch.Tensor | np.ndarray, hamiltonian: LatticeHamiltonian) -> ModeTest:
    """Whether samples ``[n, *shape]`` have the free ground state's width in every real Fourier mode, within Monte Carlo error."""
    hamiltonian._require_free("free_mode_test")
    fields = torch.as_tensor(np.asarray(phi.detach().cpu() if isinstance(phi, torch.Tensor) else phi, dtype=np.float64))
    modes = real_fourier_modes(hamiltonian.shape)
    coordinates = fields.reshape(len(fields), -1) @ modes.basis.T  # [n, N^d]
    omega = np.sqrt(hamiltonian.mode_curvatures()[tuple(modes.momenta.T)])
    n = len(fields)
    statistic = (coordinates.square().sum(dim=0).numpy() * 2 * omega - n) / math.sqrt(2 * n)
    chi2 = float(np.square(statistic).sum())
    return ModeTest(chi2, len(statistic), float(stats.chi2.sf(chi2, len(statistic))), float(np.abs(statistic).max()), n)


def two_point(phi: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """⟨φ(0) φ(r)⟩ for every r from samples ``[B, *shape]`` (translation-averaged), and its standard error over samples."""
    fields = np.asarray(phi.detach().cpu() if isinstance(phi, torch.Tensor) else phi, dtype=np.float64)
    axes = tuple(range(1, fields.ndim))
    transform = np.fft.fftn(fields, axes=axes)
    per_sample = np.real(np.fft.ifftn(transform * np.conj(transform), axes=axes)) / math.prod(fields.shape[1:])
    return per_sample.mean(axis=0), per_sample.std(axis=0, ddof=1) / math.sqrt(len(fields))


__all__ = ["FourierModes", "LatticeHamiltonian", "ModeTest", "free_mode_test", "real_fourier_modes", "two_point"]
