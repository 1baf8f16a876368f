"""The reverse-λ driver: generation and super-resolution (PDD Algorithm 3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import torch
from tqdm.auto import tqdm

from pdd_core.divergence import SAMPLING_BAND, DivergenceGuard, mean_square
from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.noise_source import GeneratorNoise
from pdd_core.protocols import NoiseSource
from pdd_core.schedules import check_schedule
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


DIVERGENCE_FIX = (
    "sample around the data's Gaussian marginal (GaussianExponential predictor + GaussianLangevin corrector), "
    "use more λ steps (PDD B.3 uses 1000 on [0, 1]), or, for a path score, a drift trained and scored with PerModeNoise()"
)
NOT_FINITE = (
    "the sample became NaN or inf (explicit steps are unstable when κΔλ or b²Δλ/(σ_λ²Δt) exceed ~1; "
    "with a path score the reverse flow itself grows modes with α|k|² > β²·λ_max(-∂s), docs/results.md)"
)


def sampling_guard(band: float | None = SAMPLING_BAND) -> DivergenceGuard:
    """The divergence guard of a reverse-λ integration: a path's mean square against the start's."""
    return DivergenceGuard(band, "the start's", "sample", DIVERGENCE_FIX, NOT_FINITE)


def at_lambda(lam: torch.Tensor) -> str:
    return f"λ = {float(lam.reshape(-1)[0]):.4g}"


def check_finite_sample(u: torch.Tensor, lam: torch.Tensor) -> None:
    """Stop a diverging reverse-λ integration (NaN or inf at ``lam``) with a message that says what to change."""
    sampling_guard().check_finite(u, at_lambda(lam))


@attrs.frozen(eq=False)
class ReversePlan:
    """A λ-sampler's coefficients for every step of a decreasing λ schedule, on one device and dtype.

    :func:`sample` builds one per call; a caller that integrates over the same grid many times
    (the conditional baseline, once per physical step) builds it once and passes it in.
    """

    sampler: object
    lam_schedule: torch.Tensor
    device: torch.device
    dtype: torch.dtype
    coefficients: tuple

    @classmethod
    def build(cls, sampler, scheme, grid: Grid, lam_schedule: torch.Tensor, *, device, dtype: torch.dtype) -> ReversePlan:
        lam_schedule, device = check_schedule(lam_schedule), torch.device(device)
        batch_one = lambda value: value.reshape(1)  # noqa: E731  (coefficients are shared by the batch)
        steps = range(lam_schedule.numel() - 1)
        coefficients = tuple(sampler.init(scheme, grid, batch_one(lam_schedule[i]), batch_one(lam_schedule[i + 1]), device=device, dtype=dtype) for i in steps)
        return cls(sampler, lam_schedule, device, dtype, coefficients)

    def check(self, sampler, u: torch.Tensor) -> None:
        if self.sampler is not sampler or self.device != u.device or self.dtype != u.dtype:
            raise bad_argument("plan", f"built for {type(self.sampler).__name__} on {self.device}, {self.dtype}", "does not match the sampler or the field", "build it with ReversePlan.build(sampler, ..., device=u.device, dtype=u.dtype)")


def _start(scheme, grid: Grid, schedule: torch.Tensor, generator, u_init, shape, dtype, prior) -> torch.Tensor:
    """The path at λ = lam_schedule[0]: ``u_init`` as given, or a draw of shape ``shape`` from ``prior``."""
    if (u_init is None) == (shape is None):
        raise bad_argument("u_init", "given" if u_init is not None else None, "pass exactly one of u_init (super-resolution) or shape (generation)", "e.g. shape=(16, 64, 2, 128)")
    if u_init is None:
        prior = GaussianMarginal() if prior is None else prior
        return prior.sample(tuple(shape), scheme, grid, float(schedule[0]), generator, dtype=dtype)
    check_field(u_init, grid, "u_init")
    return u_init


def _save_points(save_at, schedule: torch.Tensor) -> dict[int, float]:
    """Grid index -> λ of every requested save point (each must lie on the grid)."""
    values = schedule.tolist()
    points = {}
    for lam in save_at:
        matches = [i for i, value in enumerate(values) if value == float(lam)]
        if not matches:
            raise bad_argument("save_at", lam, "is not a point of lam_schedule", "save at λs of the grid (add them to it, e.g. with torch.cat and sort)")
        points[matches[0]] = float(lam)
    return points


def sample_at(
    score,
    scheme,
    grid: Grid,
    sampler,
    lam_schedule: torch.Tensor,
    save_at: Sequence[float],
    *,
    generator: torch.Generator | None,
    noise: NoiseSource | None = None,
    u_init: torch.Tensor | None = None,
    shape: tuple[int, ...] | None = None,
    dtype: torch.dtype = torch.float32,
    boundary: Boundary | None = None,
    prior=None,
    energy_band: float | None = SAMPLING_BAND,
    progress: bool = False,
    plan: ReversePlan | None = None,
) -> dict[float, torch.Tensor]:
    """Integrate the reverse RG flow along the decreasing ``lam_schedule`` once; return ``{λ: u}`` at every λ of ``save_at``.

    One integration serves every save point, so a multistep sampler keeps its state across them
    (the stages of a flow need no re-chunking). Arguments as in :func:`sample`.
    """
    schedule = check_schedule(lam_schedule)
    if noise is None or u_init is None:
        check_generator(generator)
    points = _save_points(save_at, schedule)
    u = _start(scheme, grid, schedule, generator, u_init, shape, dtype, prior)
    if plan is None:
        plan = ReversePlan.build(sampler, scheme, grid, schedule, device=u.device, dtype=u.dtype)
    plan.check(sampler, u)
    if callable(getattr(score, "for_schedule", None)):  # a score that can precompute its per-λ closed forms (PathScore)
        score = score.for_schedule(schedule, device=u.device, dtype=u.dtype)
    noise = GeneratorNoise(generator) if noise is None else noise
    boundary = boundary or no_boundary
    saved = {points[0]: u} if 0 in points else {}
    guard, state, start = sampling_guard(energy_band), None, mean_square(u).mean()
    for i in tqdm(range(schedule.numel() - 1), desc="reverse-λ", disable=not progress, leave=False):
        lam_from = schedule[i].expand(u.shape[0]).to(u.device)
        lam_to = schedule[i + 1].expand(u.shape[0]).to(u.device)
        u, state = sampler.step(score, u, lam_from, lam_to, plan.coefficients[i], noise, state, boundary)
        guard.check(u, start, at_lambda(lam_to))
        if i + 1 in points:
            saved[points[i + 1]] = u
    return saved


def sample(score, scheme, grid: Grid, sampler, lam_schedule: torch.Tensor, **options) -> torch.Tensor:
    """Integrate the reverse RG flow along the decreasing ``lam_schedule`` and return u at λ_end.

    Exactly one of:
      * ``shape`` ``[B, T, C, *space]``: unconditional generation from ``prior`` (a
        :class:`~pdd_core.score.gaussian_marginal.GaussianMarginal`; default: the paper's
        N(0, Σ_λmax) per time step, Algorithm 3, line 1);
      * ``u_init``: super-resolution of a coarse path given at λ = lam_schedule[0] (line 2),
        e.g. a simulation at λ = 0.2.

    ``generator`` draws the prior and, unless ``noise`` (a
    :class:`~pdd_core.protocols.NoiseSource`) is given, the sampler's noise. The sampler's
    coefficients (:class:`ReversePlan`, or ``plan`` when given) are computed once per grid on the
    field's device before the loop; the loop itself is score calls plus arithmetic.
    ``boundary`` (e.g. :func:`extrapolate_t0`) is applied after every update; by default nothing
    is, and no clamping, mean removal or other stabiliser is ever applied silently. The
    integration stops with a clear error when a sample turns NaN or a path's mean square exceeds
    ``energy_band`` x the start's (a diverging sampler, before it reaches inf; the one guard of
    both drivers, :class:`~pdd_core.divergence.DivergenceGuard`);
    ``energy_band=None`` keeps only the NaN check, for flows whose end legitimately holds far more
    energy than their start (the ordered phase of lattice φ⁴ from a Gaussian prior).

    The driver builds no ``torch.no_grad()`` context: wrap the call in one (as the applications
    do) unless gradients through the sampler are wanted.
    """
    lam_end = float(check_schedule(lam_schedule)[-1])
    return sample_at(score, scheme, grid, sampler, lam_schedule, (lam_end,), **options)[lam_end]
