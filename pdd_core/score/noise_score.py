"""Scores from a network that predicts the forward noise ε (SA-PDD, DDPM, RDM 5.23)."""

from __future__ import annotations

from typing import Callable

import attrs
import torch

from pdd_core.drifts.windows import apply_to_windows
from pdd_core.grid import Grid
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA
from pdd_core.spectral import irfft, rfft
from pdd_core.validation import as_lambda, check_field


def inverse_sqrt_covariance(scheme, grid: Grid, lam: torch.Tensor, delta_lambda: float) -> torch.Tensor:
    """Σ_λ^{-1/2} per mode with Σ floored at Σ_Δλ (PDD A.7); 0 on excluded modes."""
    step = scheme.transition(grid, 0.0, lam)
    floor = scheme.transition(grid, 0.0, delta_lambda, lam.shape[0]).variance
    variance = torch.maximum(step.variance, floor)
    return torch.where(step.active, variance.clamp_min(torch.finfo(torch.float64).tiny).rsqrt(), torch.zeros(()))


@attrs.frozen
class NoisePredictionScore:
    """s_λ(u) = -Σ_λ^{-1/2} ε̂(u, λ): the score of u_λ = C_λu0 + Σ_λ^{1/2} ε given E[ε | u_λ].

    ``predict_noise(history, lam)`` maps windows ``[B, W, C, *space]`` ending at frame n to
    ε̂ of frame n; it is evaluated on the windows of every frame in one call (a local
    temporal window, all noisy: the unconditional DDPM path model of PDD B.4; with W = 1 and
    T = 1 the static inverse-RG model of RDM 5.23). No autograd is involved.
    """

    predict_noise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    scheme: object
    grid: Grid
    window: int
    delta_lambda: float = DEFAULT_DELTA_LAMBDA

    def predicted_noise(self, u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        return apply_to_windows(self.predict_noise, u, lam, self.window, u.shape[1])

    def __call__(self, u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        check_field(u, self.grid, "u")
        lam = as_lambda(lam, u.shape[0], "lam", device=u.device)
        noise = self.predicted_noise(u, lam)
        scale = inverse_sqrt_covariance(self.scheme, self.grid, lam, self.delta_lambda)
        return irfft(-rfft(noise, self.grid.ndim) * scale.to(u.device), self.grid.shape).to(u.dtype)


def sa_pdd_score(network, scheme, grid: Grid, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> NoisePredictionScore:
    """The SA-PDD score: the noise head of a drift network (``forward_with_noise``)."""
    return NoisePredictionScore(lambda history, lam: network.forward_with_noise(history, lam)[1], scheme, grid, network.window, delta_lambda)


def denoising_score(network, scheme, grid: Grid, delta_lambda: float = DEFAULT_DELTA_LAMBDA) -> NoisePredictionScore:
    """The score of a denoising network trained by denoising score matching (PDD B.4; RDM 5.23)."""
    return NoisePredictionScore(network, scheme, grid, network.window, delta_lambda)
