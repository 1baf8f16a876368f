"""The Well's VRMSE, NRMSE and binned spectral MSE: closed forms here, and the_well's own code when installed."""

import numpy as np
import pytest
import torch

from pdd_core.errors import ShapeError
from pdd_core.metrics import binned_spectral_mse, nrmse, vrmse, well_bins

SHAPES = [(3, 4, 2, 32), (2, 3, 1, 16, 12)]


def pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    reference = 1.5 + rng.standard_normal(shape)
    return reference, reference + 0.3 * rng.standard_normal(shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_against_the_well(shape):
    """Equal to the_well.benchmark.metrics on the same arrays (channels moved last, as it expects)."""
    pytest.importorskip("the_well")
    from the_well.benchmark.metrics import NRMSE, VRMSE
    from the_well.benchmark.metrics import binned_spectral_mse as well_binned
    from the_well.data.datasets import WellMetadata

    reference, prediction = pair(shape)
    space = shape[3:]
    meta = WellMetadata("test", len(space), space, [], [], {0: [f"c{c}" for c in range(shape[2])]}, {}, [], 1, [shape[0]], [shape[1]])
    last = lambda a: torch.from_numpy(np.moveaxis(a, 2, -1))  # noqa: E731
    first = lambda t: np.moveaxis(t.numpy(), -1, 2)  # noqa: E731
    np.testing.assert_allclose(vrmse(reference, prediction), first(VRMSE()(last(prediction), last(reference), meta)), rtol=1e-6, atol=0)
    np.testing.assert_allclose(nrmse(reference, prediction), first(NRMSE()(last(prediction), last(reference), meta)), rtol=1e-6, atol=0)
    theirs = well_binned()(last(prediction), last(reference), meta)
    ours = binned_spectral_mse(reference, prediction)
    assert ours["mse"].shape == (*shape[:3], 3)
    for b in range(3):
        np.testing.assert_allclose(ours["mse"][..., b], first(theirs[f"spectral_error_mse_per_bin_{b}"]), rtol=1e-6, atol=0)
        np.testing.assert_allclose(ours["nmse"][..., b], first(theirs[f"spectral_error_nmse_per_bin_{b}"]), rtol=1e-6, atol=0)


def test_predicting_the_spatial_mean():
    """Predicting each frame's spatial mean: VRMSE = sqrt((N-1)/N) (Bessel's var), NRMSE = sqrt(var / mean square)."""
    reference, _ = pair((2, 3, 2, 20))
    prediction = np.broadcast_to(reference.mean(axis=-1, keepdims=True), reference.shape)
    n = reference.shape[-1]
    np.testing.assert_allclose(vrmse(reference, prediction), np.sqrt((n - 1) / n) * np.sqrt(reference.var(-1, ddof=1) / (reference.var(-1, ddof=1) + 1e-7)), rtol=1e-12)
    np.testing.assert_allclose(nrmse(reference, prediction), np.sqrt(reference.var(-1) / ((reference**2).mean(-1) + 1e-7)), rtol=1e-12)


def test_bins_add_up_to_the_mse_in_1d():
    """Parseval: in 1D every mode lies in a bin (|k| <= π < last edge), so the bins sum to the MSE."""
    reference, prediction = pair(SHAPES[0])
    mse = ((prediction - reference) ** 2).mean(axis=-1)
    np.testing.assert_allclose(binned_spectral_mse(reference, prediction)["mse"].sum(axis=-1), mse, rtol=1e-12)


def test_a_single_wave_lands_in_its_bin():
    """An error cos(k x) with k = 2π·8/64 (0.785 rad/cell) sits in the middle bin [0.311, 0.986); its nmse there is its power ratio."""
    edges = well_bins((64,)).double().numpy()
    assert edges[0] == 0 and edges[1] < 2 * np.pi * 8 / 64 < edges[2]
    x = np.arange(64)
    reference = np.broadcast_to(np.cos(2 * np.pi * 8 * x / 64), (1, 1, 1, 64))
    prediction = 1.5 * reference
    result = binned_spectral_mse(reference, prediction)
    np.testing.assert_allclose(result["mse"][0, 0, 0], [0, 0.25 * 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(result["nmse"][0, 0, 0], [0, 0.25 * 0.5 / (0.5 + 1e-7), 0], atol=1e-12)


def test_shape_mismatch_is_one_line():
    reference, prediction = pair(SHAPES[0])
    with pytest.raises(ShapeError, match="prediction.shape"):
        vrmse(reference, prediction[:, :2])
