"""Turn torch tensors or numpy arrays into checked numpy arrays, and stream them in float64 chunks.

Metrics and plots accept either library. Conversion is zero-copy where possible (a CPU float
tensor shares memory with its numpy view); the float64 cast happens one batch chunk at a time so a
float32 test set of many GiB never needs a float64 copy of itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from pdd_core.errors import ArgumentError, DTypeError, ShapeError, bad_argument

FIELD_LAYOUT = "[B, T, C, *space]"
# Spatial axes a field may have (1D, 2D, 3D grids), as pdd_core.grid allows.
MIN_SPACE_AXES, MAX_SPACE_AXES = 1, 3
# Elements converted to float64 at once (32 MiB of float64, 64 MiB as complex128 after an FFT).
CHUNK_ELEMENTS = 1 << 22


def as_real_array(u: Any, name: str, *, ndim: tuple[int, int], layout: str) -> np.ndarray:
    """Return ``u`` as a finite, real, non-empty numpy array with ``ndim[0] <= u.ndim <= ndim[1]``.

    Raises DTypeError for anything that is not a real numeric tensor/array, ShapeError for a wrong
    number of axes or an empty axis, ArgumentError for NaN/inf values.
    """
    array = _to_numpy(u, name)
    low, high = ndim
    if not low <= array.ndim <= high or array.size == 0:
        raise bad_argument(
            f"{name}.shape", array.shape, f"expected a non-empty array shaped {layout}", f"pass {name} with {low} to {high} axes", kind=ShapeError
        )
    for chunk in _batch_slices(array):
        if not np.isfinite(chunk).all():
            raise bad_argument(
                name,
                "array with NaN/inf",
                "values must be finite",
                f"check the run that produced {name} (a diverged rollout?) before measuring it",
                kind=ArgumentError,
            )
    return array


def as_field(u: Any, name: str) -> np.ndarray:
    """A batch of paths ``[B, T, C, *space]`` with 1 to 3 spatial axes (see :func:`as_real_array`)."""
    return as_real_array(u, name, ndim=(3 + MIN_SPACE_AXES, 3 + MAX_SPACE_AXES), layout=FIELD_LAYOUT)


def float64_chunks(array: np.ndarray) -> Iterator[np.ndarray]:
    """Yield consecutive slices of ``array`` along axis 0, each cast to float64."""
    for chunk in _batch_slices(array):
        yield chunk.astype(np.float64, copy=False)


def check_same_shape(reference: np.ndarray, prediction: np.ndarray, *, from_axis: int = 0) -> None:
    """Require equal shapes from axis ``from_axis`` on (1 lets the sample counts differ)."""
    if reference.shape[from_axis:] != prediction.shape[from_axis:] or reference.ndim != prediction.ndim:
        what = "shapes" if from_axis == 0 else "shapes after the batch axis ([T, C, *space])"
        raise bad_argument(
            "prediction.shape",
            prediction.shape,
            f"{what} must match reference.shape={reference.shape}",
            "compare paths with the same number of frames, channels and grid points",
            kind=ShapeError,
        )


def _to_numpy(u: Any, name: str) -> np.ndarray:
    if isinstance(u, torch.Tensor):
        if u.is_complex() or u.dtype == torch.bool:
            raise bad_argument(
                f"{name}.dtype", u.dtype, "expected a real-valued field", "pass the real field, not its Fourier transform or a mask", kind=DTypeError
            )
        tensor = u.detach().cpu()
        # numpy has no bfloat16/float16 FFT path; float32 keeps every value exactly.
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        return tensor.numpy()
    if isinstance(u, np.ndarray):
        if u.dtype.kind not in "fiu":
            raise bad_argument(
                f"{name}.dtype",
                u.dtype,
                "expected a real numeric array",
                "pass a float array (complex, bool and object arrays are not fields)",
                kind=DTypeError,
            )
        return u
    raise bad_argument(
        name, type(u).__name__, "expected a torch.Tensor or a numpy.ndarray", f"convert {name} with numpy.asarray(...) or torch.as_tensor(...)", kind=DTypeError
    )


def _batch_slices(array: np.ndarray) -> Iterator[np.ndarray]:
    if array.ndim == 0:
        yield array
        return
    per_sample = max(1, array.size // max(1, array.shape[0]))
    step = max(1, CHUNK_ELEMENTS // per_sample)
    for start in range(0, array.shape[0], step):
        yield array[start : start + step]
