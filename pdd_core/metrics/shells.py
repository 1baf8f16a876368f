"""Integer wavenumber shells: the binning behind radially averaged (isotropic) power spectra.

A mode with integer wavenumber vector n = (n_1, ..., n_d), n_i in ``fftfreq`` order, belongs to
shell ``round(|n|)``. In 1D shell k holds the two modes ±k (one at k = 0 and, for even N, at
k = N/2), so summing over a shell gives the one-sided spectrum. In 2D the shells beyond
``min(shape) // 2`` are only partly inside the grid (its corners). The physical wavenumber of shell
k is ``2πk / L`` (k itself on the default domain L = 2π).
"""

from __future__ import annotations

import numpy as np


def shell_index(shape: tuple[int, ...]) -> np.ndarray:
    """Shell ``round(|n|)`` of every mode of an FFT over a grid ``shape``, int64 array ``shape``."""
    axes = np.meshgrid(*(np.fft.fftfreq(size, 1.0 / size) for size in shape), indexing="ij")
    return np.rint(np.sqrt(sum(n**2 for n in axes))).astype(np.int64)


def shell_counts(shape: tuple[int, ...]) -> np.ndarray:
    """Number of modes in each shell, int64 ``[n_k]`` (divide a shell sum by it for a per-mode mean)."""
    return np.bincount(shell_index(shape).ravel())


def shell_sum(power: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``power [..., *shape]`` (in FFT order) over each shell, giving ``[..., n_k]``.

    The sum (not the mean) is kept so Parseval holds shell by shell: ``shell_sum(p).sum(-1) ==
    p.sum(over shape)``.
    """
    index = shell_index(shape).ravel()
    n_shells = int(index.max()) + 1
    lead = power.shape[: power.ndim - len(shape)]
    rows = power.reshape(-1, index.size)
    # One bincount over (row, shell) pairs bins every leading row at once.
    combined = (np.arange(rows.shape[0])[:, None] * n_shells + index[None, :]).ravel()
    binned = np.bincount(combined, weights=rows.ravel(), minlength=rows.shape[0] * n_shells)
    return binned.reshape(*lead, n_shells)
