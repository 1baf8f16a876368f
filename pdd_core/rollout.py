"""The physical-time driver: one loop that owns the history window (PDD Algorithm 2)."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.records import Path
from pdd_core.validation import as_lambda, check_field


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
    scheme=None,
    save_every: int = 1,
    progress: bool = False,
) -> Path:
    """Integrate du = f_λ(window) dt + σ dW for ``steps`` steps of Δt and return a :class:`Path`.

    Args:
        initial: the initial condition ``[B, C, *space]`` or an initial history
            ``[B, T0, C, *space]`` (oldest first). The window before it is zero-padded (B.2).
            If ``scheme`` is given the initial history is fine-scale data and is first
            coarse-grained, u_λ(t0) = C_λ u0(t0) (Algorithm 2, line 2).
        lam: λ per sample (float or ``[B]``), fixed during the rollout.
        sigma: σ_λ per sample (float or ``[B]``); 0 is the deterministic evaluation setting of
            PDD B.5. Use ``scheme.sigma(grid, lam, dt)`` for the model's own noise (D.1).
        generator: the source of the noise; required when any σ > 0.
        save_every: keep every k-th frame; memory holds the saved frames only, never the
            whole integration history, and no autograd graph is built.

    Returns a path whose frames are the initial history followed by the saved steps.
    """
    if initial.ndim == 2 + grid.ndim:
        initial = initial.unsqueeze(1)
    check_field(initial, grid, "initial")
    if not isinstance(steps, int) or steps < 0:
        raise bad_argument("steps", steps, "must be an integer >= 0", "pass the number of Δt steps to take")
    if not isinstance(save_every, int) or save_every < 1:
        raise bad_argument("save_every", save_every, "must be an integer >= 1", "use 1 to keep every frame")
    batch = initial.shape[0]
    lam = as_lambda(lam, batch, "lam", device=initial.device)
    sigma = as_lambda(sigma, batch, "sigma", device=initial.device)
    if bool((sigma > 0).any()) and generator is None:
        raise bad_argument("generator", None, "σ > 0 needs an explicit source of noise", "pass generator=torch.Generator().manual_seed(seed)")
    window = drift.window
    with torch.no_grad():
        if scheme is not None:
            initial = scheme.coarse_grain(initial, grid, lam)
        history = initial.new_zeros(batch, window, *initial.shape[2:])
        kept = min(window, initial.shape[1])
        history[:, window - kept :] = initial[:, initial.shape[1] - kept :]
        frames = initial.new_empty(batch, initial.shape[1] + steps // save_every, *initial.shape[2:])
        frames[:, : initial.shape[1]] = initial
        position = initial.shape[1]
        for n in tqdm(range(1, steps + 1), desc="rollout", disable=not progress, leave=False):
            state = integrator.step(drift, history, lam, dt, sigma, generator)
            if not bool(torch.isfinite(state).all()):
                raise bad_argument("rollout", f"step {n}", "the state became NaN or inf", "reduce Δt, check the drift, or use σ = 0")
            history = torch.cat([history[:, 1:], state.unsqueeze(1)], dim=1)
            if n % save_every == 0:
                frames[:, position] = state
                position += 1
    if position != frames.shape[1]:
        raise bad_argument("frames", position, "internal frame count mismatch", "report this as a bug", kind=ShapeError)
    return Path(u=frames, grid=grid, dt=dt * save_every, lam=lam)
