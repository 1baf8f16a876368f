"""Metrics of PDD B.5 (Eqs. 63-64) and the power spectra behind them, on cases with known answers."""

import numpy as np
import pytest
import torch

from pdd_core.errors import ArgumentError, DTypeError, ShapeError
from pdd_core.metrics import (
    arrays,
    channel_stats,
    compare_psd,
    fold_spatiotemporal_psd,
    relative_l2_error,
    relative_l2_per_sample,
    relative_spectral_error,
    segments,
    shell_counts,
    shell_index,
    spatiotemporal_psd,
    standardize,
    time_averaged_spatial_psd,
)


def field(shape, seed=0, scale=1.0, offset=0.0):
    return offset + scale * np.random.default_rng(seed).standard_normal(shape)


SHAPES = [(3, 6, 2, 16), (2, 5, 1, 8, 12)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_identical_inputs_give_zero_errors(shape, library):
    u = field(shape)
    u = torch.as_tensor(u) if library == "torch" else u
    np.testing.assert_array_equal(relative_l2_error(u, u), np.zeros(shape[1]))
    assert relative_spectral_error(u, u) == 0.0
    assert compare_psd(time_averaged_spatial_psd(u), time_averaged_spatial_psd(u)) == {"relative_l1": 0.0, "mean_abs_log10_ratio": 0.0}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("c", [0.5, 1.5, 3.0, -1.0])
def test_scaled_prediction_gives_the_closed_form_errors(shape, c):
    u = field(shape, seed=1)
    # ‖u - cu‖/‖u‖ = |1 - c| at every frame; |G[cu]|² = c²|G[u]|² so Eq. 64 gives |c² - 1|.
    np.testing.assert_allclose(relative_l2_error(u, c * u), np.full(shape[1], abs(c - 1)), rtol=1e-12, atol=1e-15)
    assert relative_spectral_error(u, c * u) == pytest.approx(abs(c**2 - 1), rel=1e-12, abs=1e-15)
    summary = compare_psd(time_averaged_spatial_psd(u), time_averaged_spatial_psd(c * u))
    assert summary["relative_l1"] == pytest.approx(abs(c**2 - 1), rel=1e-12, abs=1e-15)
    assert summary["mean_abs_log10_ratio"] == pytest.approx(abs(np.log10(c**2)), abs=1e-12)


def test_l2_is_the_sample_mean_of_per_sample_ratios():
    reference = np.ones((2, 3, 1, 4))
    prediction = reference.copy()
    prediction[0, :, 0, 0] = 3.0  # sample 0: ‖diff‖ = 2, ‖u‖ = 2 -> 1.0; sample 1: 0.0
    prediction[1, 2] = 0.0  # sample 1, frame 2: ratio 1.0
    per_sample = relative_l2_per_sample(reference, prediction)
    np.testing.assert_allclose(per_sample, [[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    # Ratio of sample means would give a different number at frame 2: the mean of ratios is reported.
    np.testing.assert_allclose(relative_l2_error(reference, prediction), [0.5, 0.5, 1.0])


def test_spectral_error_matches_a_direct_numpy_evaluation_of_eq_64():
    reference = field((4, 6, 2, 8), seed=2)
    prediction = field((3, 6, 2, 8), seed=3, scale=1.3)  # sample counts may differ
    g_ref = (np.abs(np.fft.fftn(reference, axes=(1, 3), norm="ortho")) ** 2).mean(0)
    g_pred = (np.abs(np.fft.fftn(prediction, axes=(1, 3), norm="ortho")) ** 2).mean(0)
    expected = np.abs(g_ref - g_pred).sum() / g_ref.sum()
    assert relative_spectral_error(reference, prediction) == pytest.approx(expected, rel=1e-12)
    assert relative_spectral_error(torch.as_tensor(reference, dtype=torch.float32), torch.as_tensor(prediction, dtype=torch.float32)) == pytest.approx(
        expected, rel=1e-5
    )


def test_white_noise_has_a_flat_spectrum():
    variance = 2.5
    noise = field((96, 8, 1, 8, 8), seed=4, scale=np.sqrt(variance))
    psd = spatiotemporal_psd(noise)
    modes = psd.size
    # Each entry is a mean of 96 (scaled) chi-squared variables with mean σ²; tolerances are 5 standard errors.
    assert psd.mean() == pytest.approx(variance, rel=5 / np.sqrt(96 * modes))
    per_frequency = psd.reshape(8, -1).mean(axis=1)
    np.testing.assert_allclose(per_frequency, variance, rtol=5 * np.sqrt(2 / (96 * 64)))
    spatial = time_averaged_spatial_psd(noise)[0] / shell_counts((8, 8))
    samples_per_shell = 96 * 8 * shell_counts((8, 8))
    np.testing.assert_array_less(np.abs(spatial - variance) / variance, 5 * np.sqrt(2 / samples_per_shell))


def test_a_single_fourier_mode_lands_on_its_wavenumber_and_frequency():
    n_points, n_frames, k0, m0 = 16, 8, 3, 2
    x = np.arange(n_points)[None, :]
    t = np.arange(n_frames)[:, None]
    phases = np.array([0.0, 0.7, 2.0])
    u = np.stack([np.cos(2 * np.pi * (k0 * x / n_points - m0 * t / n_frames) + p) for p in phases])[:, :, None, :]
    psd = spatiotemporal_psd(u)
    # cos = (e^{ia} + e^{-ia})/2 with a = 2π(k0 x/N - m0 t/T): power N·T/4 at (ω=-m0, k=k0) and (ω=m0, k=-k0).
    expected = np.zeros_like(psd)
    expected[-m0 % n_frames, 0, k0] = expected[m0, 0, -k0 % n_points] = n_points * n_frames / 4
    np.testing.assert_allclose(psd, expected, atol=1e-10)
    folded = fold_spatiotemporal_psd(psd)
    assert folded.shape == (1, n_frames // 2 + 1, n_points // 2 + 1)
    assert np.unravel_index(folded.argmax(), folded.shape) == (0, m0, k0)
    assert folded[0, m0, k0] == pytest.approx(n_points * n_frames / 2)
    spatial = time_averaged_spatial_psd(u)
    np.testing.assert_allclose(spatial[0], np.eye(n_points // 2 + 1)[k0] * n_points / 2, atol=1e-10)


def test_a_2d_mode_lands_on_its_shell():
    height, width = 16, 12
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    u = np.sin(2 * np.pi * (3 * y / height + 4 * x / width))[None, None, None].repeat(2, axis=1)  # |n| = 5
    spatial = time_averaged_spatial_psd(u)
    assert spatial.shape == (1, shell_counts((height, width)).size)
    np.testing.assert_allclose(spatial[0], np.eye(spatial.shape[1])[5] * height * width / 2, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_parseval_holds_for_every_spectrum(shape):
    u = field(shape, seed=5, offset=0.3)
    axes = tuple(range(3, len(shape)))
    psd = spatiotemporal_psd(u)
    np.testing.assert_allclose(psd.sum(axis=(0, *range(2, psd.ndim))), (u**2).sum(axis=(1, *axes)).mean(axis=0), rtol=1e-12)
    spatial = time_averaged_spatial_psd(u)
    np.testing.assert_allclose(spatial.sum(axis=1), (u**2).sum(axis=axes).mean(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(fold_spatiotemporal_psd(psd).sum(axis=(1, 2)), psd.sum(axis=(0, *range(2, psd.ndim))), rtol=1e-12)


def test_shapes_and_shells():
    u = field((3, 6, 2, 16))
    assert relative_l2_error(u, u).shape == (6,)
    assert relative_l2_per_sample(u, u).shape == (3, 6)
    assert spatiotemporal_psd(u).shape == (6, 2, 16)
    assert time_averaged_spatial_psd(u).shape == (2, 9)
    np.testing.assert_array_equal(shell_counts((16,)), [1] + [2] * 7 + [1])
    assert shell_counts((16, 16)).sum() == 256 and shell_counts((16, 16)).size == 12  # round(√128) = 11
    assert shell_index((8, 8))[3, 4] == 5 and shell_index((8, 8))[0, 0] == 0


def test_chunked_accumulation_equals_one_pass(monkeypatch):
    reference, prediction = field((7, 5, 2, 8), seed=6), field((7, 5, 2, 8), seed=7)
    stats = channel_stats(reference)
    whole = (
        relative_l2_error(reference, prediction, stats=stats),
        relative_spectral_error(reference, prediction, stats=stats),
        time_averaged_spatial_psd(prediction),
        stats,
    )
    monkeypatch.setattr(arrays, "CHUNK_ELEMENTS", 100)  # 80 elements a sample: one sample per chunk
    chunked = (
        relative_l2_error(reference, prediction, stats=stats),
        relative_spectral_error(reference, prediction, stats=stats),
        time_averaged_spatial_psd(prediction),
        channel_stats(reference),
    )
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-13)
    assert chunked[1] == pytest.approx(whole[1], rel=1e-13)
    np.testing.assert_allclose(chunked[2], whole[2], rtol=1e-13)
    np.testing.assert_allclose(np.concatenate(chunked[3]), np.concatenate(whole[3]), rtol=1e-13)


def test_standardize_uses_the_shared_parameters():
    reference = field((4, 5, 2, 8), seed=8, scale=3.0, offset=10.0)
    mean, std = channel_stats(reference)
    np.testing.assert_allclose(mean, reference.mean(axis=(0, 1, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, reference.std(axis=(0, 1, 3)), rtol=1e-12)
    z = standardize(reference, mean, std)
    np.testing.assert_allclose(z.mean(axis=(0, 1, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(0, 1, 3)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(standardize(torch.as_tensor(reference), torch.as_tensor(mean), list(std)), z)
    # A prediction off by an affine map looks perfect under its own statistics but not under the shared ones.
    prediction = 2.0 * reference + 1.0
    assert np.abs(standardize(prediction, *channel_stats(prediction)) - z).max() < 1e-12
    shared = relative_l2_error(reference, prediction, stats=(mean, std))
    np.testing.assert_allclose(shared, relative_l2_error(z, standardize(prediction, mean, std)), rtol=1e-12)
    assert (shared > 0.5).all()
    assert relative_spectral_error(reference, prediction, stats=(mean, std)) == pytest.approx(
        relative_spectral_error(z, standardize(prediction, mean, std)), rel=1e-12
    )


def test_segments_discard_the_spin_up_and_stack_windows():
    path = np.arange(2 * 53).reshape(2, 53, 1, 1).astype(np.float64)
    cut = segments(path, length=4, discard=10)  # 53 // 4 = 13 windows, 3 kept, frame 52 dropped
    assert cut.shape == (6, 4, 1, 1)
    np.testing.assert_array_equal(
        cut[:, :, 0, 0], [[40, 41, 42, 43], [44, 45, 46, 47], [48, 49, 50, 51], [93, 94, 95, 96], [97, 98, 99, 100], [101, 102, 103, 104]]
    )
    torch_cut = segments(torch.as_tensor(path), 4)
    assert isinstance(torch_cut, torch.Tensor)
    np.testing.assert_array_equal(torch_cut.numpy(), cut)
    assert segments(path, 53, discard=0).shape == (2, 53, 1, 1)
    with pytest.raises(ArgumentError, match="at least 56 frames"):
        segments(path, length=4, discard=13)
    with pytest.raises(ArgumentError, match="length"):
        segments(path, length=0)
    with pytest.raises(DTypeError):
        segments([[1.0]], 1)


def test_bad_inputs_raise_clear_errors():
    u = field((2, 4, 1, 8))
    with pytest.raises(ShapeError, match="must match reference.shape"):
        relative_l2_error(u, u[:, :3])
    with pytest.raises(ShapeError, match=r"\[T, C, \*space\]"):
        relative_spectral_error(u, u[:, :, :, :4])
    bad = u.copy()
    bad[1, 2, 0, 3] = np.nan
    with pytest.raises(ArgumentError, match="NaN"):
        relative_l2_error(u, bad)
    with pytest.raises(ArgumentError, match="NaN"):
        spatiotemporal_psd(torch.as_tensor(bad))
    with pytest.raises(DTypeError, match="torch.Tensor or a numpy.ndarray"):
        relative_l2_error(u.tolist(), u)
    with pytest.raises(DTypeError, match="real"):
        spatiotemporal_psd(u.astype(np.complex128))
    with pytest.raises(ShapeError, match=r"\[B, T, C, \*space\]"):
        time_averaged_spatial_psd(u[0])
    with pytest.raises(ArgumentError, match="identically zero"):
        relative_l2_error(np.zeros_like(u), u)
    with pytest.raises(ArgumentError, match="all-zero"):
        relative_spectral_error(np.zeros_like(u), u)
    with pytest.raises(ShapeError, match="one value per channel"):
        standardize(u, [0.0, 0.0], 1.0)
    with pytest.raises(ArgumentError, match="> 0"):
        relative_l2_error(u, u, stats=(0.0, 0.0))
    with pytest.raises(DTypeError, match="pair"):
        relative_l2_error(u, u, stats=1.0)
    with pytest.raises(ArgumentError, match=">= 0"):
        compare_psd(np.ones(3), -np.ones(3))
    with pytest.raises(ShapeError):
        compare_psd(np.ones(3), np.ones(4))
