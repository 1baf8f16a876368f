"""Training objectives: PDD (Algorithm 1, Eq. 9), SA-PDD, and denoising score matching (B.4).

An objective works in two stages so that data-parallel training can reproduce a single
process exactly: ``corrupt`` draws the forward noise for the whole (global) batch from one
generator, and ``loss`` evaluates the network on any slice of the corrupted batch. Every
tensor ``corrupt`` returns has the batch as its leading axis, so a shard is ``t[rows]``.
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.drifts.windows import apply_to_windows, drift_on_path, history_windows
from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA, ScalarNoise, check_noise_model, increment_quadratic_form
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import check_generator

Corrupted = tuple[torch.Tensor, ...]


def sample_lambda(batch: int, generator: torch.Generator, lam_min: float = 0.0, lam_max: float = 1.0) -> torch.Tensor:
    """λ ~ U(lam_min, lam_max) per sample (PDD Algorithm 1, line 3), float64 ``[B]``."""
    check_generator(generator)
    if not 0.0 <= lam_min < lam_max:
        raise bad_argument("lam_max", lam_max, f"need 0 <= lam_min ({lam_min}) < lam_max", "use e.g. lam_min=0, lam_max=1")
    return lam_min + (lam_max - lam_min) * torch.rand(batch, generator=generator, dtype=torch.float64)


def active_part(noise: torch.Tensor, scheme, grid: Grid, lam: torch.Tensor) -> torch.Tensor:
    """The noise on the modes that diffuse: an excluded k = 0 component is unobservable."""
    active = scheme.transition(grid, 0.0, lam).active
    if bool(active.all()):
        return noise
    return irfft(rfft(noise, grid.ndim) * active.to(noise.device), grid.shape).to(noise.dtype)


def increment_loss(
    drift_values: torch.Tensor, u_lam: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float, noise_model=ScalarNoise()
) -> torch.Tensor:
    """(1/2σ_λ²) Σ_{x,t} |Δu/Δt - f|² Δx Δt averaged over the batch (PDD Eq. 9, Alg. 1 line 6).

    That is Δx/2 · Σ_n r_nᵀ V_λ⁻¹ r_n with r_n = u_{n+1} - u_n - f Δt and V_λ = σ_λ²Δt I, the
    negative log path density of Eq. 36 up to constants (A.6). ``noise_model=PerModeNoise()``
    uses V_λ = diag Σ̃_λ(k) instead (:func:`~pdd_core.score.path_density.increment_variance`,
    an extension): each mode's residual is weighted by 1/Σ̃_λ(k) rather than 1/(σ_λ²Δt), so the
    noise-dominated high modes, which the scalar weight nearly ignores, are fitted as well.
    It is the loss whose minimiser makes the per-mode path score consistent.
    """
    residual = u_lam[:, 1:] - u_lam[:, :-1] - drift_values * dt
    quadratic = increment_quadratic_form(residual, lam, scheme, grid, dt, delta_lambda=delta_lambda, noise_model=noise_model)
    return (0.5 * grid.cell_volume * quadratic).mean()


def pushforward_loss(
    drift, u_lam: torch.Tensor, lam: torch.Tensor, scheme, grid: Grid, dt: float, delta_lambda: float, noise_model=ScalarNoise()
) -> torch.Tensor:
    """Eq. 9 on the model's own one-step states: the pushforward trick (Brandstetter et al. 2022).

    Each state u_n (n >= 1) is replaced by the network's prediction from the true history,
    ũ_n = u_{n-1} + f_λ(u_{..n-1})Δt, computed without gradient; the drift from the window that
    ends at ũ (true states before it) must then reach the true u_{n+1}:
    r_n = u_{n+1} - ũ_n - f_λ(u_{n-W+1..n-1}, ũ_n)Δt, weighted as in :func:`increment_loss`.
    Its minimiser keeps the drift of the clean path and adds the force that returns the model's
    own one-step error, E[u_n - ũ_n | history], to the data: the error a rollout meets.
    """
    if u_lam.shape[1] < 3:
        raise bad_argument("u.shape", tuple(u_lam.shape), "pushforward needs paths of >= 3 frames", "train on frames >= 3 or set objective.pushforward = 0")
    with torch.no_grad():
        pushed = u_lam[:, :-2] + drift_on_path(drift, u_lam[:, :-1], lam) * dt  # ũ_1 .. ũ_{T-2}
    steps = u_lam.shape[1] - 2
    windows = history_windows(u_lam, drift.window, steps + 1)[:, 1:].clone()  # windows ending at t_1 .. t_{T-2}
    windows[:, :, -1] = pushed
    batch = u_lam.shape[0]
    flat = drift(windows.reshape(batch * steps, *windows.shape[2:]), lam.repeat_interleave(steps))
    residual = u_lam[:, 2:] - pushed - flat.reshape(batch, steps, *flat.shape[1:]) * dt
    quadratic = increment_quadratic_form(residual, lam, scheme, grid, dt, delta_lambda=delta_lambda, noise_model=noise_model)
    return (0.5 * grid.cell_volume * quadratic).mean()


def _noise_model(instance, attribute, value) -> None:
    check_noise_model(value)


@attrs.frozen
class PDDObjective:
    """PDD Algorithm 1: u_λ = C_λu0 + sqrt(Σ_λ)ε (Eq. 3), then the regression of Eq. 9.

    ``noise_free=True`` is the ablation of PDD D.4 (ε = 0, same σ_λ); the Eq. 67 ablation
    of D.3 is a choice of scheme (``Carosso(gamma=...)``). ``noise_model`` weights the
    residuals by the scalar σ_λ²Δt of Eq. 58 (the paper) or per mode (:func:`increment_loss`).
    ``pushforward`` > 0 adds that multiple of :func:`pushforward_loss` (an extension).
    """

    scheme: object
    grid: Grid
    dt: float
    noise_free: bool = False
    delta_lambda: float = DEFAULT_DELTA_LAMBDA
    noise_model: object = attrs.field(factory=ScalarNoise, validator=_noise_model)
    pushforward: float = 0.0

    def corrupt(self, u0: torch.Tensor, lam: torch.Tensor, generator: torch.Generator) -> Corrupted:
        if self.noise_free:
            return (self.scheme.coarse_grain(u0, self.grid, lam),)
        return (self.scheme.forward_sample(u0, self.grid, lam, generator),)

    def loss(self, drift, corrupted: Corrupted, lam: torch.Tensor) -> torch.Tensor:
        (u_lam,) = corrupted
        loss = increment_loss(drift_on_path(drift, u_lam, lam), u_lam, lam, self.scheme, self.grid, self.dt, self.delta_lambda, self.noise_model)
        if self.pushforward:
            loss = loss + self.pushforward * pushforward_loss(drift, u_lam, lam, self.scheme, self.grid, self.dt, self.delta_lambda, self.noise_model)
        return loss


@attrs.frozen
class SAPDDObjective:
    """Score-augmented PDD: w_drift · (Eq. 9) + w_score · MSE(ε̂, ε).

    One network call over the windows ending at every frame gives the drift (first T-1)
    and, from the second head, the predicted forward noise ε̂ of every frame.
    ``noise_model`` weights the drift term as in :class:`PDDObjective`.
    """

    scheme: object
    grid: Grid
    dt: float
    w_drift: float = 1.0
    w_score: float = 1.0
    delta_lambda: float = DEFAULT_DELTA_LAMBDA
    noise_model: object = attrs.field(factory=ScalarNoise, validator=_noise_model)

    def corrupt(self, u0: torch.Tensor, lam: torch.Tensor, generator: torch.Generator) -> Corrupted:
        u_lam, noise = self.scheme.forward_sample(u0, self.grid, lam, generator, return_noise=True)
        return u_lam, active_part(noise, self.scheme, self.grid, lam)

    def loss(self, network, corrupted: Corrupted, lam: torch.Tensor) -> torch.Tensor:
        u_lam, noise = corrupted
        both = apply_to_windows(lambda history, lam_: torch.stack(network.forward_with_noise(history, lam_), 1), u_lam, lam, network.window, u_lam.shape[1])
        drift_term = increment_loss(both[:, :-1, 0], u_lam, lam, self.scheme, self.grid, self.dt, self.delta_lambda, self.noise_model)
        return self.w_drift * drift_term + self.w_score * (both[:, :, 1] - noise).pow(2).mean()


@attrs.frozen
class DenoisingObjective:
    """Denoising score matching in ε-prediction form: MSE(ε̂(u_λ, λ), ε) (PDD B.4; RDM 5.23).

    The network sees a local temporal window of the noisy path ending at each frame (all
    noisy: the unconditional DDPM path model of B.4; W = 1, T = 1 for static fields).
    """

    scheme: object
    grid: Grid

    def corrupt(self, u0: torch.Tensor, lam: torch.Tensor, generator: torch.Generator) -> Corrupted:
        u_lam, noise = self.scheme.forward_sample(u0, self.grid, lam, generator, return_noise=True)
        return u_lam, active_part(noise, self.scheme, self.grid, lam)

    def loss(self, network, corrupted: Corrupted, lam: torch.Tensor) -> torch.Tensor:
        u_lam, noise = corrupted
        return (apply_to_windows(network, u_lam, lam, network.window, u_lam.shape[1]) - noise).pow(2).mean()


@attrs.frozen
class ConditionalDenoisingObjective:
    """The conditional simulation baseline of PDD B.4 (GenCast-style).

    For every step n the target is the standardised increment δ_n = (u_{n+1} - u_n) / s,
    noised by the scheme to δ_λ; the network sees the W - 1 clean states ending at u_n
    followed by δ_λ (a window of W frames) and predicts the noise ε of δ_λ.
    ``increment_scale`` is s per channel (a tuple of C floats, from the training data).
    """

    scheme: object
    grid: Grid
    increment_scale: tuple[float, ...]

    def corrupt(self, u0: torch.Tensor, lam: torch.Tensor, generator: torch.Generator) -> Corrupted:
        scale = torch.as_tensor(self.increment_scale, dtype=u0.dtype, device=u0.device).reshape(1, 1, -1, *([1] * self.grid.ndim))
        increments = (u0[:, 1:] - u0[:, :-1]) / scale
        batch, steps = increments.shape[:2]
        flat = increments.reshape(batch * steps, 1, *u0.shape[2:])
        noisy, noise = self.scheme.forward_sample(flat, self.grid, lam.repeat_interleave(steps), generator, return_noise=True)
        noise = active_part(noise, self.scheme, self.grid, lam.repeat_interleave(steps))
        return u0, noisy.reshape(increments.shape), noise.reshape(increments.shape)

    def loss(self, network, corrupted: Corrupted, lam: torch.Tensor) -> torch.Tensor:
        u0, noisy, noise = corrupted
        context = network.window - 1
        if context < 1:
            raise bad_argument("network.window", network.window, "the conditional baseline needs >= 1 clean state plus the noisy increment", "use window = 6 (5 clean states + increment)")
        batch, steps = noisy.shape[:2]
        clean = history_windows(u0, context, steps).reshape(batch * steps, context, *u0.shape[2:])
        inputs = torch.cat([clean, noisy.reshape(batch * steps, 1, *u0.shape[2:])], 1)
        predicted = network(inputs, lam.repeat_interleave(steps))
        return (predicted - noise.reshape(batch * steps, *u0.shape[2:])).pow(2).mean()
