"""The physical-time driver: one loop that owns the history window (PDD Algorithm 2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from pdd_core.divergence import DivergenceGuard
from pdd_core.errors import bad_argument
from pdd_core.grid import Grid
from pdd_core.noise_source import GeneratorNoise
from pdd_core.protocols import NoiseSource
from pdd_core.records import Trajectory
from pdd_core.validation import as_lambda, check_field

# A rollout's paths are standardised: the data's mean square, 1 per value, is the guard's reference.
DATA_MEAN_SQUARE = 1.0

def initial_window(initial: torch.Tensor, window: int, *, grid: Grid, lam: torch.Tensor, scheme=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The initial frames and the drift's first window ``[B, W, C, *space]`` (zeros before t0, B.2).

    With ``scheme`` the initial history is fine-scale data and is first coarse-grained,
    u_λ(t0) = C_λ u0(t0) (Algorithm 2, line 2). Returns ``(frames, window)``.
    """
    if scheme is not None:
        initial = scheme.coarse_grain(initial, grid, lam)
    kept = min(window, initial.shape[1])
    padding = initial.new_zeros(initial.shape[0], window - kept, *initial.shape[2:])
    return initial, torch.cat([padding, initial[:, initial.shape[1] - kept :]], dim=1)


def slide(
    next_state: Callable[[torch.Tensor], torch.Tensor],
    history: torch.Tensor,
    steps: int,
    *,
    save_every: int = 1,
    save_at: Sequence[int] | None = None,
    progress: bool = False,
    energy_band: float | None = None,
    first_step: int = 1,
    name: str = "rollout",
    fix: str = "reduce Δt, check the drift, or use σ = 0",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The one loop of every physical-time driver: ``state = next_state(history)``, then slide the window.

    ``history`` is ``[B, W, C, *space]`` (oldest first). Each state is checked
    (:class:`~pdd_core.divergence.DivergenceGuard` against the data's mean square, errors named
    ``name`` with ``fix``); every ``save_every``-th is kept, or, with ``save_at``, the states after
    those steps (increasing, in 1..steps), as the reverse-λ driver keeps the states at the λs of
    its ``save_at``. Returns the saved states ``[B, kept, C, *space]`` and the window after the
    last step, so that a rollout continues exactly from where a segment ended. The loop builds no
    ``torch.no_grad()`` context: callers wrap it in one (as the applications do) unless they
    differentiate through the rollout.
    """
    guard = DivergenceGuard(energy_band, "the data's (1 per value in standardised units)", name, fix)
    batch = history.shape[0]
    kept = set(save_at) if save_at is not None else None
    frames = history.new_empty(batch, steps // save_every if kept is None else len(kept), *history.shape[2:])
    position = 0
    for n in tqdm(range(1, steps + 1), desc=name, disable=not progress, leave=False):
        state = next_state(history)
        guard.check(state, DATA_MEAN_SQUARE, f"step {first_step + n - 1}", step=first_step + n - 1)
        history = torch.cat([history[:, 1:], state.unsqueeze(1)], dim=1)
        if (n % save_every == 0) if kept is None else (n in kept):
            frames[:, position] = state  # an in-place copy autograd follows when the caller wants gradients
            position += 1
    return frames, history


def advance(
    drift,
    integrator,
    history: torch.Tensor,
    lam: torch.Tensor,
    dt: float,
    steps: int,
    *,
    sigma: torch.Tensor,
    generator: torch.Generator | None = None,
    noise: NoiseSource | None = None,
    **options,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Take ``steps`` steps of the time integrator from the window ``history``, in the driver shape of :func:`pdd_core.sampling.sample`.

    ``integrator.init(drift, dt, sigma, device=, dtype=)`` computes once, on the field's device
    and dtype, what every step reuses (a typed record); ``integrator.step(drift, window, lam, dt,
    coefficients, noise, state)`` returns the next state and the integrator's ``state`` (what a
    multistep method remembers, None to start; it lives for one call). Every random draw comes
    from ``noise`` (:class:`~pdd_core.protocols.NoiseSource`; default: ``GeneratorNoise(generator)``).
    ``options`` are those of :func:`slide` (``save_every``, ``progress``, ``energy_band``,
    ``first_step``); returns the saved states and the final window, so that a rollout can be
    continued exactly (in segments, across processes: :func:`pdd_core.apps.inference.tasks.simulate_run`).
    """
    noise = GeneratorNoise(generator) if noise is None else noise
    coefficients = integrator.init(drift, dt, sigma, device=history.device, dtype=history.dtype)
    state = None

    def next_state(window: torch.Tensor) -> torch.Tensor:
        nonlocal state
        u, state = integrator.step(drift, window, lam, dt, coefficients, noise, state)
        return u

    return slide(next_state, history, steps, **options)


def check_steps(steps, save_every) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise bad_argument("steps", steps, "must be an integer >= 0", "pass the number of Δt steps to take")
    if not isinstance(save_every, int) or isinstance(save_every, bool) or save_every < 1:
        raise bad_argument("save_every", save_every, "must be an integer >= 1", "use 1 to keep every frame")


def _start(drift, initial: torch.Tensor, lam, sigma, *, grid: Grid, scheme, random: bool):
    """A rollout's checked inputs: ``(initial frames, first window, λ [B], σ [B])``; σ > 0 needs a source of noise (``random``)."""
    if initial.ndim == 2 + grid.ndim:
        initial = initial.unsqueeze(1)
    check_field(initial, grid, "initial")
    batch = initial.shape[0]
    lam = as_lambda(lam, batch, "lam", device=initial.device)
    sigma = as_lambda(sigma, batch, "sigma", device=initial.device)
    if bool((sigma > 0).any()) and not random:
        raise bad_argument("generator", None, "σ > 0 needs an explicit source of noise", "pass generator=torch.Generator().manual_seed(seed)")
    initial, history = initial_window(initial, drift.window, grid=grid, lam=lam, scheme=scheme)
    return initial, history, lam, sigma


def rollout(
    drift,
    integrator,
    initial: torch.Tensor,
    lam,
    dt: float,
    steps: int,
    *,
    grid: Grid,
    sigma=0.0,
    generator: torch.Generator | None = None,
    noise: NoiseSource | None = None,
    scheme=None,
    save_every: int = 1,
    progress: bool = False,
    energy_band: float | None = None,
) -> Trajectory:
    """Integrate du = f_λ(window) dt + σ dW for ``steps`` steps of Δt and return a :class:`Trajectory`.

    Args:
        initial: the initial condition ``[B, C, *space]`` or an initial history
            ``[B, T0, C, *space]`` (oldest first). The window before it is zero-padded (B.2).
            If ``scheme`` is given the initial history is fine-scale data and is first
            coarse-grained, u_λ(t0) = C_λ u0(t0) (Algorithm 2, line 2).
        lam: λ per sample (float or ``[B]``), fixed during the rollout.
        sigma: σ_λ per sample (float or ``[B]``); 0 is the deterministic evaluation setting of
            PDD B.5. Use ``scheme.sigma(grid, lam, dt)`` for the model's own noise (D.1).
        generator: the source of the noise; required when any σ > 0 unless ``noise`` is given.
        noise: a :class:`~pdd_core.protocols.NoiseSource` to draw from instead of ``generator``.
        save_every: keep every k-th frame; memory holds the saved frames only, never the
            whole integration history. No autograd context is set: under ``torch.no_grad()``
            no graph is built, outside it gradients flow through the whole rollout.
        energy_band: stop with a clear error when a sample's mean square exceeds it (None: only
            NaN/inf stop the rollout); :data:`~pdd_core.divergence.ROLLOUT_BAND` suits standardised data.

    Returns a path whose frames are the initial history followed by the saved steps.
    """
    check_steps(steps, save_every)
    initial, history, lam, sigma = _start(drift, initial, lam, sigma, grid=grid, scheme=scheme, random=generator is not None or noise is not None)
    options = {"sigma": sigma, "generator": generator, "noise": noise, "save_every": save_every, "progress": progress, "energy_band": energy_band}
    saved, _ = advance(drift, integrator, history, lam, dt, steps, **options)
    return Trajectory(u=torch.cat([initial, saved], dim=1), grid=grid, dt=dt * save_every, lam=lam)


def _save_steps(save_at) -> list[int]:
    """The requested steps, increasing; each an integer >= 0 (0: the initial state)."""
    steps = list(save_at)
    if not steps or any(not isinstance(step, int) or isinstance(step, bool) or step < 0 for step in steps) or len(set(steps)) != len(steps):
        raise bad_argument("save_at", list(save_at), "must be distinct step counts >= 0", "pass e.g. save_at=[0, 10, 100]")
    return sorted(steps)


def rollout_at(
    drift,
    integrator,
    initial: torch.Tensor,
    lam,
    dt: float,
    save_at: Sequence[int],
    *,
    grid: Grid,
    sigma=0.0,
    generator: torch.Generator | None = None,
    noise: NoiseSource | None = None,
    scheme=None,
    progress: bool = False,
    energy_band: float | None = None,
) -> dict[int, torch.Tensor]:
    """Roll out once to the last of ``save_at`` and return ``{n: u(t0 + nΔt)}`` at every step n of ``save_at``.

    The physical-time twin of :func:`pdd_core.sampling.sample_at`: one integration serves every
    save point, and only those states are held. Arguments as in :func:`rollout`; step 0 is the
    last initial state (coarse-grained when ``scheme`` is given).
    """
    steps = _save_steps(save_at)
    initial, history, lam, sigma = _start(drift, initial, lam, sigma, grid=grid, scheme=scheme, random=generator is not None or noise is not None)
    later = [step for step in steps if step > 0]
    options = {"sigma": sigma, "generator": generator, "noise": noise, "save_at": later, "progress": progress, "energy_band": energy_band}
    saved, _ = advance(drift, integrator, history, lam, dt, max(steps), **options)
    states = {0: initial[:, -1]} if 0 in steps else {}
    return states | {step: saved[:, position] for position, step in enumerate(later)}
