"""Periodic grids and their squared-wavenumber symbols on the rfft layout.

Two symbols of the Laplacian are offered:

* ``continuous``: |k|² with k_i = 2π n_i / L_i (PDD Eqs. 12-18; integers on [0, 2π)).
* ``lattice``: |p̂|² = Σ_i 4 sin²(π n_i / N_i) / ε_i², ε_i = L_i / N_i (RDM Eq. 5.13), the
  eigenvalues of minus the nearest-neighbour lattice Laplacian.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import attrs
import torch

from pdd_core.errors import bad_argument

Symbol = Literal["continuous", "lattice"]
SYMBOLS: tuple[str, ...] = ("continuous", "lattice")
MAX_DIMENSIONS = 3


def _as_int_tuple(value) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,)
    return tuple(value)


def _as_float_tuple(value) -> tuple[float, ...]:
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(v) for v in value)


def _check_shape(instance, attribute, value: tuple[int, ...]) -> None:
    if not 1 <= len(value) <= MAX_DIMENSIONS:
        raise bad_argument("shape", value, f"a grid has 1 to {MAX_DIMENSIONS} spatial axes", "pass e.g. shape=(128,) or shape=(64, 64)")
    for size in value:
        if not isinstance(size, int) or isinstance(size, bool) or size < 2:
            raise bad_argument("shape", value, "every axis needs an integer size >= 2", "pass positive integer sizes, e.g. shape=(64, 64)")


def _check_length(instance, attribute, value: tuple[float, ...]) -> None:
    if len(value) not in (1, len(instance.shape)):
        raise bad_argument("length", value, f"needs one value or one per axis ({len(instance.shape)})", "pass a single float or a tuple matching shape")
    if not all(math.isfinite(v) and v > 0 for v in value):
        raise bad_argument("length", value, "domain lengths must be finite and > 0", "pass e.g. length=2*math.pi")


def _check_channels(instance, attribute, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise bad_argument("channels", value, "must be an integer >= 1", "pass channels=1 for a scalar field")


def _check_symbol(instance, attribute, value: str) -> None:
    if value not in SYMBOLS:
        raise bad_argument("symbol", value, f"unknown wavenumber symbol, expected one of {SYMBOLS}", "use 'continuous' (PDD) or 'lattice' (RDM)")


@attrs.frozen
class Grid:
    """A periodic domain ``[0, L_1) x ... x [0, L_d)`` sampled on ``shape`` points.

    Fields live in tensors shaped ``[B, T, C, *shape]`` with ``C = channels``.
    """

    shape: tuple[int, ...] = attrs.field(converter=_as_int_tuple, validator=_check_shape)
    length: tuple[float, ...] = attrs.field(default=(2 * math.pi,), converter=_as_float_tuple, validator=_check_length)
    channels: int = attrs.field(default=1, validator=_check_channels)
    symbol: Symbol = attrs.field(default="continuous", validator=_check_symbol)

    @property
    def ndim(self) -> int:
        """Number of spatial axes d."""
        return len(self.shape)

    @property
    def lengths(self) -> tuple[float, ...]:
        """Domain length per axis (a single ``length`` is broadcast)."""
        return self.length * self.ndim if len(self.length) == 1 else self.length

    @property
    def spacing(self) -> tuple[float, ...]:
        """Grid spacing ε_i = L_i / N_i per axis."""
        return tuple(L / n for L, n in zip(self.lengths, self.shape))

    @property
    def n_points(self) -> int:
        """Number of spatial points Π N_i (per channel)."""
        return math.prod(self.shape)

    @property
    def cell_volume(self) -> float:
        """Δx = Π ε_i, the measure of one grid cell."""
        return math.prod(self.spacing)

    @property
    def rfft_shape(self) -> tuple[int, ...]:
        """Shape of the rfftn output over the spatial axes (last axis halved)."""
        return (*self.shape[:-1], self.shape[-1] // 2 + 1)

    @property
    def field_axes(self) -> tuple[int, ...]:
        """Negative axis indices of the spatial axes in a ``[..., *shape]`` tensor."""
        return tuple(range(-self.ndim, 0))

    def k2(self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
        """Squared wavenumber symbol on the rfft layout, shape ``rfft_shape`` (cached)."""
        return _k2_table(self, dtype, torch.device(device) if device is not None else torch.device("cpu"))

    def mode_multiplicity(self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
        """How many full-FFT modes each rfft mode stands for (1 or 2), shape ``rfft_shape``.

        A sum over the full spectrum equals ``(multiplicity * x).sum()`` over the rfft layout,
        because modes with 0 < n_last < N/2 appear with their complex conjugate.
        """
        return _multiplicity_table(self, dtype, torch.device(device) if device is not None else torch.device("cpu"))

    def check_field(self, u: torch.Tensor, name: str = "u", *, leading: int = 2) -> None:
        """Raise a clear error unless ``u`` is a finite float tensor ``[*lead, C, *shape]``."""
        from pdd_core.validation import check_field

        check_field(u, self, name, leading=leading)


@functools.lru_cache(maxsize=64)
def _k2_table(grid: Grid, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    axes = []
    for axis, (n, length) in enumerate(zip(grid.shape, grid.lengths)):
        last = axis == grid.ndim - 1
        index = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64) if last else torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
        if grid.symbol == "continuous":
            squared = (2 * math.pi * index / length) ** 2
        else:
            spacing = length / n
            squared = (2.0 / spacing * torch.sin(math.pi * index / n)) ** 2
        axes.append(squared)
    meshes = torch.meshgrid(*axes, indexing="ij")
    return sum(meshes).to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _multiplicity_table(grid: Grid, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    n_last = grid.shape[-1]
    weights = torch.full((n_last // 2 + 1,), 2.0, dtype=torch.float64)
    weights[0] = 1.0
    if n_last % 2 == 0:
        weights[-1] = 1.0
    return weights.expand(grid.rfft_shape).to(dtype=dtype, device=device).contiguous()


__all__ = ["Grid", "SYMBOLS"]
