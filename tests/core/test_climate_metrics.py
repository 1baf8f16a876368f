"""The spectral error's noise floor and the climate block, against hand-computed values."""

import math

import numpy as np
import pytest

from pdd_core.errors import ArgumentError, ShapeError
from pdd_core.metrics import climate, running_statistics, spectral_error_floor
from pdd_core.metrics.climate import mean_abs_increment


def constant_paths(amplitudes, frames=4, size=8):
    """Paths u_b(t, x) = a_b: all power in the (ω, k) = 0 mode, |G|² = a_b² T N (orthonormal FFT)."""
    return np.asarray(amplitudes, dtype=np.float64)[:, None, None, None] * np.ones((1, frames, 1, size))


def test_floor_of_two_constant_paths_is_one_of_the_two_hand_computed_ratios():
    # P_a = 1·T·N and P_b = 4·T·N: reference a gives |4 - 1| / 1 = 3, reference b gives 3 / 4.
    result = spectral_error_floor(constant_paths([1.0, 2.0]), 1, 1, generator=np.random.default_rng(0), splits=40)
    assert set(np.round(result["values"], 12)) == {3.0, 0.75}
    assert result["floor"] == pytest.approx(np.median(result["values"]))
    assert (result["reference_paths"], result["prediction_paths"], result["splits"]) == (1, 1, 40)


def test_floor_averages_each_set_before_comparing():
    # Sets {1, 3} against {2, 2} (in power: mean 5 vs 4) or swapped: |4 - 5| / 5 or / 4; never a per-path mix.
    truth = constant_paths([1.0, math.sqrt(3.0), math.sqrt(2.0), math.sqrt(2.0)])
    values = spectral_error_floor(truth, 2, 2, generator=np.random.default_rng(1), splits=60)["values"]
    # every split of {1, 3, 2, 2} (powers) into pairs: {1,3}|{2,2} -> 0, {1,2}|{3,2} -> 1/1.5 or 1/2.5
    allowed = {0.0, round(1 / 1.5, 12), round(1 / 2.5, 12)}
    assert set(np.round(values, 12)) <= allowed and len(set(np.round(values, 12))) >= 2


def test_floor_of_white_noise_follows_the_gamma_law():
    # Per mode |G|² ~ Exp(P); the mean of n of them minus another n's has E|·| ≈ P·2/sqrt(πn) (n large).
    rng = np.random.default_rng(2)
    truth = rng.normal(size=(256, 16, 1, 32))
    result = spectral_error_floor(truth, 64, 64, generator=rng, splits=40)
    assert result["floor"] == pytest.approx(2 / math.sqrt(math.pi * 64), rel=0.06)


def test_floor_refuses_too_few_paths_and_bad_counts():
    with pytest.raises(ArgumentError, match="disjoint"):
        spectral_error_floor(constant_paths([1.0, 2.0, 3.0]), 2, 2, generator=np.random.default_rng(0))
    with pytest.raises(ArgumentError, match="n_reference"):
        spectral_error_floor(constant_paths([1.0, 2.0]), 0, 1, generator=np.random.default_rng(0))
    with pytest.raises(ArgumentError, match="Generator"):
        spectral_error_floor(constant_paths([1.0, 2.0]), 1, 1, generator=0)


def test_climate_of_a_scaled_and_shifted_copy():
    rng = np.random.default_rng(3)
    truth = rng.normal(size=(6, 20, 2, 16)) * np.array([1.0, 3.0])[None, None, :, None]
    truth -= truth.mean(axis=3, keepdims=True)  # no k = 0 power, so every compared shell scales alike
    shift = np.array([0.0, 0.3 * truth[:, :, 1].std()])[None, None, :, None]  # k = 0 only, which the truth lacks
    scaled = climate(2.0 * truth + shift, truth, channel_names=["X", "Y"])
    for name, offset in (("X", 0.0), ("Y", 0.3)):
        record = scaled["channels"][name]
        assert record["std_ratio"] == pytest.approx(2.0)
        assert record["mean_offset"] == pytest.approx(offset, abs=1e-12)  # in units of the truth's std
        assert record["speed_ratio"] == pytest.approx(2.0)  # |Δ(2u)| = 2|Δu|
        assert record["psd_ratio_min"] == pytest.approx(4.0) and record["psd_ratio_max"] == pytest.approx(4.0)
        assert not record["collapsed"]
    assert scaled["max_std_error"] == pytest.approx(1.0) and scaled["max_speed_error"] == pytest.approx(1.0)
    std_y = truth[:, :, 1].std()
    shifted = climate(truth + np.array([0.0, 0.3 * std_y])[None, None, :, None], truth, channel_names=["X", "Y"])
    assert shifted["channels"]["Y"]["mean_offset"] == pytest.approx(0.3)
    assert shifted["channels"]["X"]["mean_offset"] == pytest.approx(0.0, abs=1e-12)
    assert shifted["max_abs_mean_offset"] == pytest.approx(0.3)
    assert shifted["channels"]["Y"]["speed_ratio"] == pytest.approx(1.0)


def test_climate_flags_a_collapse_under_half_the_variance():
    rng = np.random.default_rng(4)
    truth = rng.normal(size=(4, 10, 1, 8))
    assert climate(0.6 * truth, truth)["collapsed"]  # 0.36 of the variance
    assert not climate(0.8 * truth, truth)["collapsed"]  # 0.64
    assert climate(0.6 * truth, truth)["max_std_error"] == pytest.approx(0.4)


def test_speed_of_a_ramp_and_the_psd_shells():
    ramp = np.arange(5.0)[None, :, None, None] * np.ones((2, 5, 1, 8))  # |Δu| = 1 everywhere
    assert mean_abs_increment(ramp) == pytest.approx([1.0])
    # Only shells k <= N/2 = 4 are compared, and shells where the truth has no power are left out.
    rng = np.random.default_rng(5)
    truth = rng.normal(size=(3, 6, 1, 8))
    truth -= truth.mean(axis=3, keepdims=True)  # no k = 0 power in the truth
    record = climate(truth + 1.0, truth)["channels"]["c0"]
    assert record["psd_shells"] == [1, 2, 3, 4]
    assert record["psd_ratio_max"] == pytest.approx(1.0)  # the offset lives in k = 0 only
    # A mean of 3e-5 std per path (a conserved mean kept to round-off and drift) is as empty; one of 0.1 std is power.
    for mean, shells in ((3e-5, [1, 2, 3, 4]), (0.1, [0, 1, 2, 3, 4])):
        drifted = truth + mean * rng.choice([-1.0, 1.0], size=(3, 1, 1, 1))
        assert climate(drifted + 1.0, drifted)["channels"]["c0"]["psd_shells"] == shells


def test_running_statistics_in_blocks():
    u = np.concatenate([np.zeros((2, 3, 1, 4)), np.ones((2, 3, 1, 4)) * 2.0, np.ones((2, 1, 1, 4))], axis=1)
    starts, means, stds = running_statistics(u, 3)
    assert starts.tolist() == [0, 3] and means[:, 0].tolist() == [0.0, 2.0] and stds[:, 0].tolist() == [0.0, 0.0]
    with pytest.raises(ShapeError):
        running_statistics(u, 8)
    with pytest.raises(ArgumentError):
        running_statistics(u, 0)
