"""RDM 5.51: the Carosso SDE with an a-priori field rescaling c_t and the dilatation of the cutoff Λ_t, in position space.

RDM 5.51 augments the c_t-modified Carosso SDE 5.50 by a rescaling of positions,

    ∂t φ_t(n) = (Δ - M² + ∂t log c_t) φ_t(n) - ∂t log(Λ_t) x·Dφ_t(n) + η_t(n),

with the M-modification of RDM 7.1, c_t = e^{g t}, Λ_t the cutoff of 7.3-7.4 and x·D the dilatation of 5.52
(:func:`~pdd_core.apps.lattice.lattice_operators.dilatation_generator`: positions from the corner site 0, forward
differences across the periodic seam). The noise is unchanged: E[η_t(n) η_s(m)] = β² δ_nm δ(t - s). x·D is not
translation invariant, so the process is not diagonal in Fourier space and the schemes' per-mode kernels do not
apply; it is integrated in position space instead. The SDE is linear, dφ = A(t) φ dt + β dW with
A(t) = Δ - M² + g + a(t) x·D and a(t) = -∂t log Λ_t >= 0, so every transition is Gaussian,

    φ_b = Φ(b, a) φ_a + Q(b, a)^{1/2} ε,   ∂_b Φ = A(b) Φ,   ∂_b Q = A(b) Q + Q A(b)ᵀ + β² I,

and is drawn exactly for a piecewise-constant a(t): on each substep a takes its mean over the substep
(log Λ_s - log Λ_e)/(e - s) from the closed form of 7.3, and the substeps are short in log Λ
(``max_substep_dilatation``), which bounds the error of freezing a. Where Λ_t = Λ0 (t <= 1/(Λ0² + M²)) a = 0 and
the transition is exactly 5.50's (:class:`schemes.rescaled_carosso.RescaledCarosso`). Λ_t reaches 0 at t = 1/M²,
where log Λ_t diverges: flows stop before it. The dense N^d x N^d matrices bound the lattice (:data:`MAX_SITES`).
docs/rg_flows.md ("Field rescalings") measures the process and what the seam does to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import attrs
import numpy as np
import scipy.linalg
import torch

from pdd_core.apps.lattice.estimators import effective_cutoff
from pdd_core.apps.lattice.lattice_operators import dilatation_generator, lattice_laplacian
from pdd_core.errors import ConfigError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.validation import check_generator, non_negative, positive

# Sites of the largest lattice: a transition costs a few hundred products of dense (2 N^d)² matrices.
MAX_SITES = 1024
# Van Loan's block exponential is exact but loses digits once ‖A‖ h is large (e^{-Ah} grows while Φ shrinks),
# so each substep is exponentiated at h / 2^k with ‖A‖ h / 2^k <= this and doubled back k times.
VAN_LOAN_NORM = 0.5


@attrs.frozen
class DilatedCarosso:
    """RDM 5.51 on the lattice of 5.20 (module docstring): c_t = e^{g t} with g = ``growth``, Λ_t of 7.3-7.4 at mass M."""

    beta: float = attrs.field(validator=positive)
    mass: float = attrs.field(validator=positive)
    growth: float = attrs.field(default=0.0, validator=non_negative)
    max_substep_dilatation: float = attrs.field(default=0.02, validator=positive)

    # The equation of RDM this process integrates (``pdd rg-flow`` records it).
    rdm_kernel = "5.51"

    @classmethod
    def rdm_lattice(cls, spacing: float, ndim: int, mass: float) -> DilatedCarosso:
        """5.51 with the noise of 5.20 (β = sqrt(2) a^{-d/2}, a = L/N) and c_t = e^{M² t}, the a-priori choice of 5.50."""
        return cls(beta=math.sqrt(2.0) * spacing ** (-ndim / 2), mass=mass, growth=mass**2)

    def field_rescaling(self, t: float) -> float:
        """The a-priori c_t = e^{g t} of the flow at RG time t."""
        return math.exp(self.growth * t)

    def check_flow(self, grid: Grid, ts: Sequence[float]) -> None:
        """Refuse, before any sampling, a lattice beyond :data:`MAX_SITES` and flow times at or past t = 1/M² (Λ_t = 0)."""
        sites = math.prod(grid.shape)
        if sites > MAX_SITES:
            problem = f"the position-space flow of RDM 5.51 keeps dense {sites} x {sites} matrices (at most {MAX_SITES} sites)"
            raise bad_argument("--set N", grid.shape[0], problem, f"pass --set N={int(MAX_SITES ** (1 / grid.ndim))} or less", kind=ConfigError)
        end = 1.0 / self.mass**2
        if max(ts) >= end:
            problem = f"RDM 5.51 needs ∂t log Λ_t, which diverges at t = 1/M² = {end:g} where Λ_t (7.3) reaches 0"
            raise bad_argument("--ts", max(ts), problem, f"pass flow times below {end:g}, e.g. --ts 0 0.001 0.01 0.1 {0.6 * end:g}", kind=ConfigError)

    def _substeps(self, grid: Grid, start: float, end: float) -> Iterator[tuple[float, float]]:
        """(duration, a) of piecewise-constant pieces of a(t) = -∂t log Λ_t on [start, end], a its exact mean."""
        cutoff0 = effective_cutoff(0.0, self.mass, grid).cutoff0
        onset = 1.0 / (cutoff0**2 + self.mass**2)  # Λ_t = Λ0 before it: no dilatation
        if start < onset:
            yield min(end, onset) - start, 0.0
            start = onset
        if end <= start:
            return
        log_start, log_end = (math.log(effective_cutoff(t, self.mass, grid).cutoff) for t in (start, end))
        count = max(1, math.ceil((log_start - log_end) / self.max_substep_dilatation))
        logs = np.linspace(log_start, log_end, count + 1)
        times = [start, *(1.0 / (math.exp(2.0 * value) + self.mass**2) for value in logs[1:-1]), end]  # inverts 7.3
        for k in range(count):
            yield times[k + 1] - times[k], (logs[k] - logs[k + 1]) / (times[k + 1] - times[k])

    def _constant_step(self, drift: np.ndarray, duration: float) -> tuple[np.ndarray, np.ndarray]:
        """Φ = e^{A h} and Q = ∫_0^h e^{As} β² e^{Aᵀs} ds for constant A: Van Loan's block exponential at h / 2^k,
        then k doublings Q ← Φ Q Φᵀ + Q, Φ ← Φ² (every term positive semi-definite, so no digits are lost)."""
        sites = drift.shape[0]
        halvings = max(0, math.ceil(math.log2(max(np.abs(drift).sum(axis=0).max() * duration / VAN_LOAN_NORM, 1.0))))
        block = np.zeros((2 * sites, 2 * sites))
        block[:sites, :sites], block[:sites, sites:], block[sites:, sites:] = -drift, self.beta**2 * np.eye(sites), drift.T
        exponential = scipy.linalg.expm(block * (duration / 2**halvings))
        damping = exponential[sites:, sites:].T
        covariance = damping @ exponential[:sites, sites:]
        for _ in range(halvings):
            covariance = damping @ covariance @ damping.T + covariance
            damping = damping @ damping
        return damping, 0.5 * (covariance + covariance.T)

    def transition_moments(self, grid: Grid, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """Φ(end, start) and Q(end, start) (module docstring) as float64 [N^d, N^d] matrices on sites in C order."""
        if not 0.0 <= start <= end:
            raise bad_argument("end", end, f"must be >= start = {start} >= 0", "flow forward in t")
        self.check_flow(grid, [end])
        sites = math.prod(grid.shape)
        static = lattice_laplacian(grid) + (self.growth - self.mass**2) * np.eye(sites)
        generator = dilatation_generator(grid)
        damping, covariance = np.eye(sites), np.zeros((sites, sites))
        for duration, rate in self._substeps(grid, start, end):
            step_damping, step_covariance = self._constant_step(static + rate * generator, duration)
            damping = step_damping @ damping
            covariance = step_damping @ covariance @ step_damping.T + step_covariance
        return damping, covariance

    def advance(self, fields: torch.Tensor, grid: Grid, start: float, end: float, generator: torch.Generator) -> torch.Tensor:
        """One exact draw of φ_end given φ_start = ``fields`` ([..., *grid.shape], float64): Φ φ + Q^{1/2} ε."""
        check_generator(generator)
        if tuple(fields.shape[-grid.ndim :]) != grid.shape or fields.dtype != torch.float64:
            raise bad_argument(
                "fields",
                (tuple(fields.shape), fields.dtype),
                f"expected float64 fields [..., {grid.shape}]",
                "pass the lattice samples as float64",
                kind=ShapeError,
            )
        damping, covariance = self.transition_moments(grid, start, end)
        if end == start:
            return fields.clone()
        factor = torch.from_numpy(np.linalg.cholesky(covariance))
        flat = fields.reshape(-1, math.prod(grid.shape))
        noise = torch.randn(flat.shape, generator=generator, dtype=torch.float64)
        return (flat @ torch.from_numpy(damping).T + noise @ factor.T).reshape(fields.shape)


__all__ = ["MAX_SITES", "DilatedCarosso"]
