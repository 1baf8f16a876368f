"""Lattice field theory estimators of RDM Sec. 7.2 (Eqs. 7.3-7.11) on samples of 2D fields.

Conventions (RDM Eqs. 5.11, 5.13, 7.2). Fields φ(n) live on an N x N periodic lattice of side
L (spacing ε = L/N). Every momentum-space quantity here uses RDM's transform

    φ̃(p) = N^{-d} Σ_n e^{-2πi p·n/N} φ(n)                                        (5.11)

i.e. ``numpy.fft.fftn(φ) / N**d``. The orthonormal modes of :mod:`pdd_core.spectral` and of
the schemes are φ̂(p) = N^{d/2} φ̃(p), so a two-point function in RDM normalisation is the
orthonormal one divided by N^d. For the free field of RDM 7.2 (λ = 0),
⟨φ̃(p)φ̃(-p)⟩ = 1 / (L^d (|p̂|² + m²)) with |p̂|² the grid's symbol (5.13 on lattice grids).

Estimators (d = 2, the setting of RDM Sec. 7):

* G̃2(p, -p) = ⟨φ̃(p)φ̃(-p)⟩ = ⟨|φ̃(p)|²⟩ (7.5) and the connected 4-point function (7.6)
  G̃4c(p1..p4) = ⟨φ̃1φ̃2φ̃3φ̃4⟩ - ⟨φ̃1φ̃2⟩⟨φ̃3φ̃4⟩ - ⟨φ̃1φ̃3⟩⟨φ̃2φ̃4⟩ - ⟨φ̃1φ̃4⟩⟨φ̃2φ̃3⟩;
  Eq. 7.10 uses it at p = 0, where it is ⟨φ̃(0)⁴⟩ - 3⟨φ̃(0)²⟩².
* Effective cutoff (7.3-7.4) of the M-modified schemes: Λ_t = max{min{sqrt(1/t - M²), Λ0}, 0},
  r_t = Λ_t / Λ0 with Λ0 = 2 sqrt(d) N / L (RDM below 5.26, 5.38); Λ_t = 0 once t >= 1/M².
* Masses (7.7-7.8). With G̃2(p,-p) ≈ Z / (|p̂|² + r_t² m_R²) (7.7) on the four lowest momenta
  p ∈ {±e1, ±e2}, |p̂|² = (4N²/L²) sin²(π/N),

      ξ_phys² := ¼ Σ_p (G̃2(0,0)/G̃2(p,-p) - 1) / |p̂|²,   ξ² = 1/m_R² = r_t² ξ_phys²    (7.8)

  so m_phys = 1/ξ_phys = r_t m_R is the renormalised mass in the unrescaled units of the
  flowed theory, and m_R the mass after RDM's rescaling p -> r_t p. Eq. 7.8 prints the
  prefactor as r_t²/(4L²); RDM uses L = 1, where that equals the dimensionally consistent
  r_t²/4 used here (ξ a length for any L). m_R is undefined (reported as None) where r_t = 0,
  and wherever the estimate of ξ_phys² is not positive.
* Z (7.9): Z = L^d r_t² m_R² G̃2(0,0) = L^d m_phys² G̃2(0,0). Eq. 7.7 omits the L^d that the
  free field's G̃2 = 1/(L^d(|p̂|²+m²)) carries; with it Z = 1 for a free field at any L
  (RDM's L = 1 makes the two identical).
* λ_R (7.10) exactly as printed: λ_R = -r_t² (r_t m_R L)² G̃4c(0,0,0,0) / G̃2(0,0), written
  with r_t m_R = m_phys so it stays finite at r_t = 0; ``r2_lambda_R`` = r_t² λ_R is what
  RDM's Fig. 6 plots. Since 7.10 divides by G̃2 once, it scales with the field normalisation;
  the standard dimensionless coupling of RDM's Ref. [132] (Wolff),
  g_R = -(m_phys L)^d G̃4c(0,0,0,0) / G̃2(0,0)² (= λ/m² at tree level in d = 2), is reported as
  ``g_R`` alongside.
* max|φ| (7.11): the sample mean of max_n |φ(n)|.

Errors come from a resampler of :mod:`pdd_core.metrics.resampling` (blocked jackknife or
block bootstrap), applied to the per-sample primaries so non-linear estimators get
correct errors.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import attrs
import numpy as np
import torch

from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.metrics.resampling import Estimate, Resampler, check_resampler, estimate_all, mean_estimate
from pdd_core.validation import check_positive

DIMENSIONS = 2
# p ∈ {(1,0), (0,1), (-1,0), (0,-1)}: the momenta of RDM Eq. 7.8.
LOWEST_MOMENTA: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (-1, 0), (0, -1))
ZERO_MOMENTUM = (0, 0)
# Names of the derived quantities of :func:`renormalised_quantities`, in statistic order.
QUANTITIES: tuple[str, ...] = ("G2_0", "G2_p1", "G4c_0", "xi", "m_phys", "m_R", "Z", "lambda_R", "r2_lambda_R", "g_R", "max_abs_phi")


def check_schedule(grid: Grid) -> Grid:
    """Require a 2D single-channel grid (the lattice of RDM Sec. 7)."""
    if not isinstance(grid, Grid):
        raise bad_argument("grid", grid, "expected a pdd_core.grid.Grid", "pass the system's grid, e.g. LatticePhi4().grid", kind=DTypeError)
    if grid.ndim != DIMENSIONS or grid.channels != 1:
        problem = "the lattice estimators need a 2D single-channel grid (RDM Sec. 7)"
        raise bad_argument("grid", grid, problem, "pass a Grid((N, N), length=L, symbol='lattice')", kind=ShapeError)
    return grid


def field_array(samples: Any, grid: Grid, name: str = "samples") -> np.ndarray:
    """Samples ``[n, N, N]`` or ``[n, 1, ..., 1, N, N]`` (NumPy or torch) as float64 ``[n, N, N]``."""
    check_schedule(grid)
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().cpu().numpy()
    if not isinstance(samples, np.ndarray) or samples.dtype.kind != "f":
        described = samples.dtype if isinstance(samples, np.ndarray) else type(samples).__name__
        raise bad_argument(name, described, "expected a real float NumPy array or torch tensor", f"pass {name} shaped [n, N, N]", kind=DTypeError)
    middle = samples.shape[1:-2]
    if samples.ndim < 3 or samples.shape[-2:] != grid.shape or any(size != 1 for size in middle):
        expected = f"expected [n, {grid.shape[0]}, {grid.shape[1]}] or [n, 1, 1, *{grid.shape}]"
        raise bad_argument(f"{name}.shape", samples.shape, expected, "pass field samples on this grid", kind=ShapeError)
    if samples.shape[0] < 2:
        raise bad_argument(f"{name}.shape", samples.shape, "need at least 2 samples for an error estimate", "pass more samples", kind=ShapeError)
    if not np.isfinite(samples).all():
        raise bad_argument(name, "array with NaN/inf", "field samples must be finite", "check the sampler or the flow that produced them")
    return np.ascontiguousarray(samples.reshape(samples.shape[0], *grid.shape), dtype=np.float64)


def rdm_fourier(fields: np.ndarray) -> np.ndarray:
    """φ̃(p) = N^{-d} Σ_n e^{-2πi p·n/N} φ(n) (RDM 5.11) of ``[n, N, N]`` fields, fftn layout."""
    return np.fft.fftn(fields, axes=(-2, -1)) / (fields.shape[-2] * fields.shape[-1])


def momentum_squared(grid: Grid, momentum: tuple[int, int]) -> float:
    """|p̂|² of an integer momentum p in the grid's symbol (RDM 5.13 on lattice grids)."""
    k2 = grid.k2(torch.float64)
    rows, columns = grid.shape
    column = momentum[1] % columns
    return float(k2[momentum[0] % rows, min(column, columns - column)])


def _mode(fourier: np.ndarray, momentum: tuple[int, int]) -> np.ndarray:
    return fourier[:, momentum[0] % fourier.shape[1], momentum[1] % fourier.shape[2]]


def _check_momenta(momenta: Any, count: int, name: str) -> tuple[tuple[int, int], ...]:
    try:
        values = tuple((int(p[0]), int(p[1])) for p in momenta)
        exact = all(len(p) == DIMENSIONS and all(float(x) == int(x) for x in p) for p in momenta)
    except (TypeError, ValueError, IndexError):
        values, exact = (), False
    if len(values) != count or not exact:
        raise bad_argument(name, momenta, f"expected {count} integer momenta (p1, p2)", f"pass e.g. {name}={((0, 0),) * count}")
    return values


@attrs.frozen
class EffectiveCutoff:
    """Λ_t and r_t = Λ_t/Λ0 of the M-modified Carosso and Polchinski schemes (RDM 7.3-7.4)."""

    t: float
    mass: float
    cutoff0: float
    cutoff: float
    ratio: float


def effective_cutoff(t: float, mass: float, grid: Grid) -> EffectiveCutoff:
    """Λ_t = max{min{sqrt(1/t - M²), Λ0}, 0} (7.3) and r_t = Λ_t / Λ0 (7.4), Λ0 = 2 sqrt(d) N / L.

    At t = 0, Λ_t = Λ0; for t >= 1/M² the square root has no real value and Λ_t = 0.
    """
    check_schedule(grid)
    check_positive("t", t, allow_zero=True)
    check_positive("mass", mass, allow_zero=True)
    cutoff0 = math.sqrt(sum((2.0 * n / length) ** 2 for n, length in zip(grid.shape, grid.lengths)))
    if t == 0:
        cutoff = cutoff0
    else:
        inverse = 1.0 / t - mass**2
        cutoff = min(math.sqrt(inverse), cutoff0) if inverse > 0 else 0.0
    return EffectiveCutoff(t=float(t), mass=float(mass), cutoff0=cutoff0, cutoff=cutoff, ratio=cutoff / cutoff0)


def two_point(samples: Any, grid: Grid, momentum: tuple[int, int], resampler: Resampler) -> Estimate:
    """G̃2(p, -p) = ⟨φ̃(p)φ̃(-p)⟩ = ⟨|φ̃(p)|²⟩ in RDM normalisation (7.5)."""
    (momentum,) = _check_momenta((momentum,), 1, "momentum")
    fourier = rdm_fourier(field_array(samples, grid))
    return mean_estimate(np.abs(_mode(fourier, momentum)) ** 2, resampler)


def connected_four_point(samples: Any, grid: Grid, momenta: Any, resampler: Resampler) -> Estimate:
    """Real part of G̃4c(p1, p2, p3, p4) of RDM Eq. 7.6 (the imaginary part vanishes by symmetry)."""
    p = _check_momenta(momenta, 4, "momenta")
    fourier = rdm_fourier(field_array(samples, grid))
    modes = [_mode(fourier, momentum) for momentum in p]
    pairs = ((0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (1, 2))
    primaries = np.stack([modes[0] * modes[1] * modes[2] * modes[3], *(modes[i] * modes[j] for i, j in pairs)], axis=1)

    def statistic(means: np.ndarray) -> np.ndarray:
        pair = [means[..., 1 + index] for index in range(6)]
        return (means[..., 0] - pair[0] * pair[1] - pair[2] * pair[3] - pair[4] * pair[5]).real

    return estimate_all(primaries, statistic, ("G4c",), check_resampler(resampler))["G4c"]


def max_abs_field(samples: Any, grid: Grid, resampler: Resampler) -> Estimate:
    """⟨max_n |φ(n)|⟩, RDM's diagnostic of field excursions (7.11)."""
    fields = field_array(samples, grid)
    return mean_estimate(np.abs(fields).max(axis=(1, 2)), resampler)


def position_two_point(fields: np.ndarray) -> np.ndarray:
    """Per-sample translation-averaged ⟨φ(n)φ(n + r e_i)⟩, averaged over both axes, r = 0..N//2.

    ``fields`` is ``[n, N, N]`` (square); returns ``[n, N//2 + 1]``. This is the position-space
    2-point function that RDM's rescaling heuristics (5.53, 5.55) compare.
    """
    rows, columns = fields.shape[-2:]
    if rows != columns:
        raise bad_argument("fields.shape", fields.shape, "position-space 2-point functions need a square lattice", "pass N x N fields", kind=ShapeError)
    spectrum = np.fft.fft2(fields)
    correlation = np.fft.ifft2(spectrum * spectrum.conj()).real / (rows * columns)
    separations = np.arange(rows // 2 + 1)
    return 0.5 * (correlation[:, separations, 0] + correlation[:, 0, separations])


def renormalisation_primaries(fields: np.ndarray) -> np.ndarray:
    """Per-sample ``[n, 7]``: φ̃(0)², |φ̃(p)|² on the four momenta of 7.8, φ̃(0)⁴, max|φ|."""
    fourier = rdm_fourier(fields)
    zero = _mode(fourier, ZERO_MOMENTUM).real
    lowest = [np.abs(_mode(fourier, momentum)) ** 2 for momentum in LOWEST_MOMENTA]
    return np.stack([zero**2, *lowest, zero**4, np.abs(fields).max(axis=(1, 2))], axis=1)


def renormalisation_statistic(grid: Grid, ratio: float):
    """f(means) -> the :data:`QUANTITIES` of RDM 7.5-7.11 from the means of the primaries."""
    p_hat_squared = np.array([momentum_squared(grid, momentum) for momentum in LOWEST_MOMENTA])
    volume = math.prod(grid.lengths)
    length_squared = volume ** (2.0 / DIMENSIONS)

    def statistic(means: np.ndarray) -> np.ndarray:
        g0, gp, quartic, excursion = means[..., 0], means[..., 1:5], means[..., 5], means[..., 6]
        connected = quartic - 3.0 * g0**2
        with np.errstate(divide="ignore", invalid="ignore"):
            xi_phys_squared = ((g0[..., None] / gp - 1.0) / p_hat_squared).mean(axis=-1)
            m_phys = np.where(xi_phys_squared > 0, 1.0 / np.sqrt(np.abs(xi_phys_squared)), np.nan)
            xi = np.where(xi_phys_squared >= 0, ratio * np.sqrt(np.abs(xi_phys_squared)), np.nan)
            m_r = m_phys / ratio if ratio > 0 else np.full_like(m_phys, np.nan)
            z = volume * g0 / xi_phys_squared
            lambda_r = -(ratio**2) * length_squared * connected / (g0 * xi_phys_squared)
            g_r = -length_squared * connected / (g0**2 * xi_phys_squared)
        return np.stack([g0, gp.mean(axis=-1), connected, xi, m_phys, m_r, z, lambda_r, ratio**2 * lambda_r, g_r, excursion], axis=-1)

    return statistic


def renormalised_quantities(samples: Any, grid: Grid, t: float, mass: float, resampler: Resampler) -> dict[str, Estimate]:
    """All estimators of RDM 7.5-7.11 at flow time t (module docstring), keyed by :data:`QUANTITIES`.

    Values that are undefined for these samples (m_R at r_t = 0, masses when ξ² <= 0) carry
    NaN and serialise to ``None`` via :meth:`Estimate.to_json`.
    """
    fields = field_array(samples, grid)
    cutoff = effective_cutoff(t, mass, grid)
    return estimate_all(renormalisation_primaries(fields), renormalisation_statistic(grid, cutoff.ratio), QUANTITIES, check_resampler(resampler))


@attrs.frozen
class FlowPoint:
    """The estimators of RDM 7.3-7.11 at one flow time t."""

    t: float
    cutoff: EffectiveCutoff
    estimates: dict[str, Estimate]

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "Lambda_t": self.cutoff.cutoff,
            "r_t": self.cutoff.ratio,
            "estimates": {name: estimate.to_json() for name, estimate in self.estimates.items()},
        }


def flow_estimators(samples_by_t: Mapping[float, Any], grid: Grid, mass: float, resampler: Resampler) -> list[FlowPoint]:
    """Estimators along a flow: ``{t: samples [n, N, N]}`` -> one :class:`FlowPoint` per t, sorted by t.

    The samples at each t may come from an exact flow (:func:`pdd_core.apps.lattice.rg_flow.flow_samples`)
    or from a learned model; only their values matter.
    """
    if not isinstance(samples_by_t, Mapping) or not samples_by_t:
        problem = "expected a non-empty {t: samples} mapping"
        raise bad_argument("samples_by_t", type(samples_by_t).__name__, problem, "pass e.g. flow_samples(...)", kind=DTypeError)
    points = []
    for t in sorted(samples_by_t):
        check_positive("t", t, allow_zero=True)
        estimates = renormalised_quantities(samples_by_t[t], grid, t, mass, resampler)
        points.append(FlowPoint(t=float(t), cutoff=effective_cutoff(t, mass, grid), estimates=estimates))
    return points


__all__ = [
    "EffectiveCutoff",
    "FlowPoint",
    "LOWEST_MOMENTA",
    "QUANTITIES",
    "connected_four_point",
    "effective_cutoff",
    "field_array",
    "flow_estimators",
    "max_abs_field",
    "momentum_squared",
    "position_two_point",
    "rdm_fourier",
    "renormalisation_primaries",
    "renormalisation_statistic",
    "renormalised_quantities",
    "two_point",
]
