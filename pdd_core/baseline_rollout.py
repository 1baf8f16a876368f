"""The conditional simulation baseline of PDD B.4 (GenCast-style conditional diffusion).

At every physical step n the standardised increment δ_n = (u_{n+1} - u_n) / s is *sampled*
rather than predicted: starting from δ ~ N(0, Σ_λmax) of the network's scheme (the
variance-preserving one, γ = 3, in B.4), the reverse RG flow (PDD Eq. 11) is integrated down
to λ_min with any λ-sampler, using the denoising score

    s_λ(δ_λ | u_{n-W+2..n}) = -Σ_λ^{-1/2} ε̂(u_{n-W+2}, ..., u_n, δ_λ; λ)      (PDD B.4, RDM 5.23)

of the network trained by :class:`pdd_core.training.objectives.ConditionalDenoisingObjective`:
its input window is the W - 1 clean states ending at u_n (oldest first, zeros before t0 as in
B.2) followed by the noisy increment. Then u_{n+1} = u_n + s ⊙ δ and the window slides by one
("we generate the residual one step at a time and roll out in physical time by sliding the
conditioning window", B.4). The baseline has no coarse-graining hierarchy, so it simulates at
λ = 0 only. This module holds what the network means (:class:`ConditionalDenoiser`); the
integrator that samples the increments is a solver like the others,
``solvers.conditional_increment.ConditionalIncrement`` (registered as ``conditional-increment``).
"""

from __future__ import annotations

import attrs
import torch

from pdd_core.errors import ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.score.noise_score import inverse_sqrt_covariance
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import as_lambda, check_field


@attrs.frozen(eq=False)
class ConditionalIncrementScore:
    """The score of the noisy increment δ_λ ``[B, 1, C, *space]`` given the clean ``context``.

    ``context`` is ``[B, W-1, C, *space]``: the clean states ending at u_n, oldest first.
    Σ_λ is floored at Σ_Δλ (PDD A.7) as in every noise-prediction score of the package.
    """

    network: object
    context: torch.Tensor
    scheme: object
    grid: Grid
    delta_lambda: float = DEFAULT_DELTA_LAMBDA

    def __call__(self, delta: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        check_field(delta, self.grid, "delta")
        if delta.shape[1] != 1 or delta.shape[0] != self.context.shape[0]:
            raise bad_argument(
                "delta.shape",
                tuple(delta.shape),
                f"expected one increment per context: [{self.context.shape[0]}, 1, C, *space]",
                "sample the increment with T = 1",
                kind=ShapeError,
            )
        lam = as_lambda(lam, delta.shape[0], "lam", device=delta.device)
        noise = self.network(torch.cat([self.context.to(delta.dtype), delta], dim=1), lam).unsqueeze(1)
        # The scheme's closed forms live on the CPU (float64); only the result moves to the field's device.
        scale = inverse_sqrt_covariance(self.scheme, self.grid, lam.cpu(), self.delta_lambda).to(delta.device)
        return irfft(-rfft(noise, self.grid.ndim) * scale, self.grid.shape).to(delta.dtype)


def _check_scale(increment_scale, grid: Grid) -> tuple[float, ...]:
    values = tuple(increment_scale) if increment_scale is not None else ()
    if len(values) != grid.channels or not all(isinstance(s, (int, float)) and 0 < s < float("inf") for s in values):
        raise bad_argument(
            "increment_scale",
            increment_scale,
            f"needs one finite scale > 0 per channel ({grid.channels})",
            "pass the run's objective.increment_scale (in config.json)",
        )
    return values


@attrs.frozen(eq=False)
class ConditionalDenoiser:
    """A trained conditional denoiser as the drift that :class:`solvers.conditional_increment.ConditionalIncrement` steps.

    It says what the network means: the score of the increment given the clean ``context``
    (:class:`ConditionalIncrementScore`) and how a sampled standardised increment δ advances the
    state, u_{n+1} = u_n + s ⊙ δ with ``increment_scale`` s per channel. ``window`` is the
    driver's window: the W - 1 clean states the network sees before the noisy increment.
    """

    network: object
    scheme: object
    grid: Grid
    increment_scale: tuple[float, ...] = attrs.field(validator=lambda denoiser, _, value: _check_scale(value, denoiser.grid))
    delta_lambda: float = DEFAULT_DELTA_LAMBDA

    @property
    def window(self) -> int:
        return context_length_of(self.network)

    def score(self, context: torch.Tensor) -> ConditionalIncrementScore:
        return ConditionalIncrementScore(self.network, context, self.scheme, self.grid, self.delta_lambda)

    def advance(self, context: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """u_{n+1} = u_n + s ⊙ δ from the window ``context`` and the sampled ``delta`` ``[B, 1, C, *space]``."""
        scale = torch.as_tensor(self.increment_scale, dtype=context.dtype, device=context.device).reshape(1, -1, *([1] * self.grid.ndim))
        return context[:, -1] + scale * delta[:, 0]


# The fix a diverging baseline rollout suggests.
BASELINE_FIX = "use more λ steps or an exponential sampler (etd, pc)"


def context_length_of(network) -> int:
    """W - 1: the clean states the conditional denoiser sees before the noisy increment."""
    context_length = int(getattr(network, "window", 0)) - 1
    if context_length < 1:
        raise bad_argument(
            "network.window",
            getattr(network, "window", None),
            "the conditional baseline needs >= 1 clean state plus the noisy increment",
            "use a network with window >= 2 (PDD B.4: 6)",
        )
    return context_length


__all__ = ["BASELINE_FIX", "ConditionalDenoiser", "ConditionalIncrementScore", "context_length_of"]
