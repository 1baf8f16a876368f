"""The path density of the learned SDE (PDD Eqs. 7, 27-30, 35-36)."""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import torch

from pdd_core.drifts.windows import drift_on_path
from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.records import Trajectory
from pdd_core.spectral import rfft
from pdd_core.validation import as_lambda, check_field

DEFAULT_DELTA_LAMBDA = 1e-3


def increment_variance(scheme, grid: Grid, lam: torch.Tensor, dt: float, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> torch.Tensor:
    """Per-mode variance of one increment's noise, max(Σ̃_λ(k), Σ̃_Δλ(k)), float64 ``[B, 1, 1, *rfft]``.

    A.7 matches the surrogate's conditional covariance to the irreducible Σ_λ of the next
    frame's coarse-graining noise (Eq. 56); Eq. 58 then keeps only its trace, σ_λ²Δt =
    tr(Σ_λ)/D. This keeps Σ_λ itself, floored mode by mode at Σ_Δλ as in A.7, so its trace
    average is exactly Eq. 58's σ_λ²Δt. Modes excluded from the diffusion (PDD A.2) have no
    Σ̃; they keep the scalar σ_λ²Δt of Eq. 58.
    """
    step = scheme.transition(grid, 0.0, lam)
    floor = scheme.transition(grid, 0.0, delta_lambda, lam.shape[0]).variance
    scalar = (scheme.sigma(grid, lam, dt, delta_lambda=delta_lambda) ** 2 * dt).reshape(-1, *([1] * (step.variance.ndim - 1)))
    return torch.where(step.active, torch.maximum(step.variance, floor), scalar)


class _ClosedFormNoise:
    """A noise model from its closed form V_λ (``closed_form``) and what it gives a residual
    (``quadratic_from``, ``normaliser_from``), so that a schedule can tabulate the closed forms once."""

    def quadratic_form(self, residual: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float) -> torch.Tensor:
        """Σ_n r_nᵀ V_λ⁻¹ r_n per path ``[B]``."""
        variance = self.closed_form(lam, scheme, grid, dt, delta_lambda, device=residual.device, dtype=residual.dtype)
        return self.quadratic_from(residual, variance, grid, dt)

    def log_normaliser(self, residual: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float) -> torch.Tensor:
        """log det(2π V_λ) summed over the increments (and channels), per path ``[B]``."""
        variance = self.closed_form(lam, scheme, grid, dt, delta_lambda, device=residual.device, dtype=residual.dtype)
        return self.normaliser_from(residual, variance, grid, dt)


@attrs.frozen
class ScalarNoise(_ClosedFormNoise):
    """The increment noise of Eq. 35 as the paper models it: V_λ = σ_λ²Δt I with σ_λ of Eq. 58."""

    name: ClassVar[str] = "scalar"

    def closed_form(self, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float, *, device, dtype) -> torch.Tensor:
        """σ_λ² per sample ``[B]`` on ``device`` in ``dtype`` (the scheme's closed form, float64 on the CPU)."""
        return scheme.sigma(grid, lam, dt, delta_lambda=delta_lambda).to(device, dtype) ** 2

    def quadratic_from(self, residual: torch.Tensor, sigma2: torch.Tensor, grid: Grid, dt: float) -> torch.Tensor:
        """Σ_n ‖r_n‖² / (σ_λ²Δt) per path ``[B]`` given :meth:`closed_form`."""
        return residual.pow(2).flatten(1).sum(1) / (sigma2 * dt)

    def normaliser_from(self, residual: torch.Tensor, sigma2: torch.Tensor, grid: Grid, dt: float) -> torch.Tensor:
        """log det(2π σ_λ²Δt I) summed over the increments, given :meth:`closed_form`."""
        return residual[0].numel() * torch.log(2 * math.pi * sigma2 * dt)

    def rollout_sigma(self, lam: float, scheme, grid: Grid, dt: float, delta_lambda: float) -> float:
        """The σ of a stochastic rollout that samples this path law at λ: Eq. 58's σ_λ (PDD D.1)."""
        return float(scheme.sigma(grid, lam, dt, delta_lambda=delta_lambda)[0])


class _DiagonalFourierNoise(_ClosedFormNoise):
    """V_λ diagonal in Fourier space, ``diagonal(...)`` ``[B, 1, C or 1, *rfft]``: the quadratic form and normaliser of such a V."""

    def closed_form(self, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float, *, device, dtype) -> torch.Tensor:
        """V_λ(k) ``[B, 1, C or 1, *rfft]`` on ``device`` in ``dtype`` (the scheme's closed forms, float64 on the CPU)."""
        return self.diagonal(lam, scheme, grid, dt, delta_lambda).to(device, dtype)

    def quadratic_from(self, residual: torch.Tensor, variance: torch.Tensor, grid: Grid, dt: float) -> torch.Tensor:
        """Σ_n Σ_k w_k |r̂_n(k)|² / V_λ(k) per path ``[B]`` given :meth:`closed_form` (rfft multiplicities w_k: Parseval)."""
        multiplicity = grid.mode_multiplicity(residual.dtype, residual.device)
        return (multiplicity * rfft(residual, grid.ndim).abs().pow(2) / variance).flatten(1).sum(1)

    def normaliser_from(self, residual: torch.Tensor, variance: torch.Tensor, grid: Grid, dt: float) -> torch.Tensor:
        """log det(2π V_λ) summed over the increments and channels given :meth:`closed_form`."""
        multiplicity = grid.mode_multiplicity(residual.dtype, residual.device)
        per_channel = (multiplicity * torch.log(2 * math.pi * variance)).expand(-1, -1, residual.shape[2], *variance.shape[3:])
        return residual.shape[1] * per_channel.flatten(1).sum(1)

    def rollout_sigma(self, lam: float, scheme, grid: Grid, dt: float, delta_lambda: float) -> torch.Tensor:
        """The σ_k of a stochastic rollout that samples this path law at λ: sqrt(V_λ(k)/Δt) per mode ``[1, C or 1, *rfft]``."""
        lam_t = torch.full((1,), lam, dtype=torch.float64)
        return (self.diagonal(lam_t, scheme, grid, dt, delta_lambda)[:, 0] / dt).sqrt()


@attrs.frozen
class PerModeNoise(_DiagonalFourierNoise):
    """V_λ = diag Σ̃_λ(k): the per-mode covariance that Eq. 58 averages (A.7 before the trace; an extension).

    Each mode's residual is weighted by its own coarse-graining variance
    (:func:`increment_variance`): Σ_k w_k |r̂_n(k)|² / Σ̃_λ(k) with the rfft multiplicities w_k
    (Parseval). It keeps b²/Σ̃_λ ≥ 2κ, so the reverse flow of an accurate drift is stable.
    """

    name: ClassVar[str] = "per-mode"

    def diagonal(self, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float) -> torch.Tensor:
        return increment_variance(scheme, grid, lam, dt, delta_lambda=delta_lambda)


def _check_table(instance, attribute, value) -> None:
    if not isinstance(value, torch.Tensor) or value.dtype != torch.float64 or not bool(torch.isfinite(value).all()):
        raise bad_argument(attribute.name, type(value).__name__, "must be a finite float64 tensor", "build it with CalibratedNoise.from_residuals(...)")


@attrs.frozen(eq=False)
class CalibratedNoise(_DiagonalFourierNoise):
    """V_λ = diag max(Σ̃_λ(k), v_λ(k)): the per-mode increment variance the data show (an extension of A.7).

    A.7 matches the surrogate's conditional covariance to the next frame's coarse-graining noise
    Σ̃_λ alone. Where the dynamics are not predictable at the sampling interval the best drift
    leaves residuals r = u_{n+1} - u_n - f_λ Δt of variance v_λ(k) = E|r̂(k)|² well above Σ̃_λ(k),
    and a path density with V = Σ̃ makes the increments, and so the paths it generates, too
    narrow (docs/results.md, "Where the variance goes"). This model takes v_λ(k) measured at the
    nodes ``lams`` ``[L]`` (increasing, float64) and ``variance`` ``[L, C, *rfft]``, interpolates it
    linearly in λ (held constant beyond the ends) and never goes below :class:`PerModeNoise`'s
    Σ̃_λ, so on modes the drift predicts to within the coarse-graining noise it is that model.
    """

    name: ClassVar[str] = "calibrated"

    lams: torch.Tensor = attrs.field(validator=_check_table)
    variance: torch.Tensor = attrs.field(validator=_check_table)

    def __attrs_post_init__(self) -> None:
        if self.lams.ndim != 1 or self.lams.numel() < 1 or bool((self.lams.diff() <= 0).any()):
            raise bad_argument("lams", tuple(self.lams.shape), "must be a 1D increasing tensor of λ nodes", "pass e.g. torch.linspace(0, 1, 9, dtype=torch.float64)")
        if self.variance.shape[0] != self.lams.numel() or bool((self.variance < 0).any()):
            raise bad_argument("variance", tuple(self.variance.shape), f"needs one non-negative [C, *rfft] table per λ node ({self.lams.numel()})", "measure it at every node of lams")

    def at(self, lam: torch.Tensor) -> torch.Tensor:
        """v_λ(k) interpolated linearly between the nodes, float64 ``[B, 1, C, *rfft]``."""
        lam = lam.detach().to("cpu", torch.float64).reshape(-1).clamp(float(self.lams[0]), float(self.lams[-1]))
        upper = torch.searchsorted(self.lams, lam).clamp(1, max(self.lams.numel() - 1, 1))
        if self.lams.numel() == 1:
            return self.variance[[0] * lam.numel()].unsqueeze(1)
        lower = upper - 1
        weight = ((lam - self.lams[lower]) / (self.lams[upper] - self.lams[lower])).reshape(-1, *([1] * (self.variance.ndim - 1)))
        return ((1 - weight) * self.variance[lower] + weight * self.variance[upper]).unsqueeze(1)

    def diagonal(self, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float) -> torch.Tensor:
        return torch.maximum(increment_variance(scheme, grid, lam, dt, delta_lambda=delta_lambda), self.at(lam))


@attrs.frozen(eq=False)
class TabulatedNoise:
    """A noise model with its closed forms computed once at known λs, on the field's device and dtype.

    A sampler knows every λ at which it calls the score (its schedule): :meth:`build` evaluates
    ``model.closed_form`` there once, and a call whose batch shares one tabulated λ is arithmetic
    on the device; any other λ (or a mixed batch) falls back to ``model``. The values are those
    ``model`` computes, so the score is unchanged bit for bit.
    """

    model: object
    table: dict
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def build(cls, model, lams, scheme, grid: Grid, dt: float, delta_lambda: float, *, device, dtype) -> TabulatedNoise:
        values = sorted({float(lam) for lam in torch.as_tensor(lams).reshape(-1).tolist()})
        table = {lam: model.closed_form(torch.tensor([lam], dtype=torch.float64), scheme, grid, dt, delta_lambda, device=device, dtype=dtype) for lam in values}
        return cls(model, table, torch.device(device), dtype)

    @property
    def name(self) -> str:
        return self.model.name

    def _tabulated(self, residual: torch.Tensor, lam: torch.Tensor) -> torch.Tensor | None:
        """The table's closed form when every sample sits at one tabulated λ and the field matches; else None."""
        if residual.device != self.device or residual.dtype != self.dtype:
            return None
        values = set(lam.reshape(-1).tolist())  # one small copy to the host, instead of the closed forms there
        return self.table.get(values.pop()) if len(values) == 1 else None

    def quadratic_form(self, residual: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float) -> torch.Tensor:
        value = self._tabulated(residual, lam)
        return self.model.quadratic_form(residual, lam, scheme, grid, dt, delta_lambda) if value is None else self.model.quadratic_from(residual, value, grid, dt)

    def log_normaliser(self, residual: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float) -> torch.Tensor:
        value = self._tabulated(residual, lam)
        return self.model.log_normaliser(residual, lam, scheme, grid, dt, delta_lambda) if value is None else self.model.normaliser_from(residual, value, grid, dt)


# The names of the noise models in configs and on the command line (the only place they are strings).
NOISE_MODELS = {model.name: model for model in (ScalarNoise(), PerModeNoise())}


def check_noise_model(noise_model) -> None:
    """Require a noise-model object (``quadratic_form`` and ``log_normaliser``), not its name."""
    if isinstance(noise_model, str):
        known = {name: type(model).__name__ for name, model in NOISE_MODELS.items()}
        fix = f"pass {known[noise_model]}()" if noise_model in known else f"pass one of {sorted(set(known.values()))} (names: {list(known)})"
        raise bad_argument("noise_model", noise_model, "is a name; the library takes the noise model as an object", fix)
    if not (callable(getattr(noise_model, "quadratic_form", None)) and callable(getattr(noise_model, "log_normaliser", None))):
        raise bad_argument("noise_model", noise_model, "not a noise model (it needs quadratic_form and log_normaliser)", "pass ScalarNoise() or PerModeNoise()")


def increment_quadratic_form(
    residual: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA, noise_model=ScalarNoise()
) -> torch.Tensor:
    """Σ_n r_nᵀ V_λ⁻¹ r_n per path ``[B]`` for increment residuals r_n = u_{n+1} - u_n - f_λ Δt.

    V_λ is the covariance of one increment's noise (Eq. 35), given by ``noise_model``
    (:class:`ScalarNoise`: σ_λ²Δt I, Eq. 58; :class:`PerModeNoise`: diag Σ̃_λ(k)). This is the
    exponent of Eq. 36 (times -2) and, times Δx/2, the PDD loss of Eq. 9 (A.6).
    """
    check_noise_model(noise_model)
    return noise_model.quadratic_form(residual, lam, scheme, grid, dt, delta_lambda)


def log_density(
    u: torch.Tensor,
    lam: torch.Tensor,
    drift,
    scheme,
    grid: Grid,
    dt: float,
    *,
    delta_lambda: float = DEFAULT_DELTA_LAMBDA,
    noise_model=ScalarNoise(),
    initial=None,
) -> torch.Tensor:
    """log p_λ(u) per path ``[B]`` from the Euler-Maruyama transitions (PDD Eqs. 35-36).

        log p_λ = log r_λ(u(t0)) - Σ_n ‖u_{n+1} - u_n - f_λ(window_n) Δt‖² / (2σ_λ²Δt) - ½ D N_t log(2πσ_λ²Δt)

    with σ_λ from Eq. 58 (floored at Σ_Δλ, A.7) and D = C · Π N_i. The paper does not model
    the initial density r_λ (B.6): with ``initial=None`` the term is left out. ``initial`` is
    a model of it with ``log_density(frame, lam, scheme, grid)``, e.g. the Gaussian of
    :class:`~pdd_core.score.initial_density.GaussianInitial`; with zero padding (B.2) u(t0)
    is the whole initial window of Eq. 36. Differentiable in ``u`` and in the drift's parameters.

    ``noise_model=PerModeNoise()`` replaces σ_λ²Δt I by the diagonal Fourier covariance of
    :func:`increment_variance` (Σ_k |r̂_n(k)|² / (2 Σ̃_λ(k)) per residual r_n). The scalar form
    gives a noise-dominated mode k the precision 1/(σ_λ²Δt) instead of 1/Σ̃_λ(k); where
    α|k|² > β²/(σ_λ²Δt) the reverse flow (Eq. 11) then grows that mode at a rate of about
    α|k|² − β²/(σ_λ²Δt) > 0, so reverse-λ sampling diverges (docs/results.md, "Sampler
    comparison"). The per-mode form has b²/Σ̃_λ ≥ 2κ and is stable for an accurate drift
    (tests/core/test_generation_stability.py); a drift that predicts u_{n+1} ≈ u_n on such a mode
    still makes it grow at ≈ α|k|².
    """
    check_field(u, grid, "u")
    check_noise_model(noise_model)
    lam = as_lambda(lam, u.shape[0], "lam", device=u.device)
    residual = u[:, 1:] - u[:, :-1] - drift_on_path(drift, u, lam) * dt
    quadratic = noise_model.quadratic_form(residual, lam, scheme, grid, dt, delta_lambda)
    value = -0.5 * quadratic - 0.5 * noise_model.log_normaliser(residual, lam, scheme, grid, dt, delta_lambda)
    if initial is not None:
        value = value + initial.log_density(u[:, :1], lam, scheme, grid)
    return value


def path_log_density(path: Trajectory, drift, scheme, *, delta_lambda: float = DEFAULT_DELTA_LAMBDA, noise_model=ScalarNoise(), initial=None) -> torch.Tensor:
    """:func:`log_density` of a :class:`Trajectory` record (its λ, Δt and grid)."""
    return log_density(path.u, path.lam, drift, scheme, path.grid, path.dt, delta_lambda=delta_lambda, noise_model=noise_model, initial=initial)
