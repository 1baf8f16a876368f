"""The residual denoiser: an exact base-law noise prediction plus a learned correction (RDM 5.23).

The reverse SDE 5.25 is stable only if the reverse drift κ + b² ∂s_θ/∂φ keeps the sign of the
exact one (-κ for a mode in equilibrium); a network that gets each mode's gain only to ~10 %
can break that on the stiff modes (an earlier draft recorded divergence after 1000 training
steps of a plain network). The network therefore learns a correction to an exact baseline,
ε̂ = ε̂_base + ε̂_θ, where ε̂_base = E_base[ε | φ_t] for the base law with the data's power
spectrum G_p on every non-zero mode (independent Gaussians) and, on the zero mode, the
Z2-symmetric pair ½N(±a, w²) whose second and fourth moments equal the data's
(:func:`zero_mode_moment_law`). The flow of ẑ is linear, so its cumulants flow as κ_k → C̃^k κ_k
(plus Σ̃ on κ_2): the base law's flowed G̃2(0) and connected G̃4(0), and with them λ_R's zero-mode
input, are then exact at every t, and the network only has to correct higher cumulants and the
non-zero modes' couplings. (A likelihood choice between the Gaussian and the pair with
a = ⟨|ẑ|⟩, w² = Var|ẑ| kept the pair's kurtosis ~2 at RDM's m² = 0.01, against the data's 2.24,
and the learned λ_R came out 25-58 % high at every t.) Flowed exactly, per mode (C = C̃_t, Σ = Σ̃_t):

    ε̂_base(p ≠ 0) = sqrt(Σ) φ̂_t / (C² G_p + Σ),
    ε̂_base(0)     = sqrt(Σ) (ẑ_t - C a tanh(C a ẑ_t / V)) / V,   V = C² w² + Σ,

i.e. -sqrt(Σ) times the exact score of the flowed base law (Tweedie); with a = 0 the second line is
the first with G_0 = w². The networks' output layers are zero-initialised, so an untrained model
samples the base law exactly.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import nn

from pdd_core.apps.lattice.inverse_rg.times import mode_power, zero_mode
from pdd_core.config import from_tagged, tagged
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SCHEMES
from pdd_core.spectral import irfft, rfft
from pdd_core.training.config import ModelConfig
from pdd_core.training.models import MODELS, build_model
from pdd_core.validation import as_lambda

RESIDUAL_MODEL = "rg-residual"
RESIDUAL_KEYS = frozenset({"network", "network_overrides", "scheme", "power", "zero_mode_mean", "zero_mode_variance"})
TINY = torch.finfo(torch.float64).tiny


@attrs.frozen(eq=False)
class BaseLaw:
    """G_p per orthonormal rfft mode (its zero-mode entry unused) and the zero-mode pair ½N(±a, w²)
    (a = 0: the Gaussian N(0, w²))."""

    power: torch.Tensor
    zero_mean: float
    zero_variance: float

    @classmethod
    def of_fields(cls, fields: torch.Tensor, grid: Grid) -> "BaseLaw":
        """The base law of fields ``[n, *grid.shape]``: their G_p and the zero-mode law of the module docstring."""
        zero_mean, zero_variance = zero_mode_moment_law(zero_mode(fields.to(torch.float64)))
        return cls(mode_power(fields, grid), zero_mean, zero_variance)


def zero_mode_moment_law(zero: torch.Tensor) -> tuple[float, float]:
    """(a, w²) of the pair ½N(±a, w²) with the second and fourth moments m2, m4 of ``zero`` ``[n]``.

    The pair has m2 = a² + w² and m4 = 3 m2² - 2 a⁴, so a⁴ = (3 m2² - m4) / 2 and w² = m2 - a²
    (>= 0 since m4 >= m2²). A kurtosis m4 / m2² >= 3 is out of the pair's reach; the Gaussian
    a = 0, w² = m2 is then the closest.
    """
    m2, m4 = float(zero.pow(2).mean()), float(zero.pow(4).mean())
    if not m2 > 0:
        raise bad_argument("fields", "samples with a constant zero mode", "the zero mode's spread is 0", "pass samples that fluctuate")
    shift = max(0.0, 0.5 * (3.0 * m2**2 - m4)) ** 0.25
    return shift, m2 - shift**2


def baseline_noise(u_hat: torch.Tensor, damping: torch.Tensor, variance: torch.Tensor, law: BaseLaw) -> torch.Tensor:
    """ε̂_base per orthonormal rfft mode (module docstring), float64.

    ``u_hat`` ``[B, C, *rfft]``; ``damping``, ``variance`` ``[B, 1, *rfft]`` (C̃_t, Σ̃_t).
    """
    power = law.power.to(u_hat.device)
    # The floor only matters at t = 0 on data-free modes (G = Σ = 0), where ε̂ = 0 · φ̂ / floor = 0.
    noise = variance.sqrt() * u_hat / (damping**2 * power + variance).clamp_min(TINY)
    origin = (slice(None), slice(None), *([0] * (u_hat.ndim - 2)))
    z, c, sigma2 = u_hat[origin].real, damping[origin], variance[origin]
    spread = (c**2 * law.zero_variance + sigma2).clamp_min(TINY)
    shift = c * law.zero_mean
    noise[origin] = (sigma2.sqrt() * (z - shift * torch.tanh(shift * z / spread)) / spread).to(noise.dtype)
    return noise


class ResidualDenoiser(nn.Module):
    """ε̂(φ_t, t) = ε̂_base(φ_t, t) + network(φ_t, t) (module docstring).

    Same call as the drift networks (``history`` ``[B, W, C, *space]``, λ ``[B]``); the base term
    uses the last frame of the window. The base law is a plain attribute, not a buffer, so the
    trainer's dtype cast never rounds it; it is rebuilt from the model config on loading.
    """

    def __init__(self, network: nn.Module, scheme: Any, grid: Grid, law: BaseLaw):
        super().__init__()
        self.network = network
        self.window = network.window
        self.scheme = scheme
        self.grid = grid
        self.law = law

    def forward(self, history: torch.Tensor, lam) -> torch.Tensor:
        lam = as_lambda(lam, history.shape[0], "lam")
        step = self.scheme.transition(self.grid, 0.0, lam.cpu(), history.shape[0])
        device = history.device
        u_hat = rfft(history[:, -1].to(torch.float64), self.grid.ndim)
        base = baseline_noise(u_hat, step.damping[:, 0].to(device), step.variance[:, 0].to(device), self.law)
        return irfft(base, self.grid.shape).to(history.dtype) + self.network(history, lam)


def residual_model_config(network: ModelConfig, scheme: Any, law: BaseLaw) -> ModelConfig:
    """The :class:`ResidualDenoiser` config around ``network`` for a run that trains with ``scheme``."""
    overrides = {
        "network": network.name,
        "network_overrides": dict(network.overrides),
        "scheme": tagged(scheme, SCHEMES),
        "power": law.power.tolist(),
        "zero_mode_mean": law.zero_mean,
        "zero_mode_variance": law.zero_variance,
    }
    return ModelConfig(RESIDUAL_MODEL, network.preset, overrides)


@MODELS.register(RESIDUAL_MODEL)
def build_residual(grid: Grid, window: int, noise_head: bool, preset: str | None, overrides: dict[str, Any]) -> nn.Module:
    """:class:`ResidualDenoiser` from the overrides of :func:`residual_model_config` (the inner network's
    preset is the run's preset)."""
    missing, unknown = RESIDUAL_KEYS - set(overrides), set(overrides) - RESIDUAL_KEYS
    if missing or unknown:
        problem = f"missing {sorted(missing)}" if missing else f"unknown keys {sorted(unknown)}"
        problem = f"the {RESIDUAL_MODEL} model needs {sorted(RESIDUAL_KEYS)} ({problem})"
        raise bad_argument("model.overrides", sorted(overrides), problem, "build it with residual_model_config(...)", kind=ConfigError)
    network = build_model(overrides["network"], grid, window, noise_head=noise_head, preset=preset, overrides=overrides["network_overrides"])
    power = torch.tensor(overrides["power"], dtype=torch.float64)
    if tuple(power.shape) != grid.rfft_shape:
        problem = f"expected the rfft shape {grid.rfft_shape} of the grid"
        raise bad_argument("model.overrides.power", tuple(power.shape), problem, "build it with residual_model_config(...)", kind=ConfigError)
    law = BaseLaw(power, float(overrides["zero_mode_mean"]), float(overrides["zero_mode_variance"]))
    return ResidualDenoiser(network, from_tagged(overrides["scheme"], SCHEMES), grid, law)


__all__ = ["BaseLaw", "RESIDUAL_MODEL", "ResidualDenoiser", "baseline_noise", "build_residual", "residual_model_config"]
