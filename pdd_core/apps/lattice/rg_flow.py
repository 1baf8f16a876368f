"""Exact forward RG flows of lattice samples and the scheme comparison of RDM 5.53-5.55.

Flows (RDM Sec. 7.3, Fig. 6). Given samples φ_0 of the UV theory and a Fourier-diagonal
scheme (e.g. the M-modified Carosso kernel 5.20 or Polchinski kernel 5.41 with 5.42),
:func:`iter_flow` draws one stochastic path per sample through the requested times
0 <= t_1 < t_2 < ...: φ_{t_1} ~ p_{t_1,0}(· | φ_0) by ``scheme.forward_sample`` and then
φ_{t_{i+1}} ~ p_{t_{i+1},t_i}(· | φ_{t_i}) by ``scheme.transition``, i.e.
φ̂_{t_{i+1}} = C̃ φ̂_{t_i} + sqrt(Σ̃) ε̂ per orthonormal mode. Because the schemes are Markov,
each φ_{t_i} is an exact draw of the flowed distribution p_{t_i}, and the draws at different
t are the same path, as in RDM's flows.

Scheme comparison (RDM 5.54-5.55). Universality suggests two schemes' flows of the same
p_0 are related at equal t by a field rescaling, p^(1)_t(φ) dφ ≈ p^(2)_t(cφ) c dφ (5.54),
and c is read off the 2-point functions, E^(1)[φ(n)φ(m)] ≈ c^{-2} E^(2)[φ(n)φ(m)] (5.55).
We use the translation-averaged G(r) = ⟨φ(n)φ(n + r e_i)⟩ at separations r = 0..N/2 and the
least-squares solution of G^(2)(r) ≈ c² G^(1)(r),

    c² = Σ_r G^(1)(r) G^(2)(r) / Σ_r G^(1)(r)²,

then compare the flows after rescaling: the estimators of φ^(2)/c (5.54: if φ ~ p^(2) then
φ/c ~ p^(1)) against those of φ^(1). Rescaling by 1/c divides each estimator by c to the
power of the fields it contains (:data:`FIELD_POWERS`), inside the same resampling, so the
errors include the uncertainty of c. The relation (5.55) is approximate; ``residual`` reports
max_r |c² G^(1)(r) - G^(2)(r)| / max_r |G^(2)(r)| at each t.

The c_t-modified SDE 5.50 with an a-priori c_t = e^{g t} is the scheme ``carosso-rescaled``
(:class:`schemes.rescaled_carosso.RescaledCarosso`); ``pdd rg-flow --compare`` records its c_t
beside the fitted c. The within-scheme heuristic (5.53) is :func:`within_scheme_rescaling`: it
fits b between samples of p_{t*+δt'} and samples at t* of the theory whose couplings are
rescaled by (Λ_{t*+δt'}/Λ_{t*})^{d+δ_i} (:func:`cutoff_ratio`; for lattice φ⁴
``LatticePhi4.with_couplings_rescaled``). The explicit p_{t*,{λ_i}} that 5.53 assumes is not
available, so the rescaled couplings are applied to the UV theory, which is then flowed to t*.
The Λ_t-modified SDE 5.51 adds a dilatation x·Dφ(n), which is not translation invariant on a periodic
lattice, so it has no per-mode kernel: :class:`~pdd_core.apps.lattice.dilated_carosso.DilatedCarosso`
draws its transitions in position space (``advance``), and :func:`iter_flow` takes it as it takes a scheme.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Mapping, Sequence

import attrs
import numpy as np
import torch

from pdd_core.apps.lattice.estimators import QUANTITIES, effective_cutoff, field_array, position_two_point, renormalisation_primaries, renormalisation_statistic
from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.metrics.resampling import Estimate, Resampler, check_resampler, estimate_all
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import check_generator

# How many powers of φ each estimator of QUANTITIES contains: it scales as c^{-power} under φ -> φ/c.
FIELD_POWERS: dict[str, int] = {
    "G2_0": 2, "G2_p1": 2, "G4c_0": 4, "xi": 0, "m_phys": 0, "m_R": 0, "Z": 2, "lambda_R": 2, "r2_lambda_R": 2, "g_R": 0, "max_abs_phi": 1,
}  # fmt: skip


def check_times(ts: Any) -> list[float]:
    """Flow times as a sorted list of distinct finite floats >= 0."""
    try:
        values = sorted({float(t) for t in ts})
    except (TypeError, ValueError):
        raise bad_argument("ts", ts, "expected a sequence of numbers", "pass flow times, e.g. ts=[0, 0.01, 0.1, 1]") from None
    if not values or not all(math.isfinite(t) and t >= 0 for t in values):
        raise bad_argument("ts", ts, "flow times must be a non-empty set of finite numbers >= 0", "pass e.g. ts=[0, 0.01, 0.1, 1]")
    return values


def _check_scheme(scheme: Any) -> None:
    spectral = callable(getattr(scheme, "transition", None)) and callable(getattr(scheme, "forward_sample", None))
    if not (spectral or callable(getattr(scheme, "advance", None))):
        problem = "expected an RG scheme with transition() and forward_sample(), or a position-space process with advance()"
        raise bad_argument("scheme", scheme, problem, "pass e.g. schemes.Carosso(alpha=1, beta=..., mass=1)", kind=DTypeError)


def _transition_sample(fields: torch.Tensor, scheme: Any, grid: Grid, lam_a: float, lam_b: float, generator: torch.Generator) -> torch.Tensor:
    """One draw of p_{b,a}(· | φ_a): C̃_ab φ̂_a + sqrt(Σ̃_ab) ε̂ per orthonormal mode."""
    step = scheme.transition(grid, lam_a, lam_b, batch=1)
    noise = torch.randn(fields.shape, generator=generator, dtype=fields.dtype)
    return irfft(rfft(fields, grid.ndim) * step.damping + rfft(noise, grid.ndim) * step.variance.sqrt(), grid.shape)


def _advance(fields: torch.Tensor, scheme: Any, grid: Grid, start: float, end: float, generator: torch.Generator) -> torch.Tensor:
    """One draw of p_{end,start}(· | φ_start): a position-space process's own ``advance`` (RDM 5.51), else the per-mode kernel."""
    if callable(getattr(scheme, "advance", None)):
        return scheme.advance(fields, grid, start, end, generator)
    if start == 0.0:
        return scheme.forward_sample(fields, grid, end, generator)
    return _transition_sample(fields, scheme, grid, start, end, generator)


def iter_flow(samples: Any, scheme: Any, grid: Grid, ts: Sequence[float], generator: torch.Generator) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(t, fields [n, N, N])`` along one exact stochastic flow path per sample (module docstring)."""
    fields = torch.from_numpy(field_array(samples, grid))[:, None, None]
    times = check_times(ts)
    _check_scheme(scheme)
    check_generator(generator)
    previous = 0.0
    for t in times:
        if t > previous:
            fields = _advance(fields, scheme, grid, previous, t, generator)
        yield t, fields[:, 0, 0].numpy().copy()
        previous = t


def flow_samples(samples: Any, scheme: Any, grid: Grid, ts: Sequence[float], generator: torch.Generator) -> dict[float, np.ndarray]:
    """``{t: fields [n, N, N]}``: the samples flowed by the scheme's exact kernel to every t in ``ts``."""
    return dict(iter_flow(samples, scheme, grid, ts, generator))


def _rescaling_squared(correlations: np.ndarray, separations: int) -> np.ndarray:
    """c² = Σ_r G1 G2 / Σ_r G1² from means ``[..., 2R (+ more)]`` laid out as [G1(r), G2(r), ...]."""
    reference, other = correlations[..., :separations], correlations[..., separations : 2 * separations]
    return (reference * other).sum(axis=-1) / (reference**2).sum(axis=-1)


@attrs.frozen
class ComparisonPoint:
    """Scheme 2 against scheme 1 at one t (RDM 5.54-5.55)."""

    t: float
    c: Estimate
    residual: float
    reference: dict[str, Estimate]
    rescaled_other: dict[str, Estimate]

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "c": self.c.to_json(),
            "residual": self.residual,
            "reference": {name: value.to_json() for name, value in self.reference.items()},
            "rescaled_other": {name: value.to_json() for name, value in self.rescaled_other.items()},
        }


def compare_at(reference: Any, other: Any, grid: Grid, t: float, mass: float, resampler: Resampler) -> ComparisonPoint:
    """c of RDM 5.55 between two schemes' samples at the same t, and the estimators after rescaling (5.54).

    ``reference`` and ``other`` hold the same number n of samples; resampling is joint over
    the sample index (flows of the same UV samples are correlated, and joint blocks are also
    valid for independent sets).
    """
    first, second = field_array(reference, grid, "reference"), field_array(other, grid, "other")
    if first.shape != second.shape:
        fix = "flow the same number of samples with both schemes"
        raise bad_argument("other.shape", second.shape, f"must match reference.shape {first.shape}", fix, kind=ShapeError)
    resampler = check_resampler(resampler)
    correlations = np.concatenate([position_two_point(first), position_two_point(second)], axis=1)
    separations = correlations.shape[1] // 2
    ratio = effective_cutoff(t, mass, grid).ratio
    quantities = renormalisation_statistic(grid, ratio)
    powers = np.array([FIELD_POWERS[name] for name in QUANTITIES], dtype=np.float64)

    def c_statistic(means: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.sqrt(_rescaling_squared(means, separations))

    def rescaled(means: np.ndarray) -> np.ndarray:
        c_squared = _rescaling_squared(means, separations)
        return quantities(means[..., 2 * separations :]) / c_squared[..., None] ** (powers / 2.0)

    c = estimate_all(correlations, c_statistic, ("c",), resampler)["c"]
    mean_correlation = correlations.mean(axis=0)
    fitted = c.value**2 * mean_correlation[:separations]
    residual = float(np.abs(fitted - mean_correlation[separations:]).max() / np.abs(mean_correlation[separations:]).max())
    reference_estimates = estimate_all(renormalisation_primaries(first), quantities, QUANTITIES, resampler)
    joint = np.concatenate([correlations, renormalisation_primaries(second)], axis=1)
    rescaled_estimates = estimate_all(joint, rescaled, QUANTITIES, resampler)
    return ComparisonPoint(t=float(t), c=c, residual=residual, reference=reference_estimates, rescaled_other=rescaled_estimates)


def compare_flows(reference_by_t: Mapping[float, Any], other_by_t: Mapping[float, Any], grid: Grid, mass: float, resampler: Resampler) -> list[ComparisonPoint]:
    """:func:`compare_at` at every t present in both flows, sorted by t."""
    common = sorted(set(reference_by_t) & set(other_by_t))
    if not common:
        problem = f"shares no flow time with reference_by_t {sorted(reference_by_t)}"
        raise bad_argument("other_by_t", sorted(other_by_t), problem, "flow both schemes to the same ts")
    return [compare_at(reference_by_t[t], other_by_t[t], grid, t, mass, resampler) for t in common]


def cutoff_ratio(t_star: float, dt: float, mass: float, grid: Grid) -> float:
    """Λ_{t*+δt'}/Λ_{t*} of RDM 7.3-7.4: the factor by which 5.53 lowers the cutoff over δt' (> 0 needs t* + δt' < 1/M²)."""
    earlier, later = effective_cutoff(t_star, mass, grid).cutoff, effective_cutoff(t_star + dt, mass, grid).cutoff
    if not later > 0:
        raise bad_argument("dt", dt, f"takes the cutoff to 0 (t* + δt' >= 1/M² = {1 / mass**2:g})", "pick t* + δt' below 1/M²")
    return later / earlier


def within_scheme_rescaling(later: Any, rescaled_earlier: Any, grid: Grid, t: float, mass: float, resampler: Resampler) -> ComparisonPoint:
    """RDM 5.53: b with E_{t*+δt'}[φφ] ≈ b^{-2} E_{t*, rescaled couplings}[φφ], by the fit of :func:`compare_at`.

    ``later`` are samples of p_{t*+δt'}, ``rescaled_earlier`` samples at t* of the theory with couplings
    λ_i (Λ_{t*+δt'}/Λ_{t*})^{d+δ_i}; ``t`` = t* + δt' labels the estimators. The point's ``c`` is b and its
    ``residual`` says whether a single b relates the two 2-point functions (a sign of a fixed point).
    """
    return compare_at(later, rescaled_earlier, grid, t, mass, resampler)


__all__ = ["ComparisonPoint", "FIELD_POWERS", "check_times", "compare_at", "compare_flows", "cutoff_ratio", "flow_samples", "iter_flow", "within_scheme_rescaling"]
