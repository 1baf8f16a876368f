"""The Well's per-frame error metrics: VRMSE, NRMSE and the binned spectral MSE (Ohana et al. 2024).

Definitions follow ``the_well.benchmark.metrics`` (the-well 1.2.0, ``spatial.py`` and
``spectral.py``) number for number, eps included, so a pdd evaluation can be quoted next to
The Well's tables. With u the reference and û the prediction of one frame and channel, means
over the N grid points:

* NRMSE = sqrt( mean (û - u)² / (mean u² + ε) )                       (``NRMSE``, norm_mode "norm")
* VRMSE = sqrt( mean (û - u)² / (var u + ε) ), var with Bessel's (N-1)   (``VRMSE``: ``torch.std`` default)
* binned spectral MSE: the MSE restricted to isotropic wavenumber bins (``binned_spectral_mse``):
  ``mse_b = Σ_{|k| in bin b} |F[û - u](k)|² / N²`` with F the unnormalised FFT over space, so that
  by Parseval the bins add up to the MSE; ``nmse_b = mse_b / (Σ_{|k| in b} |F[u]|² / N² + ε)``.

ε = 1e-7 throughout, as in the_well. Wavenumbers are in radians per grid cell
(``2π · fftfreq(N)``, the_well's ``sample_spacing = 1``), so the bins do not depend on the domain
length; the default bins are the_well's three (roughly log-spaced) bands with edges
``0, 2π/max(N)·r, 2π/max(N)·r², π√d (+1e-6)`` (``logspace`` over 4 points). Modes beyond the
last edge (the corners of a 2D grid) belong to no bin, as in the_well.

Arrays are pdd's ``[B, T, C, *space]`` (channels before space; the_well puts them last);
results are float64 ``[B, T, C]`` (per bin: ``[B, T, C, n_bins]``). The_well evaluates in
physical units (it denormalises before scoring), so pass physical values to quote its numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pdd_core.metrics.arrays import as_field, check_same_shape, float64_chunks
from pdd_core.metrics.normalization import CHANNEL_AXIS

# the_well's eps of every normalised metric (spatial.py, spectral.py).
WELL_EPS = 1e-7
# the_well's default binning: logspace over this many edges, i.e. three bands.
DEFAULT_EDGES = 4


def nrmse(reference: Any, prediction: Any) -> np.ndarray:
    """The_well's NRMSE per sample, frame and channel, float64 ``[B, T, C]`` (module docstring)."""
    ref, error2 = _pair(reference, prediction)
    return np.sqrt(error2.mean(axis=-1) / ((ref**2).mean(axis=-1) + WELL_EPS))


def vrmse(reference: Any, prediction: Any) -> np.ndarray:
    """The_well's VRMSE per sample, frame and channel, float64 ``[B, T, C]`` (module docstring).

    VRMSE = 1 is the error of predicting the frame's spatial mean everywhere.
    """
    ref, error2 = _pair(reference, prediction)
    return np.sqrt(error2.mean(axis=-1) / (ref.var(axis=-1, ddof=1) + WELL_EPS))


def well_bins(shape: tuple[int, ...]) -> torch.Tensor:
    """The_well's default bin edges for a grid ``shape``: float32, 4 edges, the first set to 0.

    Computed with the same float32 torch calls as ``binned_spectral_mse``: the grid's corner
    mode, |k| = π√d, lies 1e-6 (a few float32 ulps) below the last edge, so only the same
    rounding is sure to put every mode in the same bin.
    """
    edges = torch.logspace(np.log10(2 * np.pi / max(shape)), np.log10(np.pi * np.sqrt(len(shape)) + 1e-6), DEFAULT_EDGES)
    edges[0] = 0.0
    return edges


def binned_spectral_mse(reference: Any, prediction: Any, bins: Any = None) -> dict[str, np.ndarray]:
    """The_well's binned spectral MSE: ``{"mse": [B, T, C, n_bins], "nmse": [B, T, C, n_bins], "edges": [n_bins + 1]}``.

    ``bins``: increasing edges in radians per grid cell (default :func:`well_bins`); bin b holds
    the modes with ``edges[b] <= |k| < edges[b + 1]``. ``nmse`` divides by the reference's
    power in the same bin (module docstring).
    """
    ref = as_field(reference, "reference")
    pred = as_field(prediction, "prediction")
    check_same_shape(ref, pred)
    space = ref.shape[CHANNEL_AXIS + 1 :]
    edges = well_bins(space) if bins is None else torch.as_tensor(bins, dtype=torch.float32)
    index = _bin_index(space, edges)
    n_bins = len(edges) - 1
    n_points = float(np.prod(space))
    axes = tuple(range(CHANNEL_AXIS + 1, ref.ndim))

    def binned_power(field: np.ndarray) -> np.ndarray:
        power = np.abs(np.fft.fftn(field, axes=axes)) ** 2
        flat = power.reshape(*power.shape[: CHANNEL_AXIS + 1], -1)
        sums = np.stack([flat[..., index == b].sum(axis=-1) for b in range(n_bins)], axis=-1)
        # the_well averages each bin, dividing by count + 1e-7, and multiplies the count back;
        # the count is an integer tensor, so that sum is float32 and the 1e-7 vanishes: a plain sum.
        return sums / n_points**2

    # One batch chunk at a time: the complex FFT of a whole test set need not fit in memory.
    mse, norm = [], []
    for ref_chunk, pred_chunk in zip(float64_chunks(ref), float64_chunks(pred)):
        mse.append(binned_power(pred_chunk - ref_chunk))
        norm.append(binned_power(ref_chunk))
    mse = np.concatenate(mse)
    return {"mse": mse, "nmse": mse / (np.concatenate(norm) + WELL_EPS), "edges": edges.double().numpy()}


def _bin_index(space: tuple[int, ...], edges: torch.Tensor) -> np.ndarray:
    """Bin of every mode (FFT order, flattened); ``len(edges) - 1`` for modes beyond the last edge.

    |k| is accumulated in float32 axis by axis exactly as the_well's ``power_spectrum`` does.
    """
    wavenumber2 = torch.zeros(space)
    for axis, size in enumerate(space):
        k = (2 * np.pi * torch.fft.fftfreq(size, d=1.0)).reshape((size,) + (1,) * (len(space) - 1))
        wavenumber2 += torch.moveaxis(k, 0, axis) ** 2
    return (torch.bucketize(torch.sqrt(wavenumber2).flatten(), edges, right=True) - 1).numpy()


def _pair(reference: Any, prediction: Any) -> tuple[np.ndarray, np.ndarray]:
    """The reference and the squared error in float64, with space flattened: ``[B, T, C, N]`` each."""
    ref = as_field(reference, "reference")
    pred = as_field(prediction, "prediction")
    check_same_shape(ref, pred)
    flat = ref.shape[: CHANNEL_AXIS + 1] + (-1,)
    ref64 = ref.astype(np.float64).reshape(flat)
    return ref64, (pred.astype(np.float64).reshape(flat) - ref64) ** 2


__all__ = ["WELL_EPS", "binned_spectral_mse", "nrmse", "vrmse", "well_bins"]
