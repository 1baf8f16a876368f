"""The one driver shape: typed coefficients on the field's device, noise from an
explicit source, saving owned by the driver, autograd left to the caller."""

import attrs
import pytest
import torch

from pdd_core import ArgumentError, Grid
from pdd_core.baseline_rollout import ConditionalDenoiser
from pdd_core.divergence import DivergenceGuard
from pdd_core.drifts.linear import LinearDrift
from pdd_core.errors import DivergenceError
from pdd_core.noise_source import GeneratorNoise, NoNoise
from pdd_core.rollout import rollout, rollout_at
from pdd_core.sampling import ReversePlan, sample, sample_at
from pdd_core.schedules import uniform_schedule
from pdd_core.score import GaussianMarginal, PathScore
from pdd_core.score.path_density import PerModeNoise, ScalarNoise
from schemes import Carosso
from solvers import (
    ConditionalIncrement,
    ETDPredictor,
    Euler,
    EulerMaruyama,
    ExponentialMultistep,
    GaussianExponential,
    LangevinCorrector,
    PredictorCorrector,
    conditional_rollout,
)
from tests.gaussian_field import GRID, gaussian_score, toeplitz_covariance

SCORE = gaussian_score()
SCHEME = SCORE.scheme


def _start(n: int = 6, dtype=torch.float64) -> torch.Tensor:
    return SCORE.exact_sample(1.0, n, torch.Generator().manual_seed(0)).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_init_returns_typed_coefficients_in_the_fields_dtype(dtype):
    lam_from, lam_to = torch.tensor([0.6], dtype=torch.float64), torch.tensor([0.4], dtype=torch.float64)
    reference = GaussianMarginal(toeplitz_covariance().unsqueeze(0))
    for sampler in (ETDPredictor(), ExponentialMultistep(), PredictorCorrector(ETDPredictor()), GaussianExponential(reference)):
        coefficients = sampler.init(SCHEME, GRID, lam_from, lam_to, device=torch.device("cpu"), dtype=dtype)
        parts = [coefficients.predictor, coefficients.corrector] if isinstance(sampler, PredictorCorrector) else [coefficients]
        tensors = [getattr(part, a.name) for part in parts for a in attrs.fields(type(part)) if isinstance(getattr(part, a.name), torch.Tensor)]
        tensors += [getattr(part.step, a.name) for part in parts if hasattr(part, "step") for a in attrs.fields(type(part.step)) if isinstance(getattr(part.step, a.name), torch.Tensor)]
        assert len(tensors) >= 4 and all(t.dtype == dtype for t in tensors), (type(sampler).__name__, {t.dtype for t in tensors})


def test_a_plan_for_another_dtype_is_refused():
    sampler = ETDPredictor()
    plan = ReversePlan.build(sampler, SCHEME, GRID, uniform_schedule(1.0, 0.0, 4), device="cpu", dtype=torch.float32)
    with pytest.raises(ArgumentError, match="plan"):
        sample(SCORE, SCHEME, GRID, sampler, uniform_schedule(1.0, 0.0, 4), generator=torch.Generator(), u_init=_start(), plan=plan)


def test_every_random_draw_comes_from_the_noise_source():
    """With no noise, ETD on a scheme without linear part and a zero score leaves the path where it
    is; with noise it moves. A sampler that drew from the generator itself would move in both."""
    flat = Carosso(alpha=0.0, beta=1.0, zero_mode="keep")
    start = _start()
    options = {"generator": torch.Generator().manual_seed(1), "u_init": start}
    still = sample(lambda u, lam: torch.zeros_like(u), flat, GRID, PredictorCorrector(ETDPredictor(), LangevinCorrector(), 2), uniform_schedule(1.0, 0.5, 5), noise=NoNoise(), **options)
    torch.testing.assert_close(still, start, rtol=0, atol=1e-12)  # FFT round-off only
    moved = sample(lambda u, lam: torch.zeros_like(u), flat, GRID, ETDPredictor(), uniform_schedule(1.0, 0.5, 5), **options)
    assert float((moved - start).abs().max()) > 0.1


def test_a_generator_noise_source_reproduces_the_generator():
    start, grid = _start(), uniform_schedule(1.0, 0.0, 8)
    by_generator = sample(SCORE, SCHEME, GRID, ETDPredictor(), grid, generator=torch.Generator().manual_seed(3), u_init=start)
    by_source = sample(SCORE, SCHEME, GRID, ETDPredictor(), grid, generator=None, noise=GeneratorNoise(torch.Generator().manual_seed(3)), u_init=start)
    torch.testing.assert_close(by_source, by_generator, rtol=0, atol=0)


def test_save_at_is_one_integration_that_keeps_the_multistep_state():
    """The flow's stages are saves of one pass: the end equals the un-chunked integration, and
    differs from restarting the multistep sampler at the intermediate save (the old re-chunking)."""
    grid, sampler, start = uniform_schedule(1.0, 0.0, 10), ExponentialMultistep(), _start()
    middle = float(grid[5])
    saved = sample_at(SCORE, SCHEME, GRID, sampler, grid, [middle, 0.0, 1.0], generator=torch.Generator(), u_init=start)
    assert set(saved) == {1.0, middle, 0.0}
    torch.testing.assert_close(saved[1.0], start, rtol=0, atol=0)
    torch.testing.assert_close(saved[middle], sample(SCORE, SCHEME, GRID, sampler, grid[:6], generator=torch.Generator(), u_init=start), rtol=0, atol=0)
    torch.testing.assert_close(saved[0.0], sample(SCORE, SCHEME, GRID, sampler, grid, generator=torch.Generator(), u_init=start), rtol=0, atol=0)
    restarted = sample(SCORE, SCHEME, GRID, sampler, grid[5:], generator=torch.Generator(), u_init=saved[middle])
    assert float((restarted - saved[0.0]).abs().max()) > 1e-6
    with pytest.raises(ArgumentError, match="save_at"):
        sample_at(SCORE, SCHEME, GRID, sampler, grid, [0.55], generator=torch.Generator(), u_init=start)


def test_gradients_flow_through_sample_outside_no_grad():
    """The deterministic flow is a linear map A: d(w·Au)/du = Aᵀw, checked against A applied to a direction."""
    grid, sampler = uniform_schedule(1.0, 0.0, 6), ExponentialMultistep()
    start = _start(2).requires_grad_(True)
    weights = torch.randn(start.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out = sample(SCORE, SCHEME, GRID, sampler, grid, generator=torch.Generator(), u_init=start)
    (gradient,) = torch.autograd.grad((weights * out).sum(), start)
    direction = torch.randn(start.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    mapped = sample(SCORE, SCHEME, GRID, sampler, grid, generator=torch.Generator(), u_init=direction)
    torch.testing.assert_close((gradient * direction).sum(), (weights * mapped).sum(), rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        assert not sample(SCORE, SCHEME, GRID, sampler, grid, generator=torch.Generator(), u_init=start).requires_grad


class _Growth(torch.nn.Module):
    """f(u) = a u on the last state of a window of 1."""

    window = 1

    def __init__(self) -> None:
        super().__init__()
        self.rate = torch.nn.Parameter(torch.tensor(0.3, dtype=torch.float64))

    def forward(self, history, lam):
        return self.rate * history[:, -1]


def test_gradients_flow_through_rollout_outside_no_grad():
    """u_N = (1 + aΔt)^N u_0 under Euler, so d(Σu_N)/da = NΔt(1 + aΔt)^{N-1} Σu_0."""
    drift, grid, steps, dt = _Growth(), Grid((8,)), 5, 0.1
    initial = torch.randn(3, 1, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    path = rollout(drift, Euler(), initial, 0.0, dt, steps, grid=grid)
    path.u[:, -1].sum().backward()
    expected = steps * dt * (1 + 0.3 * dt) ** (steps - 1) * initial.sum()
    torch.testing.assert_close(drift.rate.grad, expected, rtol=1e-12, atol=0)
    with torch.no_grad():
        assert not rollout(drift, Euler(), initial, 0.0, dt, steps, grid=grid).u.requires_grad


def test_rollout_at_keeps_the_states_of_one_stochastic_rollout_at_the_requested_steps():
    """The physical-time save_at: the same draws as a full rollout, only the asked-for steps kept."""
    drift, grid, dt = LinearDrift(Grid((8,)), 1, coefficients=-0.5 * torch.ones(1, 1, 1, 5, dtype=torch.float64)), Grid((8,)), 0.1
    initial = torch.randn(3, 1, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    full = rollout(drift, EulerMaruyama(), initial, 0.0, dt, 7, grid=grid, sigma=0.4, generator=torch.Generator().manual_seed(8)).u
    kept = rollout_at(drift, EulerMaruyama(), initial, 0.0, dt, [7, 0, 3], grid=grid, sigma=0.4, generator=torch.Generator().manual_seed(8))
    assert sorted(kept) == [0, 3, 7] and all(torch.equal(kept[n], full[:, n]) for n in (0, 3, 7))
    for bad in ([], [2, 2], [-1], [1.5]):
        with pytest.raises(ArgumentError, match="save_at"):
            rollout_at(drift, Euler(), initial, 0.0, dt, bad, grid=grid)


class _CountingETD(ETDPredictor):
    inits = 0

    def init(self, *args, **kwargs):
        type(self).inits += 1
        return super().init(*args, **kwargs)


class _EchoDenoiser(torch.nn.Module):
    """ε̂ = the noisy increment (the score of δ ~ N(0, Σ_λ))."""

    window = 2

    def forward(self, window, lam):
        return window[:, -1]


def test_the_conditional_baseline_computes_its_coefficients_once_per_rollout():
    sampler, lam_steps, steps = _CountingETD(), 7, 4
    _CountingETD.inits = 0
    with torch.no_grad():
        conditional_rollout(
            _EchoDenoiser(), SCHEME, GRID, sampler, uniform_schedule(1.0, 0.0, lam_steps), torch.zeros(2, 1, 8), 0.1, steps,
            increment_scale=[1.0], generator=torch.Generator().manual_seed(0),
        )
    assert _CountingETD.inits == lam_steps  # not lam_steps x steps


# -- one divergence guard ----------------------------------------------------------------


def test_the_divergence_guard_compares_a_paths_mean_square_with_its_reference():
    guard = DivergenceGuard(4.0, "the reference", "test", "do something")
    paths = torch.stack([torch.full((3, 8), 1.0), torch.full((3, 8), 3.0)])  # mean squares 1 and 9 per path
    guard.check(paths, 2.5, "here")  # 9 < 4 x 2.5
    with pytest.raises(DivergenceError, match=r"test='here': a path's mean square grew to 4.5 x the reference, beyond the band of 4 x"):
        guard.check(paths, 2.0, "here", step=7)
    with pytest.raises(DivergenceError, match="NaN or inf") as caught:
        DivergenceGuard(None, "the reference", "test", "fix").check(paths.log() - float("inf"), 1.0, "step 3", step=3)
    assert caught.value.step == 3
    DivergenceGuard(None, "the reference", "test", "fix").check(1e30 * paths, 1.0, "here")  # None: NaN/inf only
    for band in (0.0, float("nan")):
        with pytest.raises(ArgumentError, match="energy_band"):
            DivergenceGuard(band, "the reference", "test", "fix")


def test_both_drivers_stop_by_the_same_guard_each_against_its_own_reference():
    """A rollout's reference is the standardised data's mean square (1); a sample's is its start's."""
    drift, grid = _Growth(), Grid((8,))
    start = torch.full((2, 1, 8), 2.0, dtype=torch.float64)  # mean square 4, 4.24 after one step: over 4.1 x the data's 1
    with pytest.raises(DivergenceError, match=r"rollout='step 1'.*grew to 4.24 x the data's") as caught:
        rollout(drift, Euler(), start, 0.0, 0.1, 3, grid=grid, energy_band=4.1)
    assert caught.value.step == 1
    scaled = 10 * _start()
    with pytest.raises(DivergenceError, match=r"sample='λ = .*mean square grew to .* x the start's, beyond the band of 3 x"):
        sample(lambda u, lam: 20 * u, SCHEME, GRID, ETDPredictor(), uniform_schedule(1.0, 0.0, 20), generator=torch.Generator(), u_init=scaled, energy_band=3.0)
    finished = sample(lambda u, lam: torch.zeros_like(u), SCHEME, GRID, ETDPredictor(), uniform_schedule(1.0, 0.9, 2), generator=torch.Generator(), u_init=scaled, energy_band=3.0)
    assert float(finished.pow(2).mean()) > 3.0  # above 3 x the data's scale, within 3 x the start's: a sample never compares with 1


# -- time integrators in the driver shape --------------------------------------------------


def test_time_integrators_draw_every_random_number_from_the_noise_source():
    """With no noise Euler-Maruyama at σ > 0 is Euler; a generator source reproduces the generator."""
    drift, grid = _Growth(), Grid((8,))
    initial = torch.randn(3, 1, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    euler = rollout(drift, Euler(), initial, 0.0, 0.1, 5, grid=grid).u
    with torch.no_grad():
        silent = rollout(drift, EulerMaruyama(), initial, 0.0, 0.1, 5, grid=grid, sigma=0.5, noise=NoNoise()).u
        by_generator = rollout(drift, EulerMaruyama(), initial, 0.0, 0.1, 5, grid=grid, sigma=0.5, generator=torch.Generator().manual_seed(2)).u
        by_source = rollout(drift, EulerMaruyama(), initial, 0.0, 0.1, 5, grid=grid, sigma=0.5, noise=GeneratorNoise(torch.Generator().manual_seed(2))).u
    assert torch.equal(silent, euler.detach()) and torch.equal(by_source, by_generator) and not torch.equal(by_source, silent)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_euler_maruyama_computes_its_noise_amplitude_once_in_the_fields_dtype(dtype):
    sigma = torch.tensor([0.5, 0.0], dtype=torch.float64)
    amplitude = EulerMaruyama().init(_Growth(), 0.04, sigma, device=torch.device("cpu"), dtype=dtype)
    assert amplitude.scale.dtype == dtype and torch.equal(amplitude.scale, (sigma * 0.2).to(dtype))
    silent = EulerMaruyama().init(_Growth(), 0.04, torch.zeros(2, dtype=torch.float64), device=torch.device("cpu"), dtype=dtype)
    assert silent.scale is None  # σ = 0: the step draws nothing


def test_the_conditional_baseline_is_a_registered_integrator_the_rollout_driver_steps():
    """``rollout`` steps the registered integrator like any other: the same paths as ``conditional_rollout``."""
    from pdd_core import INTEGRATORS

    assert INTEGRATORS.get("conditional-increment") is ConditionalIncrement
    schedule, start = uniform_schedule(1.0, 0.2, 5), torch.randn(2, 1, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        expected = conditional_rollout(_EchoDenoiser(), SCHEME, GRID, ETDPredictor(), schedule, start, 0.1, 3, increment_scale=[0.5], generator=torch.Generator().manual_seed(4))
        denoiser = ConditionalDenoiser(_EchoDenoiser(), SCHEME, GRID, (0.5,))
        path = rollout(denoiser, ConditionalIncrement(ETDPredictor(), schedule), start, 0.0, 0.1, 3, grid=GRID, noise=GeneratorNoise(torch.Generator().manual_seed(4)))
    assert torch.equal(path.u, expected.u) and not torch.equal(path.u[:, 1], path.u[:, 2])
    with pytest.raises(ArgumentError, match="increment_scale"):
        ConditionalDenoiser(_EchoDenoiser(), SCHEME, GRID, (0.5, 1.0))


# -- the path score's closed forms, computed once per schedule --------------------------------


def _counting_path_score(noise_model):
    """A PathScore of a random linear drift, its scheme counting closed-form evaluations (``sigma`` and ``transition``)."""

    class Counting(Carosso):
        calls = 0

        def sigma(self, *args, **kwargs):
            type(self).calls += 1
            return super().sigma(*args, **kwargs)

        def transition(self, *args, **kwargs):
            type(self).calls += 1
            return super().transition(*args, **kwargs)

    coefficients = -0.3 * torch.rand(1, 1, 2, *GRID.rfft_shape, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    drift = LinearDrift(GRID, window=2, coefficients=coefficients)
    return PathScore(drift, Counting(alpha=0.5, beta=1.0), GRID, 0.2, noise_model=noise_model), Counting


@pytest.mark.parametrize("noise_model", [ScalarNoise(), PerModeNoise()], ids=["scalar", "per-mode"])
def test_a_path_score_tabulated_at_its_schedule_scores_the_same_without_evaluating_closed_forms(noise_model):
    score, counting = _counting_path_score(noise_model)
    schedule, u = uniform_schedule(1.0, 0.0, 4), _start(3)
    tabulated = score.for_schedule(schedule, device=u.device, dtype=u.dtype)
    counting.calls = 0
    for lam in schedule.tolist():
        at = torch.full((3,), lam, dtype=torch.float64)
        assert torch.equal(tabulated(u, at), score(u, at))
    per_call = counting.calls // schedule.numel()  # the untabulated score's evaluations
    counting.calls = 0
    tabulated(u, torch.full((3,), 0.5, dtype=torch.float64))
    assert per_call >= 2 and counting.calls == 0
    off_grid = torch.tensor([0.3, 0.5, 0.5], dtype=torch.float64)  # a λ off the table or a mixed batch: the model as given
    assert torch.equal(tabulated(u, off_grid), score(u, off_grid)) and counting.calls > 0


def test_sample_tabulates_the_path_scores_closed_forms_once_per_schedule():
    score, counting = _counting_path_score(ScalarNoise())
    steps, options = 6, {"generator": torch.Generator().manual_seed(0), "u_init": _start(2)}
    counts = []
    for scoring in (lambda u, lam: torch.zeros_like(u), score):  # the sampler's plan alone, then with the path score
        counting.calls = 0
        with torch.no_grad():
            sample(scoring, score.scheme, GRID, ETDPredictor(), uniform_schedule(1.0, 0.5, steps), **options)
        counts.append(counting.calls)
    counting.calls = 0
    ScalarNoise().closed_form(torch.ones(1, dtype=torch.float64), score.scheme, GRID, 0.2, 1e-3, device="cpu", dtype=torch.float64)
    assert counts[1] - counts[0] == counting.calls * (steps + 1)  # one σ_λ per λ of the schedule, none per score call (2 each)
