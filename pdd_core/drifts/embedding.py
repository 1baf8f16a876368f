"""The inputs of a neural drift: the history window as channels, λ as FiLM conditioning (PDD B.2).

PDD B.2 concatenates the current state and the W-1 previous ones along the channel axis
(W·C input channels) and gives the diffusion scale λ to the network by Feature-wise Linear
Modulation (FiLM; Perez et al., 2018): every block rescales and shifts its features by
amounts computed from λ. λ is a continuous real number (λ ~ U(0, 1) in training, PDD
Algorithm 1), so it is embedded by sinusoids at fixed log-spaced frequencies, never by an
index into a table. :class:`DriftNetwork` does the input handling and checks once, for the
U-Net and the FNO alike.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pdd_core.drifts.forcing_part import ForcingPart
from pdd_core.drifts.linear_part import LinearPart
from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.validation import FLOAT_DTYPES, as_lambda, check_positive


def check_count(name: str, value: int, minimum: int = 1) -> None:
    """Require an integer >= ``minimum`` (bools rejected)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", f"pass an integer {name} >= {minimum}")


class LambdaEmbedding(nn.Module):
    """e(λ) = MLP([sin(ω_j λ), cos(ω_j λ)]_j), ω_j log-spaced in [min_frequency, max_frequency].

    The phases ω_j λ are formed in float64 (λ arrives as float64, PDD protocol) so that
    large frequencies keep full resolution; the features are then cast to the network's
    dtype. The frequencies are recomputed from the settings, not stored, so ``.float()`` /
    ``.double()`` cannot round them. The MLP (Linear, SiLU, Linear, SiLU) outputs ``[B, dim]``
    features that every :class:`FiLM` layer reads.
    """

    def __init__(self, dim: int = 128, n_frequencies: int = 32, min_frequency: float = 0.1, max_frequency: float = 1000.0):
        super().__init__()
        check_count("embedding_dim", dim)
        check_count("n_frequencies", n_frequencies)
        check_positive("min_frequency", min_frequency)
        check_positive("max_frequency", max_frequency)
        if max_frequency < min_frequency:
            raise bad_argument("max_frequency", max_frequency, f"must be >= min_frequency={min_frequency}", "swap the two frequencies")
        self.dim = dim
        self.n_frequencies = n_frequencies
        self.min_frequency = float(min_frequency)
        self.max_frequency = float(max_frequency)
        self.mlp = nn.Sequential(nn.Linear(2 * n_frequencies, dim), nn.SiLU(), nn.Linear(dim, dim), nn.SiLU())

    def frequencies(self, device: torch.device) -> torch.Tensor:
        """ω_j, float64 ``[n_frequencies]`` (radians per unit λ)."""
        return torch.logspace(math.log10(self.min_frequency), math.log10(self.max_frequency), self.n_frequencies, dtype=torch.float64, device=device)

    def forward(self, lam: torch.Tensor) -> torch.Tensor:
        """λ ``[B]`` (any float dtype) -> features ``[B, dim]`` in the dtype of the MLP weights."""
        phases = lam.to(torch.float64)[:, None] * self.frequencies(lam.device)
        features = torch.cat([phases.sin(), phases.cos()], dim=1)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class FiLM(nn.Module):
    """h ↦ h · (1 + γ(e)) + β(e), per channel, with (γ, β) = Linear(e) (Perez et al., 2018).

    The projection is zero-initialised, so an untrained FiLM layer is the identity
    (scale exactly 1, shift exactly 0) and λ enters smoothly as training moves it.
    """

    def __init__(self, embedding_dim: int, channels: int):
        super().__init__()
        self.projection = nn.Linear(embedding_dim, 2 * channels)
        nn.init.zeros_(self.projection.weight)
        nn.init.zeros_(self.projection.bias)

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """h ``[B, channels, *space]``, embedding ``[B, embedding_dim]`` -> modulated h."""
        scale, shift = self.projection(embedding).chunk(2, dim=1)
        spatial = (1,) * (h.ndim - 2)
        return h * (1 + scale.reshape(*scale.shape, *spatial)) + shift.reshape(*shift.shape, *spatial)


class DriftNetwork(nn.Module):
    """Base of the neural drifts f_λ^θ(history) ≈ ∂t u (PDD Eq. 6, B.2); implements ``Drift``.

    ``forward(history, lam)``: ``history`` ``[B, W, C, *space]`` (oldest first, zero-padded
    before t0 by the caller), ``lam`` float64 ``[B]`` (or a float, broadcast). The W states
    are concatenated along channels (channel index w·C + c) and cast to the parameters'
    dtype; the drift ``[B, C, *space]`` comes back in the dtype of ``history``.

    With ``noise_head=True`` a second head on the same trunk predicts the forward-process
    noise ε of the current (last) state, for the SA-PDD score -Σ_λ^{-1/2} ε̂
    (:meth:`forward_with_noise`). Subclasses build ``trunk(x, embedding) -> features``,
    ``drift_head`` and ``noise_head`` (None when disabled) and may add spatial checks in
    ``check_space``. ``linear_part=True`` adds a λ-dependent linear operator of the window to the
    drift (:class:`~pdd_core.drifts.linear_part.LinearPart`), which sees the amplitude and the
    spatial mean that the trunk's normalisations remove. ``conserve_mean=True`` removes the
    drift's k = 0 component, so a rollout conserves every channel's spatial mean exactly (the mean
    vorticity of a periodic flow is a constant of motion). ``forcing_part=True`` adds a learned,
    λ-dependent field on the grid ``space`` (:class:`~pdd_core.drifts.forcing_part.ForcingPart`):
    the fixed forcing pattern that a translation-equivariant trunk cannot produce.
    """

    def __init__(
        self,
        channels: int,
        window: int,
        ndim: int,
        embedding_dim: int,
        noise_head: bool,
        linear_part: bool = False,
        conserve_mean: bool = False,
        forcing_part: bool = False,
        space: tuple[int, ...] | None = None,
    ):
        super().__init__()
        check_count("channels", channels)
        check_count("window", window)
        if ndim not in (1, 2):
            raise bad_argument("ndim", ndim, "neural drifts exist for 1 and 2 spatial dimensions", "pass ndim=1 (Lorenz-96, KS) or ndim=2 (Kolmogorov flow)")
        if not isinstance(noise_head, bool):
            raise bad_argument("noise_head", noise_head, "must be a bool", "pass noise_head=True for SA-PDD, else False", kind=DTypeError)
        self.channels = channels
        self.window = window
        self.ndim = ndim
        self.has_noise_head = noise_head
        self.embedding = LambdaEmbedding(embedding_dim)
        if not isinstance(linear_part, bool):
            raise bad_argument("linear_part", linear_part, "must be a bool", "pass linear_part=True to add the λ-dependent linear part", kind=DTypeError)
        self.linear_part = LinearPart(ndim, window * channels, channels, embedding_dim) if linear_part else None
        if not isinstance(conserve_mean, bool):
            raise bad_argument("conserve_mean", conserve_mean, "must be a bool", "pass conserve_mean=True for a system whose spatial mean is conserved", kind=DTypeError)
        self.conserve_mean = conserve_mean
        if not isinstance(forcing_part, bool):
            raise bad_argument("forcing_part", forcing_part, "must be a bool", "pass forcing_part=True to add a learned forcing field", kind=DTypeError)
        if forcing_part and (space is None or len(space) != ndim):
            raise bad_argument("space", space, f"a forcing field needs the grid's {ndim} spatial sizes", "pass space=grid.shape (the trainer does)", kind=ShapeError)
        self.forcing_part = ForcingPart(channels, tuple(space), embedding_dim) if forcing_part else None

    @property
    def in_channels(self) -> int:
        """W·C: the history window stacked along channels (PDD B.2)."""
        return self.window * self.channels

    def check_space(self, space: tuple[int, ...]) -> None:
        """Hook for architecture limits on the spatial size (divisibility, Fourier modes)."""

    def _inputs(self, history: torch.Tensor, lam) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(history, torch.Tensor):
            raise bad_argument("history", type(history).__name__, "expected a torch.Tensor", "wrap arrays with torch.as_tensor(...)", kind=DTypeError)
        if history.dtype not in FLOAT_DTYPES:
            fix = "call history.float() or history.double()"
            raise bad_argument("history.dtype", history.dtype, "only float32 and float64 histories are supported", fix, kind=DTypeError)
        expected = f"[B, W={self.window}, C={self.channels}, *space] with {self.ndim} spatial axes"
        if history.ndim != 3 + self.ndim or history.shape[1] != self.window or history.shape[2] != self.channels:
            fix = "build windows with pdd_core.drifts.windows.history_windows and a network of matching channels/window"
            raise bad_argument("history.shape", tuple(history.shape), f"expected {expected}", fix, kind=ShapeError)
        self.check_space(tuple(history.shape[3:]))
        lam = as_lambda(lam, history.shape[0], "lam", device=history.device)
        dtype = self.embedding.mlp[0].weight.dtype
        x = history.reshape(history.shape[0], self.in_channels, *history.shape[3:]).to(dtype)
        return x, self.embedding(lam)

    def forward(self, history: torch.Tensor, lam) -> torch.Tensor:
        """The drift f_λ(history) ``[B, C, *space]`` in the dtype of ``history``."""
        x, embedding = self._inputs(history, lam)
        return self._drift(self.trunk(x, embedding), x, embedding).to(history.dtype)

    def _drift(self, features: torch.Tensor, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        drift = self.drift_head(features)
        if self.linear_part is not None:
            drift = drift + self.linear_part(x, embedding)
        if self.forcing_part is not None:
            drift = drift + self.forcing_part(embedding, tuple(x.shape[2:]))
        if self.conserve_mean:  # no k = 0 component: every channel's spatial mean stays where it starts
            drift = drift - drift.mean(dim=tuple(range(2, drift.ndim)), keepdim=True)
        return drift

    def forward_with_noise(self, history: torch.Tensor, lam) -> tuple[torch.Tensor, torch.Tensor]:
        """(drift, ε̂), both ``[B, C, *space]``, from one trunk evaluation (SA-PDD)."""
        if not self.has_noise_head:
            raise bad_argument("noise_head", False, "this network has no noise head, so it cannot predict ε", "build the network with noise_head=True")
        x, embedding = self._inputs(history, lam)
        features = self.trunk(x, embedding)
        return self._drift(features, x, embedding).to(history.dtype), self.noise_head(features).to(history.dtype)


__all__ = ["DriftNetwork", "FiLM", "LambdaEmbedding", "check_count"]
