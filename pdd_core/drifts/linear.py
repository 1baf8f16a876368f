"""A Fourier-diagonal linear drift over the history window, for verification."""

from __future__ import annotations

import torch
from torch import nn

from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.spectral import irfft, rfft


class LinearDrift(nn.Module):
    """f̂_λ(k) = Σ_w a_w(k, λ) û_{n-W+1+w}(k), one real coefficient per mode, channel and lag.

    Real coefficients that depend on |k| only make every lag a symmetric circulant operator,
    which is exactly the form of the optimal drift of a linear Gaussian field (PDD Eqs. 47,
    52-54 per Fourier mode). The λ-dependence is piecewise linear between ``lam_nodes``.

    Parameters: ``coefficients`` ``[n_nodes, C, W, *rfft_shape]`` (float64 by default).
    ``conserve_mean=True`` drops the drift's k = 0 mode whatever its coefficients, as the neural
    drifts' switch does: a rollout keeps every channel's spatial mean where it starts, and the
    rollout noise has no k = 0 component for such a drift.
    """

    def __init__(
        self,
        grid: Grid,
        window: int = 5,
        lam_nodes: torch.Tensor | None = None,
        coefficients: torch.Tensor | None = None,
        dtype: torch.dtype = torch.float64,
        conserve_mean: bool = False,
    ):
        super().__init__()
        if not isinstance(conserve_mean, bool):
            raise bad_argument("conserve_mean", conserve_mean, "must be a bool", "pass conserve_mean=True for a system whose spatial mean is conserved", kind=DTypeError)
        self.conserve_mean = conserve_mean
        self.grid = grid
        self.window = window
        nodes = torch.zeros(1, dtype=torch.float64) if lam_nodes is None else torch.as_tensor(lam_nodes, dtype=torch.float64)
        if nodes.ndim != 1 or nodes.numel() < 1 or bool((nodes[1:] <= nodes[:-1]).any()):
            raise bad_argument("lam_nodes", lam_nodes, "must be a strictly increasing 1-d sequence", "pass e.g. torch.linspace(0, 1, 11)")
        self.register_buffer("lam_nodes", nodes)
        shape = (nodes.numel(), grid.channels, window, *grid.rfft_shape)
        if coefficients is None:
            coefficients = torch.zeros(shape, dtype=dtype)
        elif tuple(coefficients.shape) != shape:
            raise bad_argument("coefficients.shape", tuple(coefficients.shape), f"expected {shape} = [n_nodes, C, W, *rfft_shape]", "build one coefficient per node, channel, lag and mode", kind=ShapeError)
        self.coefficients = nn.Parameter(coefficients.clone())
        self._mirror = [(-torch.arange(n)) % n for n in grid.shape[:-1]]
        last = grid.shape[-1]
        self._self_conjugate = [0] + ([last // 2] if last % 2 == 0 else [])

    def _even(self, coefficients: torch.Tensor) -> torch.Tensor:
        """Make a(k) = a(-k) on the rfft columns that hold both k and -k (n_last = 0, N/2).

        Without this a 2-D symbol would not be even and the operator neither real nor
        symmetric; other columns meet their mirror image only implicitly through irfftn.
        """
        if self.grid.ndim == 1:
            return coefficients
        mirrored = coefficients
        for axis, index in enumerate(self._mirror):
            mirrored = mirrored.index_select(coefficients.ndim - self.grid.ndim + axis, index.to(coefficients.device))
        columns = torch.tensor(self._self_conjugate, device=coefficients.device)
        even = coefficients.clone()
        even[..., columns] = 0.5 * (coefficients[..., columns] + mirrored[..., columns])
        return even

    def coefficients_at(self, lam: torch.Tensor) -> torch.Tensor:
        """a_w(k, λ) for each sample: ``[B, C, W, *rfft_shape]`` by linear interpolation in λ."""
        nodes = self.lam_nodes
        coefficients = self._even(self.coefficients)
        if nodes.numel() == 1:
            return coefficients.expand(lam.shape[0], *coefficients.shape[1:])
        lam = lam.to(nodes.dtype).clamp(nodes[0], nodes[-1])
        upper = torch.searchsorted(nodes, lam, right=True).clamp(1, nodes.numel() - 1)
        weight = ((lam - nodes[upper - 1]) / (nodes[upper] - nodes[upper - 1])).to(coefficients.dtype)
        weight = weight.reshape(-1, *([1] * (coefficients.ndim - 1)))
        return (1 - weight) * coefficients[upper - 1] + weight * coefficients[upper]

    def forward(self, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """history ``[B, W, C, *space]`` (oldest first) -> drift ``[B, C, *space]``."""
        if history.ndim != 3 + self.grid.ndim or history.shape[1] != self.window:
            raise bad_argument("history.shape", tuple(history.shape), f"expected [B, {self.window}, C, *space]", "pass windows built by history_windows", kind=ShapeError)
        modes = rfft(history, self.grid.ndim)  # [B, W, C, *rfft]
        weights = self.coefficients_at(lam).transpose(1, 2).to(modes.real.dtype)  # [B, W, C, *rfft]
        drift = (weights * modes).sum(1)
        if self.conserve_mean:  # no k = 0 component: every channel's spatial mean stays where it starts
            drift[(..., *(0,) * self.grid.ndim)] = 0
        return irfft(drift, self.grid.shape).to(history.dtype)
