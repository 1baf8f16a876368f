"""Fair ensemble CRPS (Ferro 2014) and spread-skill ratio (Fortin et al. 2014): closed forms, scoringrules, calibration."""

import numpy as np
import pytest
import scoringrules

from pdd_core.errors import ShapeError
from pdd_core.metrics import crps_ensemble, spread_skill


def ensemble_case(m=5, b=3, shape=(4, 2, 8), seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((b, *shape)), 0.5 + 1.3 * rng.standard_normal((m, b, *shape))


@pytest.mark.parametrize("m", [2, 7])
def test_crps_equals_scoringrules_fair(m):
    reference, members = ensemble_case(m=m)
    theirs = scoringrules.crps_ensemble(reference, np.moveaxis(members, 0, -1), estimator="fair", backend="numpy")
    np.testing.assert_allclose(crps_ensemble(reference, members), theirs.mean(axis=-1), rtol=1e-12)


def test_crps_of_two_members_in_closed_form():
    """M = 2: (|x1 - y| + |x2 - y|) / 2 - |x1 - x2| / 2."""
    y, x1, x2 = 0.3, -1.0, 2.0
    members = np.array([x1, x2]).reshape(2, 1, 1, 1, 1)
    expected = (abs(x1 - y) + abs(x2 - y)) / 2 - abs(x1 - x2) / 2
    np.testing.assert_allclose(crps_ensemble(np.full((1, 1, 1, 1), y), members), [[[expected]]], rtol=1e-12)


def test_shared_members_score_every_reference_path():
    """A generated set [M, 1, ...] scores each reference path as if repeated for it."""
    reference, members = ensemble_case()
    shared = members[:, :1]
    repeated = np.repeat(shared, reference.shape[0], axis=1)
    np.testing.assert_allclose(crps_ensemble(reference, shared), crps_ensemble(reference, repeated), rtol=1e-12)
    for key, value in spread_skill(reference, shared).items():
        np.testing.assert_allclose(value, spread_skill(reference, repeated)[key], rtol=1e-12)


def test_fair_crps_is_unbiased_for_small_ensembles():
    """For y, x_i iid N(0, 1) the true CRPS is 1/√π (Gneiting & Raftery 2007); the fair estimator hits it with M = 2."""
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((1, 1, 1, 200_000))
    members = rng.standard_normal((2, 1, 1, 1, 200_000))
    assert abs(crps_ensemble(reference, members).item() - 1 / np.sqrt(np.pi)) < 0.005


def test_reliable_ensemble_has_ratio_one():
    """Truth exchangeable with M = 3 members: ratio 1 (without sqrt((M+1)/M) it would be 0.866)."""
    rng = np.random.default_rng(2)
    reference = rng.standard_normal((4, 2, 1, 20_000))
    members = rng.standard_normal((3, 4, 2, 1, 20_000))
    result = spread_skill(reference, members)
    assert result["ratio"].shape == (2, 1)
    np.testing.assert_allclose(result["ratio"], 1.0, atol=0.02)
    np.testing.assert_allclose(result["spread"], 1.0, atol=0.02)


def test_under_dispersed_ensemble_has_ratio_below_one():
    rng = np.random.default_rng(3)
    reference = rng.standard_normal((2, 1, 1, 20_000))
    members = 0.5 * rng.standard_normal((8, 2, 1, 1, 20_000))
    assert spread_skill(reference, members)["ratio"].item() < 0.6


@pytest.mark.parametrize("bad", [(1, 3, 4, 2, 8), (5, 2, 4, 2, 8), (5, 3, 4, 1, 8)])
def test_bad_ensemble_shapes_are_one_line(bad):
    reference, _ = ensemble_case()
    with pytest.raises(ShapeError, match="ensemble.shape"):
        crps_ensemble(reference, np.zeros(bad))
