"""The thermalizer (push to λ + δ with the exact RG transition, sample back to λ) on the exact linear
Gaussian field: it must leave the path law at λ invariant, and the check must see it when it does not.

The check: exact draws of N(0, K_λ) go through one application; the mean per (frame, point) and the
per-mode time covariance E[ûû^H] of the output are compared with the exact ones entry by entry, each
in units of its Monte Carlo standard error at SAMPLES draws. The tolerance is the Bonferroni
quantile for a family-wise false alarm of 1e-3 (about 4.4 standard errors for the 50 covariance
entries), so it shrinks like 1/sqrt(SAMPLES) and is no loose constant.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
import torch

import pdd_core.thermalizer as thermalizer_module
from pdd_core import ArgumentError, DTypeError, ShapeError, Thermalizer
from pdd_core.sampling import extrapolate_t0, sample
from pdd_core.schedules import power_schedule, uniform_schedule
from pdd_core.score import GaussianMarginal, GaussianPathScore
from pdd_core.spectral import irfft, rfft
from schemes import Carosso
from solvers import ETDPredictor, GaussianExponential, GaussianLangevin, PredictorCorrector
from tests.gaussian_field import FRAMES, GRID, covariance_error, toeplitz_covariance

SCHEME = Carosso(alpha=0.5, beta=1.0, zero_mode="keep")
K0 = toeplitz_covariance()
SCORE = GaussianPathScore(K0, SCHEME, GRID)
EXACT = GaussianMarginal(K0.unsqueeze(0))
LAM, PUSH = 0.1, 0.1
SAMPLES = 8000
K_LAM = SCORE.covariance_at(torch.tensor([LAM], dtype=torch.float64))[0, 0]  # [*rfft, T, T]
MULTIPLICITY = GRID.mode_multiplicity()  # 1: real mode (k = 0, Nyquist), 2: complex mode (Re and Im)
FALSE_ALARM = 1e-3


def _bonferroni(entries: int) -> float:
    return NormalDist().inv_cdf(1 - FALSE_ALARM / (2 * entries))


COVARIANCE_ENTRIES = K_LAM.shape[0] * FRAMES * (FRAMES + 1) // 2
Z_COVARIANCE = _bonferroni(COVARIANCE_ENTRIES)
Z_MEAN = _bonferroni(FRAMES * GRID.n_points)


def _gpc():
    """The command line's default sampler (solvers/registered.py, "gpc") around the exact marginal."""
    return PredictorCorrector(GaussianExponential(EXACT, gate=1.0), GaussianLangevin(EXACT, gate=1.0), 1)


# gpc: the default (10 steps = 20 score calls); etd: the paper's predictor (Eq. 66), which knows no
# Gaussian reference and takes the whole score (20 steps; its O(Δλ) bias is below 1 standard error here).
SAMPLERS = {"gpc": (_gpc, 10), "etd": (ETDPredictor, 20)}


def _thermalizer(name: str, **settings) -> Thermalizer:
    build, steps = SAMPLERS[name]
    return Thermalizer(**{"every": 1, "push": PUSH, "steps": steps, "sampler": build(), **settings})


def _deviations(u: torch.Tensor) -> tuple[float, float]:
    """(max |z| over the covariance entries E[û_i û_j^*] per mode, max |z| over the means per (frame, point))."""
    n = u.shape[0]
    u_hat = rfft(u.to(torch.float64), GRID.ndim)[:, :, 0].movedim(1, -1)  # [B, *rfft, T]
    estimate = torch.einsum("bki,bkj->kij", u_hat, u_hat.conj()).real / n
    diagonal = torch.diagonal(K_LAM, dim1=-2, dim2=-1)
    # Var of a Gaussian product moment: (K_ii K_jj + K_ij²)/n, halved on complex modes (Re and Im are two draws).
    variance = (diagonal[:, :, None] * diagonal[:, None, :] + K_LAM**2) / (n * MULTIPLICITY[:, None, None])
    upper = torch.triu_indices(FRAMES, FRAMES)
    z_covariance = ((estimate - K_LAM) / variance.sqrt())[:, upper[0], upper[1]]
    point_variance = (MULTIPLICITY[:, None] * diagonal).sum(0) / GRID.n_points  # Var u(t, x) per frame
    z_mean = u.to(torch.float64).mean(0)[:, 0] / (point_variance[:, None] / n).sqrt()
    return float(z_covariance.abs().max()), float(z_mean.abs().max())


def _on_law(u: torch.Tensor) -> bool:
    z_covariance, z_mean = _deviations(u)
    return z_covariance < Z_COVARIANCE and z_mean < Z_MEAN


@pytest.fixture(scope="module")
def start() -> torch.Tensor:
    return SCORE.exact_sample(LAM, SAMPLES, torch.Generator().manual_seed(1))


def test_exact_samples_pass_the_check(start):
    """The check's null: exact draws at λ stay within the tolerance (and exact draws at another λ do not)."""
    assert _on_law(start), _deviations(start)
    assert not _on_law(SCORE.exact_sample(LAM + PUSH, SAMPLES, torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("name", SAMPLERS)
def test_thermalizer_leaves_the_path_law_invariant(start, name):
    thermalizer = _thermalizer(name)
    out = thermalizer.apply(SCORE, SCHEME, GRID, start, LAM, torch.Generator().manual_seed(2))
    assert out.shape == start.shape and out.dtype == start.dtype
    assert _on_law(out), (_deviations(out), Z_COVARIANCE, Z_MEAN)
    assert float((out - start).std() / start.std()) > 0.3  # it did move the window: no identity passes


def _detected(u: torch.Tensor) -> float:
    z_covariance, _ = _deviations(u)
    assert z_covariance > Z_COVARIANCE, f"the mutation went unseen: max |z| = {z_covariance:.2f} <= {Z_COVARIANCE:.2f}"
    return z_covariance


def _push_without_square_root(window, scheme, grid, lam_a, lam_b, generator):
    """Mutation: C̃ ũ + Σ̃ ε̃ (the variance used as the standard deviation)."""
    step = scheme.transition(grid, lam_a, lam_b, batch=1)
    noise = torch.randn(window.shape, generator=generator, dtype=window.dtype)
    return irfft(rfft(window, grid.ndim) * step.damping + rfft(noise, grid.ndim) * step.variance, grid.shape).to(window.dtype)


def test_pushing_without_the_square_root_of_sigma_is_detected(start, monkeypatch):
    """Σ̃_{λ→λ+δ} < 1 on every mode, so the pushed window is too narrow and the score-driven pull-back keeps it so (max |z| ≈ 21).

    Only a sampler that follows its input sees this: gpc's per-mode Langevin corrector around the
    exact marginal re-draws the window almost afresh (in/out correlation 0.57 at k = 0, ~0 at k >= 2),
    so with gpc the same mutation stays within the tolerance (max |z| ≈ 2.8).
    """
    monkeypatch.setattr(thermalizer_module, "push_window", _push_without_square_root)
    _detected(_thermalizer("etd").apply(SCORE, SCHEME, GRID, start, LAM, torch.Generator().manual_seed(2)))


def test_skipping_the_push_is_detected(start, monkeypatch):
    """Sampling λ + δ → λ from a window that is still at λ sharpens it (max |z| ≈ 11)."""
    monkeypatch.setattr(thermalizer_module, "push_window", lambda window, *args: window)
    _detected(_thermalizer("etd").apply(SCORE, SCHEME, GRID, start, LAM, torch.Generator().manual_seed(2)))


@pytest.mark.parametrize("name", SAMPLERS)
def test_sampling_back_only_half_way_is_detected(start, name):
    """Push to λ + δ but integrate back only to λ + δ/2: the window ends on the law at λ + δ/2 (max |z| ≈ 9-10)."""
    thermalizer, generator = _thermalizer(name), torch.Generator().manual_seed(2)
    pushed = thermalizer_module.push_window(start, SCHEME, GRID, LAM, LAM + PUSH, generator)
    half_way = power_schedule(LAM + PUSH, LAM + PUSH / 2, thermalizer.steps)
    _detected(sample(SCORE, SCHEME, GRID, thermalizer.sampler, half_way, generator=generator, u_init=pushed))


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_score_of_the_wrong_lambda_is_detected(start, name):
    """The score of the pushed scale λ + δ used all the way down (max |z| ≈ 7.5-8.3)."""
    stale = lambda u, lam: SCORE(u, lam.clamp_min(LAM + PUSH))  # noqa: E731
    _detected(_thermalizer(name).apply(stale, SCHEME, GRID, start, LAM, torch.Generator().manual_seed(2)))


def test_repeated_application_pulls_a_drifted_window_back(start):
    """A rollout whose window has drifted (x 1.5: 125 % covariance error) is pulled back onto the law at λ."""
    thermalizer, generator = _thermalizer("gpc"), torch.Generator().manual_seed(3)
    window, errors = 1.5 * start, [covariance_error(1.5 * start, K_LAM, GRID)]
    for _ in range(4):
        window = thermalizer.apply(SCORE, SCHEME, GRID, window, LAM, generator)
        errors.append(covariance_error(window, K_LAM, GRID))
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert _on_law(window), (errors, _deviations(window))


def test_apply_is_reproducible_keeps_float32_and_reuses_a_plan():
    window = SCORE.exact_sample(LAM, 16, torch.Generator().manual_seed(4), dtype=torch.float32)
    thermalizer = _thermalizer("gpc")
    first = thermalizer.apply(SCORE, SCHEME, GRID, window, LAM, torch.Generator().manual_seed(5))
    assert first.dtype == torch.float32 and first.shape == window.shape
    plan = thermalizer.plan(SCHEME, GRID, LAM, device=window.device, dtype=window.dtype)
    again = thermalizer.apply(SCORE, SCHEME, GRID, window, LAM, torch.Generator().manual_seed(5), plan=plan)
    torch.testing.assert_close(again, first, rtol=0, atol=0)
    with pytest.raises(ArgumentError, match="plan=.*does not match"):
        thermalizer.apply(SCORE, SCHEME, GRID, window, 0.2, torch.Generator(), plan=plan)


def test_the_boundary_rule_is_applied_to_the_first_frame():
    window = SCORE.exact_sample(LAM, 16, torch.Generator().manual_seed(6))
    out = _thermalizer("etd").apply(SCORE, SCHEME, GRID, window, LAM, torch.Generator().manual_seed(7), boundary=extrapolate_t0)
    torch.testing.assert_close(out[:, 0], 2 * out[:, 1] - out[:, 2])


def test_schedule_cost_and_cadence():
    gpc = _thermalizer("gpc", every=5)
    assert gpc.network_calls == 10 * 2 and _thermalizer("etd").network_calls == 20
    assert [step for step in range(1, 16) if gpc.is_due(step)] == [5, 10, 15]
    schedule = gpc.lam_schedule(LAM)
    assert schedule.numel() == 11 and float(schedule[0]) == LAM + PUSH and float(schedule[-1]) == LAM
    assert bool((schedule[1:] < schedule[:-1]).all())
    at_zero = gpc.lam_schedule(0.0)  # ending at λ = 0 works too (thermalizing the fine scale)
    assert float(at_zero[0]) == PUSH and float(at_zero[-1]) == 0.0
    uniform = _thermalizer("gpc", schedule=uniform_schedule).lam_schedule(LAM)
    torch.testing.assert_close(uniform, torch.linspace(LAM + PUSH, LAM, 11, dtype=torch.float64))


@pytest.mark.parametrize(
    "settings, kind, match",
    [
        ({"every": 0}, ArgumentError, "every=0: must be an integer >= 1"),
        ({"every": 1.5}, ArgumentError, "every=1.5"),
        ({"every": True}, ArgumentError, "every=True"),
        ({"push": 0.0}, ArgumentError, "push=0.0: must be a finite number > 0"),
        ({"push": -0.1}, ArgumentError, "push=-0.1"),
        ({"push": math.nan}, ArgumentError, "push=nan"),
        ({"push": math.inf}, ArgumentError, "push=inf"),
        ({"push": "0.1"}, ArgumentError, "push='0.1'"),
        ({"steps": 0}, ArgumentError, "steps=0: must be an integer >= 1"),
        ({"sampler": object()}, DTypeError, "sampler='object': is no λ-sampler"),
        ({"schedule": "power"}, DTypeError, "schedule='power': must be a function"),
    ],
)
def test_bad_settings_are_rejected_with_the_fix(settings, kind, match):
    with pytest.raises(kind, match=match) as error:
        _thermalizer("etd", **settings)
    assert "Fix:" in str(error.value) and "\n" not in str(error.value)


def test_bad_calls_are_rejected_with_the_fix():
    thermalizer, window = _thermalizer("etd"), SCORE.exact_sample(LAM, 4, torch.Generator().manual_seed(8))
    with pytest.raises(ArgumentError, match="lam=-0.1"):
        thermalizer.apply(SCORE, SCHEME, GRID, window, -0.1, torch.Generator())
    with pytest.raises(ArgumentError, match="lam=nan"):
        thermalizer.apply(SCORE, SCHEME, GRID, window, math.nan, torch.Generator())
    with pytest.raises(ShapeError, match="window.shape"):
        thermalizer.apply(SCORE, SCHEME, GRID, window[:, :, :, :4], LAM, torch.Generator())
    with pytest.raises(DTypeError, match="generator=None"):
        thermalizer.apply(SCORE, SCHEME, GRID, window, LAM, None)
    short = _thermalizer("etd", schedule=lambda start, end, steps: power_schedule(start, end + 0.01, steps))
    with pytest.raises(ArgumentError, match="schedule=.*must run from λ \\+ push"):
        short.apply(SCORE, SCHEME, GRID, window, LAM, torch.Generator())
