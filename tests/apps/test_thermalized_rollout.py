"""Long rollouts: a linear field keeps its stationary variance, and the thermalizer's place in the rollout."""

from __future__ import annotations

import json

import attrs
import h5py
import pytest
import torch

import solvers  # noqa: F401  (registers the samplers and integrators)
from pdd_core.apps.cli.main import main
from pdd_core.apps.inference.runs import load_run, run_marginal
from pdd_core.apps.inference.tasks import simulate_run
from pdd_core.drifts.linear import LinearDrift
from pdd_core.errors import ArgumentError
from pdd_core.grid import Grid
from pdd_core.noise_source import GeneratorNoise
from pdd_core.registry import SAMPLERS
from pdd_core.rollout import rollout
from pdd_core.sampler_recipe import SamplerOptions
from pdd_core.spectral import irfft, rfft
from pdd_core.thermalizer import Thermalizer
from solvers import Euler, EulerMaruyama
from tests.apps.test_inference import ZeroDrift, initial_data, train_tiny_runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny_runs(tmp_path_factory.mktemp("thermalized"))


def test_linear_field_rollout_keeps_its_stationary_variance():
    """u_{n+1} = (1 - rΔt) u_n + σ√Δt ξ per mode, r = ν|k|² + γ: E|û|² → σ²Δt / (1 - (1 - rΔt)²)."""
    grid, dt, sigma, nu, gamma = Grid((16,)), 0.1, 0.7, 0.05, 0.5
    rate = nu * grid.k2() + gamma  # per rfft mode
    drift = LinearDrift(grid, window=1, coefficients=(-rate).reshape(1, 1, 1, -1))
    paths = 4096
    with torch.no_grad():
        path = rollout(drift, EulerMaruyama(), torch.zeros(paths, 1, 16, dtype=torch.float64), 0.0, dt, 150, grid=grid, sigma=sigma, generator=torch.Generator().manual_seed(0))
    power = torch.fft.rfft(path.u[:, -1, 0], norm="ortho").abs().square().mean(0)  # one frame per path: independent samples
    exact = sigma**2 * dt / (1 - (1 - rate * dt) ** 2)
    # |û|² is exponential (complex modes) or chi²_1 (k = 0, N/2): relative standard errors 1/√n and √(2/n).
    tolerance = 4.5 * (2 / paths) ** 0.5
    assert torch.allclose(power, exact, rtol=tolerance), (power / exact).tolist()
    # Averaged over the 9 modes the error shrinks by 3: a 5 % error in the drift's rate shows here.
    assert float((power / exact).mean()) == pytest.approx(1.0, abs=tolerance / 3)


@attrs.frozen
class CountingThermalizer(Thermalizer):
    """A thermalizer that records the windows it was given (the list is the one mutable part)."""

    seen: list = attrs.field(factory=list, eq=False)

    def apply(self, score, scheme, grid, window, lam, generator, boundary=None, *, plan=None):
        self.seen.append(window.clone())
        return super().apply(score, scheme, grid, window, lam, generator, boundary, plan=plan)


def thermalizer_for(run, every=4, push=0.1, cls=Thermalizer):
    sampler = SAMPLERS.get("gpc").build(SamplerOptions(run_marginal(run, run.model.window)))
    return cls(every=every, push=push, steps=3, sampler=sampler)


def test_the_thermalizer_acts_every_m_steps_on_the_window_after_them(trained):
    data, runs = trained
    run = load_run(runs["pdd"])
    initial = initial_data(data, count=3, frames=3)
    thermalizer = thermalizer_for(run, cls=CountingThermalizer)
    plain = simulate_run(run, initial, 0.2, 12, integrator=Euler())
    hot = simulate_run(run, initial, 0.2, 12, integrator=Euler(), thermalizer=thermalizer, generator=torch.Generator().manual_seed(1))
    assert len(thermalizer.seen) == 3  # after steps 4, 8 and 12
    assert torch.equal(hot[:, : 3 + 4], plain[:, : 3 + 4])  # up to and including the saved state of step 4
    assert not torch.allclose(hot[:, 3 + 4], plain[:, 3 + 4])  # step 5 starts from the resampled window
    assert torch.equal(thermalizer.seen[0], plain[:, 3 + 4 - run.model.window : 3 + 4].to(run.dtype))  # the drift's window at step 4
    again = simulate_run(run, initial, 0.2, 12, integrator=Euler(), thermalizer=thermalizer_for(run), generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, hot)
    saved = simulate_run(run, initial, 0.2, 12, integrator=Euler(), thermalizer=thermalizer_for(run), generator=torch.Generator().manual_seed(1), save_every=2)
    assert torch.equal(saved[:, 3:], hot[:, 3 + 1 :: 2])  # the same rollout, every other state kept


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"every": 2}, "window"),  # the tiny run's window is 3
        ({"every": 3, "save_every": 2}, "save_every"),
        ({"push": 0.9}, "λ_max"),
        ({"generator": None}, "generator"),
    ],
)
def test_a_thermalizer_that_cannot_work_is_refused(trained, options, match):
    data, runs = trained
    run = load_run(runs["pdd"])
    thermalizer = thermalizer_for(run, every=options.pop("every", 4), push=options.pop("push", 0.1))
    options.setdefault("generator", torch.Generator().manual_seed(0))
    with pytest.raises(ArgumentError, match=match):
        simulate_run(run, initial_data(data, count=2), 0.2, 6, integrator=Euler(), thermalizer=thermalizer, **options)


def test_pdd_simulate_thermalizes_and_records_it(trained, tmp_path, capsys):
    data, runs = trained
    out = tmp_path / "hot.h5"
    assert main(["simulate", str(runs["pdd"]), "--lambda", "0.2", "--steps", "8", "--n", "2", "--thermalize", "4", "--thermalize-steps", "2", "--out", str(out), "--no-progress"]) == 0
    with h5py.File(out) as file:
        settings = json.loads(file.attrs["settings"])
    assert settings["thermalize"]["network_calls_per_application"] == 4 and settings["thermalize"]["every"] == 4
    noisy = tmp_path / "noisy.h5"
    assert main(["simulate", str(runs["sa-pdd"]), "--lambda", "0.2", "--steps", "4", "--n", "2", "--noise", "--rollout-noise", "residual", "--out", str(noisy), "--no-progress"]) == 0
    with h5py.File(noisy) as file:
        assert json.loads(file.attrs["settings"])["rollout_noise"]["kind"] == "residual"
        residual = file["train"][()]
    fitted = tmp_path / "climate.h5"
    assert main(["simulate", str(runs["sa-pdd"]), "--lambda", "0.2", "--steps", "4", "--n", "2", "--noise", "--out", str(fitted), "--no-progress"]) == 0  # the default: climate
    with h5py.File(fitted) as file:
        recorded = json.loads(file.attrs["settings"])["rollout_noise"]
        assert recorded["calibration_rollouts"]["iterations"] == {"lambda 0": 4, "lambda > 0": 2} and recorded["rounds_kept"] == {"0.2": 2}  # the default, as fitted
        assert not torch.allclose(torch.as_tensor(file["train"][()][:, 1:]), torch.as_tensor(residual[:, 1:]))  # the fitted closure moved the rollout
        default_rounds = file["train"][()]
    fewer = tmp_path / "fewer.h5"
    assert main(["simulate", str(runs["sa-pdd"]), "--lambda", "0.2", "--steps", "4", "--n", "2", "--noise", "--closure-rounds", "1", "--out", str(fewer), "--no-progress"]) == 0
    with h5py.File(fewer) as file:
        assert json.loads(file.attrs["settings"])["rollout_noise"]["calibration_rollouts"]["iterations"] == 1
        assert not torch.equal(torch.as_tensor(file["train"][()]), torch.as_tensor(default_rounds))
    secant = tmp_path / "secant.h5"
    assert main(["simulate", str(runs["sa-pdd"]), "--lambda", "0.2", "--steps", "4", "--n", "2", "--noise", "--closure-min-response", "0.25", "--out", str(secant), "--no-progress"]) == 0
    with h5py.File(secant) as file:
        assert json.loads(file.attrs["settings"])["rollout_noise"]["min_response"] == 0.25
    steady = tmp_path / "steady.h5"
    assert main(["simulate", str(runs["sa-pdd"]), "--lambda", "0.2", "--steps", "4", "--n", "2", "--noise", "--closure-speed-tolerance", "off", "--out", str(steady), "--no-progress"]) == 0
    with h5py.File(steady) as file:
        assert json.loads(file.attrs["settings"])["rollout_noise"]["speed_tolerance"] is None
    assert recorded["speed_tolerance"] == 0.1 and list(recorded["noise_scales"]) == ["0.2"]
    for argv, flag in (
        (["--noise", "--rollout-noise", "white"], "--rollout-noise"),
        (["--noise", "--closure-rounds", "0"], "--closure-rounds"),
        (["--noise", "--closure-min-response", "0"], "--closure-min-response"),
        (["--noise", "--closure-min-response", "nan"], "--closure-min-response"),
        (["--noise", "--closure-speed-tolerance", "1"], "--closure-speed-tolerance"),
        (["--noise", "--closure-speed-tolerance", "fast"], "--closure-speed-tolerance"),
        (["--thermalize", "2"], "--thermalize"),
        (["--thermalize", "4", "--thermalize-push", "nan"], "--thermalize-push"),
        (["--thermalize", "4", "--thermalize-steps", "0"], "--thermalize-steps"),
    ):
        assert main(["simulate", str(runs["pdd"]), "--lambda", "0.2", "--steps", "8", "--n", "2", *argv, "--out", str(tmp_path / "bad.h5"), "--no-progress"]) == 2
        assert flag in capsys.readouterr().err


def test_euler_maruyama_colours_its_noise_per_mode():
    """σ per mode [B, 1, *rfft]: the increments of a zero drift have variance σ_k²Δt in mode k (orthonormal FFT)."""

    dt, paths = 0.04, 2048
    sigma = torch.linspace(0.2, 1.0, 9, dtype=torch.float64).reshape(1, 1, 9).expand(paths, 1, 9)
    state = torch.zeros(paths, 1, 1, 16, dtype=torch.float64)
    integrator, drift = EulerMaruyama(), ZeroDrift()
    amplitude = integrator.init(drift, dt, sigma, device=state.device, dtype=state.dtype)
    step, _ = integrator.step(drift, state, torch.zeros(paths, dtype=torch.float64), dt, amplitude, GeneratorNoise(torch.Generator().manual_seed(3)), None)
    power = torch.fft.rfft(step[:, 0], norm="ortho").abs().square().mean(0)
    assert torch.allclose(power, sigma[0, 0] ** 2 * dt, rtol=4.5 * (2 / paths) ** 0.5)


def test_a_per_mode_run_rolls_out_with_the_per_mode_increment_noise(trained):
    from pdd_core.apps.inference.tasks import rollout_noise
    from pdd_core.score.path_density import increment_variance

    _, runs = trained
    per_mode, scalar = load_run(runs["sa-pdd"]), load_run(runs["pdd"])  # sa-pdd trains per mode by default, the tiny pdd run with Eq. 9
    lam = torch.full((1,), 0.3, dtype=torch.float64)
    expected = (increment_variance(per_mode.scheme, per_mode.grid, lam, per_mode.dt, delta_lambda=per_mode.delta_lambda)[:, 0] / per_mode.dt).sqrt()
    assert torch.equal(rollout_noise(per_mode, 0.3), expected)
    assert rollout_noise(scalar, 0.3) == pytest.approx(float(scalar.scheme.sigma(scalar.grid, 0.3, scalar.dt, delta_lambda=scalar.delta_lambda)[0]))


@pytest.mark.parametrize("name", ["sa-pdd", "pdd"])  # per-mode and scalar increment noise
def test_a_mean_conserving_drift_rolls_out_with_its_spatial_mean_kept(trained, name):
    import copy

    from pdd_core.apps.inference.tasks import simulate_run

    _, runs = trained
    run = load_run(runs[name])
    model = copy.deepcopy(run.model)
    model.conserve_mean = True  # the drift has no k = 0 component (every network drops it)
    run = attrs.evolve(run, model=model)
    initial = torch.randn(3, 1, run.grid.channels, *run.grid.shape, generator=torch.Generator().manual_seed(0), dtype=run.dtype)
    with torch.no_grad():
        path = simulate_run(run, initial, 0.3, 12, generator=torch.Generator().manual_seed(1), integrator=EulerMaruyama(), noise=True)
    means = path.mean(dim=tuple(range(3, path.ndim)))  # [paths, frames, channels]
    assert torch.allclose(means, means[:, :1].expand_as(means), atol=1e-3), (means - means[:, :1]).abs().max()  # float32 round-off: ~6e-5


def test_residual_noise_of_a_zero_drift_is_the_increments_variance(trained):
    """With f = 0 the residual is the increment itself: the tiny data are random walks with white
    standardised increments of variance 1/std_c², so σ_k²Δt = 1/std_c² in every mode (λ = 0)."""
    from pdd_core.apps.inference.residual_noise import ResidualNoise

    class ZeroDrift(torch.nn.Module):
        window = 3

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))  # a run's device and dtype come from its parameters

        def forward(self, history, lam):
            return self.scale * history[:, -1]

    data, runs = trained
    run = attrs.evolve(load_run(runs["pdd"]), model=ZeroDrift())
    sigma = ResidualNoise(run, data)(0.0)
    assert sigma.shape == (1, 2, 9)
    expected = 1 / torch.as_tensor(run.data.std, dtype=torch.float64) / run.dt**0.5  # [C]
    # 8 paths x 5 increments x 2 modes per k (fewer at k = 0, 8): average over k for a tight check.
    assert torch.allclose((sigma[0] ** 2).mean(-1) ** 0.5, expected, rtol=0.12)
    assert ResidualNoise(run, data)(0.0) is not sigma and torch.equal(ResidualNoise(run, data)(0.0), sigma)  # reproducible


def test_residual_noise_refuses_an_unknown_split_and_a_bad_path_count(trained):
    from pdd_core.apps.inference.residual_noise import ResidualNoise

    data, runs = trained
    run = load_run(runs["pdd"])
    with pytest.raises(ArgumentError, match="split"):
        ResidualNoise(run, data, split="nope")
    with pytest.raises(ArgumentError, match="paths"):
        ResidualNoise(run, data, paths=0)


def test_stationary_noise_keeps_each_modes_variance_where_the_residual_noise_does_not(trained):
    """Frames drawn independently with power V_k under the drift -a_k û_k (ρ̂_k = 1 - a_kΔt): nothing is predictable, so the
    residual's noise is (1 + ρ̂²) V and the stationary one (1 - ρ̂²) V; a rollout with the stationary noise keeps V, one
    with the residual's (1 + ρ̂²) / (1 - ρ̂²) V."""
    from pdd_core.apps.inference.climate_closure import mode_variance
    from pdd_core.apps.inference.residual_noise import ResidualNoise, StationaryNoise

    data_file, runs = trained
    run = load_run(runs["pdd"])
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    rate = torch.linspace(0.1, 0.3, modes, dtype=torch.float64) / dt
    run, _, data = _linear_run_and_data(run, rate, torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64), torch.ones(1, grid.channels, modes, dtype=torch.float64))
    power = rfft(data, grid.ndim).abs().pow(2).mean(dim=(0, 1))  # V_k [C, modes]
    damping = (1 - rate * dt) ** 2  # ρ̂²
    residual, stationary = (noise(run, data_file, data=data) for noise in (ResidualNoise, StationaryNoise))
    assert torch.allclose(residual(0.0)[0] ** 2 * dt, (1 + damping) * power, rtol=0.03)
    assert torch.allclose(stationary(0.0)[0] ** 2 * dt, (1 - damping) * power, rtol=0.05)
    assert stationary.describe()["kind"] == "stationary" and residual.describe()["kind"] == "residual"
    expected = {residual: (1 + damping) / (1 - damping), stationary: torch.ones_like(damping)}
    for noise, kept in expected.items():
        with torch.no_grad():
            path = simulate_run(run, data[:128, :1], 0.0, 400, generator=torch.Generator().manual_seed(2), integrator=EulerMaruyama(), noise=True, noise_level=noise)
        assert torch.allclose(mode_variance(path[:, 101:], grid.ndim) / mode_variance(data, grid.ndim), kept, rtol=0.1), noise.kind


@attrs.define(eq=False)
class KnownResidualNoise:
    """The parts of a ResidualNoise that ClimateClosure reads, with σ_k and the calibration paths given."""

    run: object
    sigma: torch.Tensor
    data: torch.Tensor
    seed: int = 0

    def __call__(self, lam):
        return self.sigma

    def paths_at(self, lam):
        return self.data

    def describe(self):
        return {"kind": "known"}


def _linear_run_and_data(run, rates, sigma, wanted, bias=None):
    """``run`` with the drift -a_k û_k (+ a constant ``bias`` per channel) and data of E|û_k|² = wanted_k² × that drift's stationary variance, mean 0.

    The data's frames are independent, so their speed is not a path's: the closures fitted to them keep the residual noise's
    level (``speed_tolerance=None``); the speed fit is tested on paths of the drift.
    """
    from pdd_core.drifts.mode_correction import ModeCorrectedDrift, ModeCorrection

    grid, dt = run.grid, run.dt
    drift = LinearDrift(grid, window=1, coefficients=(-rates).expand(1, grid.channels, *rates.shape[-1:]).reshape(1, grid.channels, 1, -1).clone())
    if bias is not None:
        drift = ModeCorrectedDrift(drift, grid, ModeCorrection(torch.zeros(1, grid.channels, *grid.rfft_shape, dtype=torch.float64), bias))
    stationary = sigma.square() * dt / (1 - (1 - rates * dt) ** 2)
    white = torch.randn(256, 64, grid.channels, *grid.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    data = irfft(rfft(white, grid.ndim) * (wanted.square() * stationary).sqrt()[0], grid.shape)  # E|û_k|² = f_k² v_k
    return attrs.evolve(run, model=drift), stationary, data - data.mean(dim=(0, 1, 3), keepdim=True)


def test_climate_closure_fits_each_modes_damping_to_the_datas_variance(trained):
    """A linear drift, u_{n+1} = (1 - aΔt) u_n + σ√Δt ξ per mode, keeps E|û|² = σ²Δt / (1 - (1 - aΔt)²).
    Data with f_k² times that variance: one calibration round finds the damping that keeps them
    (the rollout with the closure has the data's variance, the spatial mean's included), lowers σ
    where no damping can (a mode with σ²Δt above the data's variance), and leaves a noise-free
    mode alone; with ``fit_mean=False`` the spatial mean keeps the drift's own damping."""
    from pdd_core.apps.inference.climate_closure import ClimateClosure, mode_variance

    _, runs = trained
    run = load_run(runs["pdd"])
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    rate = torch.linspace(0.1, 0.3, modes, dtype=torch.float64) / dt  # aΔt
    sigma = torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64)
    sigma[0, 1, 3] = 0.0  # a mode without noise
    wanted = torch.linspace(0.8, 1.5, modes, dtype=torch.float64).repeat(1, grid.channels, 1)
    stationary = sigma.square() * dt / (1 - (1 - rate * dt) ** 2)
    wanted[0, 0, 5] = (0.5 * sigma[0, 0, 5].square() * dt / stationary[0, 0, 5]).sqrt()  # below σ²Δt: saturated
    run, stationary, data = _linear_run_and_data(run, rate, sigma, wanted)
    closure = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, paths=128, steps=400, burn_in=100, iterations=1)
    noise, correction = closure(0.0), closure.correction(0.0)
    assert float(noise[0, 1, 3]) == 0.0 and float(correction.linear[0, 1, 3]) == 0.0  # no noise, no correction
    assert float(correction.linear[0, 0, 5]) == 0.0 and float(noise[0, 0, 5]) == pytest.approx(float(sigma[0, 0, 5] * wanted[0, 0, 5]), rel=0.08)
    untouched = torch.ones_like(sigma, dtype=torch.bool)
    untouched[0, 0, 5] = False
    assert torch.equal(noise[untouched], sigma[untouched])
    with torch.no_grad():
        path = simulate_run(run, data[:128, :1], 0.0, 800, generator=torch.Generator().manual_seed(2), integrator=EulerMaruyama(), noise=True, noise_level=closure, drift_correction=closure.correction)
    kept = mode_variance(path[:, 101:], grid.ndim) / mode_variance(data, grid.ndim)
    fitted = untouched[0].clone()
    fitted[1, 3] = False
    assert torch.allclose(kept[fitted], torch.ones_like(kept[fitted]), atol=0.08), kept.tolist()
    assert float(kept[0, 5]) == pytest.approx(1.0, abs=0.15)  # the saturated mode: a noise cut after one round
    assert closure.describe()["kind"] == "climate" and closure.describe()["fit_mean"] is True
    # Without fit_mean the spatial mean keeps the drift's damping: f_0² = 0.8² of the data's variance.
    assert torch.equal(ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, paths=8, steps=20, burn_in=0, iterations=1, fit_mean=False).correction(0.0).linear[0, :, 0], torch.zeros(grid.channels, dtype=torch.float64))


def test_climate_closure_moves_the_spatial_mean_to_the_datas(trained):
    """A drift whose spatial mean is forced by b (equilibrium b/a = 2 std of the mode off the data's
    mean 0): the fitted constant cancels the forcing, d = -b, and the closed rollout's spatial mean sits at the data's within
    its Monte Carlo error; without ``fit_mean`` it stays at b/a."""
    from pdd_core.apps.inference.climate_closure import ClimateClosure, channel_mean

    _, runs = trained
    run = load_run(runs["pdd"])
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    rate = torch.full((modes,), 0.2 / dt, dtype=torch.float64)
    sigma = torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64)
    mode_std = float((sigma[0, 0, 0].square() * dt / (1 - (1 - 0.2) ** 2)).sqrt()) / grid.shape[0] ** 0.5  # of the spatial mean, unnormalised rfft
    bias = torch.tensor([[2.0, -1.0]], dtype=torch.float64)[:, : grid.channels] * rate[0] * mode_std
    run, _, data = _linear_run_and_data(run, rate, sigma, torch.ones(1, grid.channels, modes, dtype=torch.float64), bias=bias)
    closure = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, paths=128, steps=400, burn_in=100, iterations=2)
    offset = closure.correction(0.0).offset
    assert torch.allclose(offset, -bias, atol=0.1 * float(bias.abs().max())), (offset, bias)
    with torch.no_grad():
        closed = simulate_run(run, data[:128, :1], 0.0, 600, generator=torch.Generator().manual_seed(2), integrator=EulerMaruyama(), noise=True, noise_level=closure, drift_correction=closure.correction)
        alone = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, paths=128, steps=400, burn_in=100, iterations=1, fit_mean=False)
        drifting = simulate_run(run, data[:128, :1], 0.0, 600, generator=torch.Generator().manual_seed(2), integrator=EulerMaruyama(), noise=True, noise_level=alone, drift_correction=alone.correction)
    assert torch.allclose(channel_mean(closed[:, 101:]), torch.zeros(1, grid.channels, dtype=torch.float64), atol=0.15 * mode_std)
    assert torch.allclose(channel_mean(drifting[:, 101:]), bias / rate[0], rtol=0.1)


def test_climate_closure_refuses_bad_calibration_sizes(trained):
    from pdd_core.apps.inference.climate_closure import ClimateClosure

    _, runs = trained
    run = load_run(runs["pdd"])
    known = KnownResidualNoise(run, torch.ones(1), torch.zeros(1))
    with pytest.raises(ArgumentError, match="steps"):
        ClimateClosure(known, steps=0)
    with pytest.raises(ArgumentError, match="burn_in"):
        ClimateClosure(known, steps=10, burn_in=10)


def test_a_mode_corrected_drift_adds_its_linear_term_and_constant_and_refuses_a_wrong_shape():
    from pdd_core.drifts.mode_correction import ModeCorrectedDrift, ModeCorrection
    from pdd_core.errors import ShapeError

    grid = Grid((16,), channels=2)
    drift = LinearDrift(grid, window=1)  # zero drift: what remains is the correction
    coefficients = torch.linspace(-1.0, 1.0, grid.channels * grid.rfft_shape[-1], dtype=torch.float64).reshape(1, grid.channels, -1)
    offset = torch.tensor([[0.5, -2.0]], dtype=torch.float64)
    corrected = ModeCorrectedDrift(drift, grid, ModeCorrection(coefficients, offset))
    state = torch.randn(3, 1, grid.channels, *grid.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = irfft(rfft(state[:, -1], 1) * coefficients, grid.shape) + offset[..., None]
    assert torch.allclose(corrected(state, torch.zeros(3, dtype=torch.float64)), expected)
    assert torch.allclose(ModeCorrectedDrift(drift, grid, ModeCorrection(coefficients))(state, torch.zeros(3)), expected - offset[..., None])
    with pytest.raises(ShapeError, match="coefficients"):
        ModeCorrectedDrift(drift, grid, ModeCorrection(coefficients[:, :, :-1]))
    with pytest.raises(ShapeError, match="offset"):
        ModeCorrectedDrift(drift, grid, ModeCorrection(coefficients, offset[:, :1]))


def test_climate_closure_keeps_the_last_update_that_a_rollout_survived(trained, monkeypatch):
    """Each round's rollout checks the update before it, and a last rollout as long checks the last one: when that
    check leaves the energy band, the closure is the one of the round before (here: equal to a one-round
    closure's), ``rounds`` says so; a first rollout that diverges is still an error."""
    from pdd_core.apps.inference import climate_closure
    from pdd_core.apps.inference.climate_closure import ClimateClosure
    from pdd_core.errors import DivergenceError

    _, runs = trained
    run = load_run(runs["pdd"])
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    sigma = torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64)
    run, _, data = _linear_run_and_data(run, torch.full((modes,), 0.2 / dt, dtype=torch.float64), sigma, torch.full((1, grid.channels, modes), 1.2, dtype=torch.float64))
    sizes = {"paths": 16, "steps": 80, "burn_in": 20}
    one = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, iterations=1, min_response=1.0, **sizes)
    expected = one.correction(0.0)
    assert one.rounds == {0.0: 1}
    calls = []

    def failing_on(call):
        def simulate(*args, **kwargs):
            calls.append(args[3])
            if len(calls) == call:
                raise DivergenceError("left its band")
            return simulate_run(*args, **kwargs)

        return simulate

    monkeypatch.setattr(climate_closure, "simulate_run", failing_on(3))  # rounds 1, 2, then the check
    two = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, iterations=2, min_response=1.0, **sizes)
    kept = two.correction(0.0)
    assert calls == [80, 80, 80] and two.rounds == {0.0: 1} and two.describe()["rounds_kept"] == {"0.0": 1}
    assert torch.equal(kept.linear, expected.linear) and torch.equal(kept.offset, expected.offset)
    assert torch.equal(two(0.0), one(0.0))
    calls.clear()
    monkeypatch.setattr(climate_closure, "simulate_run", failing_on(1))
    with pytest.raises(DivergenceError, match="calibration rollout 1 of 2"):
        ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, iterations=2, **sizes).correction(0.0)
    # A secant step (from the second round on) that leaves the band: the linear rule's rounds, fitted again from the start.
    monkeypatch.setattr(climate_closure, "simulate_run", simulate_run)
    linear = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, iterations=3, min_response=1.0, **sizes)
    linear_fit = linear(0.0), linear.correction(0.0)
    calls.clear()
    monkeypatch.setattr(climate_closure, "simulate_run", failing_on(3))  # the rollout after the first secant step
    secant = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, iterations=3, min_response=0.25, **sizes)
    assert torch.equal(secant.correction(0.0).linear, linear_fit[1].linear) and torch.equal(secant(0.0), linear_fit[0])
    assert len(calls) == 3 + 4 and secant.rounds == {0.0: 3} and secant.describe()["linear_fallback"] == [0.0]
    assert linear.describe()["linear_fallback"] == []
    calls.clear()
    monkeypatch.setattr(climate_closure, "simulate_run", failing_on(4))  # after the second secant step: two rounds kept, as many as the linear rule's
    later = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, iterations=3, min_response=0.25, **sizes)
    later(0.0)
    assert len(calls) == 4 and later.rounds == {0.0: 2} and later.describe()["linear_fallback"] == []


class HiddenNoiseDrift(torch.nn.Module):
    """``drift`` plus white noise of variance q/Δt per call: increments that carry q Δt of variance the closure's σ does not see,
    the linear model of a chaotic mode fed by the transfer between modes (its rate read off the variance answers a damping
    change Δc with g Δc, g ≈ σ²/(σ² + q))."""

    def __init__(self, drift, q_over_dt):
        super().__init__()
        self.drift, self.window = drift, drift.window
        self.scale = torch.as_tensor(q_over_dt, dtype=torch.float64).sqrt()  # a scalar, or one per rfft mode of a 1D grid
        self.generator = torch.Generator().manual_seed(7)

    def forward(self, history, lam):
        last = history[:, -1]
        white = torch.randn(last.shape, generator=self.generator, dtype=last.dtype)
        return self.drift(history, lam) + (self.scale * white if self.scale.dim() == 0 else irfft(rfft(white, 1) * self.scale, last.shape[-1:]))


def test_response_gain_is_an_upper_bound_on_the_least_squares_slope_over_the_fitted_modes():
    """ĝ = Σ change·step / Σ step² plus two standard errors (residuals over n - 1), clipped to [min_response, 1]."""
    from pdd_core.apps.inference.climate_closure import response_gain

    step = torch.tensor([[[1.0, 2.0, -1.0, 5.0], [1.0, 1.0, 1.0, 1.0], [0.01, 0.01, 0.01, 0.01]]], dtype=torch.float64)
    change = torch.tensor([[[0.5, 0.9, -0.6, 100.0], [0.01, 0.02, 0.0, 0.03], [0.3, -0.2, 0.1, -0.25]]], dtype=torch.float64)
    fitted = torch.tensor([[[True, True, True, False], [True, True, True, True], [True, True, True, True]]])
    # channel 0 (the unfitted mode left out): ĝ = 2.9 / 6, residuals 1/60, -1/15, -7/60: SE = sqrt(0.018333 / 2 / 6) = 0.039087;
    # channel 1: ĝ = 0.015, SE = sqrt(0.0005 / 3 / 4) = 0.006455, bound 0.0279, clipped to 0.25;
    # channel 2: steps within the changes' noise: ĝ = -1.25 but SE = 12.97, so the bound is above 1: the linear rule.
    expected = torch.tensor([[[2.9 / 6 + 2 * 0.0390868], [0.25], [1.0]]], dtype=torch.float64)
    assert torch.allclose(response_gain(change, step, fitted, 0.25), expected, atol=1e-6)
    assert torch.equal(response_gain(0.5 * step, step, fitted, 0.25), torch.full((1, 3, 1), 0.5, dtype=torch.float64))  # an exact response: ĝ itself
    assert torch.equal(response_gain(change, torch.zeros_like(step), fitted, 0.25), torch.ones(1, 3, 1, dtype=torch.float64))  # no step: 1
    assert torch.equal(response_gain(change, step, fitted & torch.tensor([True, True, False, False]), 0.25), torch.ones(1, 3, 1, dtype=torch.float64))  # < 3 modes: 1


def test_response_gain_per_octave_is_the_pooled_bound_over_each_octaves_modes():
    """Octaves floor(log2|n|) of the rfft modes; grouped, each octave gets the bound of its own modes (a noise-fed octave answering
    linearly keeps 1 beside a chaotic one answering at 0.3; octaves of fewer than three modes 1), where pooled both share one."""
    from pdd_core.apps.inference.climate_closure import octaves, response_gain

    assert octaves((16,)).tolist() == [-1, 0, 1, 1, 2, 2, 2, 2, 3]
    assert octaves((4, 4)).tolist() == [[-1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 1]]
    groups = octaves((32,))  # n = 1 | 2-3 | 4-7 | 8-15 | 16
    step = torch.linspace(0.5, 2.0, 17, dtype=torch.float64).reshape(1, 1, 17)
    change = torch.where(groups == 3, 0.3 * step, step)
    fitted = (groups >= 0).reshape(1, 1, 17)
    expected = torch.where(groups == 3, 0.3, 1.0).to(torch.float64).reshape(1, 1, 17)
    assert torch.allclose(response_gain(change, step, fitted, 0.25, groups), expected, atol=1e-12)
    pooled = response_gain(change, step, fitted, 0.25)  # one bound for all: too small for the linear octaves, too large for octave 3
    assert pooled.shape == (1, 1, 1) and 0.6 < pooled.item() < 0.8


def test_a_mode_whose_lowered_damping_carried_it_past_twice_the_datas_variance_has_overshot():
    from pdd_core.apps.inference.climate_closure import overshot

    target = torch.ones(1, 1, 6, dtype=torch.float64)
    kept = torch.tensor([[[2.5, 1.5, 3.0, 2.5, 2.5, 2.1]]], dtype=torch.float64)
    step = torch.tensor([[[-1.0, -1.0, 1.0, -1.0, -1.0, -0.1]]], dtype=torch.float64)  # < 0: the damping was lowered
    fitted = torch.tensor([[[True, True, True, False, True, True]]])
    modes = torch.tensor([[[True, True, True, True, False, True]]])  # mode 4: the spatial mean, which keeps its own rule
    # 0: lowered, 2.5x; 1: only 1.5x; 2: raised; 3: not fitted; 4: not screened; 5: lowered a little, 2.1x.
    assert overshot(kept, target, step, fitted, modes).tolist() == [[[True, False, False, False, False, True]]]


def test_climate_closure_converges_on_modes_that_answer_its_correction_in_part(trained):
    """Modes with hidden noise (g ≈ 0.4) and data with 1.6x their variance: the linear rule closes ~40 % of the gap per round,
    so three rounds leave the rollout short; the secant update (min_response=0.25) divides the later rounds' steps by the
    measured g (its upper bound) and lands within the sampling error."""
    from pdd_core.apps.inference.climate_closure import ClimateClosure, mode_variance

    _, runs = trained
    run = load_run(runs["pdd"])
    run = attrs.evolve(run, grid=Grid((64,), channels=run.grid.channels))  # octaves of 4, 8 and 16 modes to pool the response over
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    rate = torch.full((modes,), 0.1 / dt, dtype=torch.float64)
    sigma = torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64)
    q = 1.5 * 0.8**2  # hidden increment variance per unit time: g ≈ 1 / (1 + 1.5)
    hidden_sigma = (sigma.square() + q).sqrt()  # the rollout's whole increment noise, for the data's variance
    linear_run, _, data = _linear_run_and_data(run, rate, hidden_sigma, torch.full((1, grid.channels, modes), 1.6**0.5, dtype=torch.float64))
    run = attrs.evolve(linear_run, model=HiddenNoiseDrift(linear_run.model, q / dt))
    ratios = {}
    for min_response in (None, 1.0):  # the default at λ = 0: the secant update
        closure = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, paths=128, steps=400, burn_in=100, iterations=3, min_response=min_response)
        with torch.no_grad():
            path = simulate_run(run, data[:128, :1], 0.0, 800, generator=torch.Generator().manual_seed(2), integrator=EulerMaruyama(), noise=True, noise_level=closure, drift_correction=closure.correction)
        ratios[min_response] = (mode_variance(path[:, 101:], grid.ndim) / mode_variance(data, grid.ndim))[:, 4:32]  # the octaves 4-7, 8-15, 16-31 (k = 32 alone keeps the linear rule)
    print(ratios)
    assert torch.allclose(ratios[None], torch.ones_like(ratios[None]), atol=0.08), ratios[None].tolist()
    assert float(ratios[1.0].mean()) < 0.92, ratios[1.0].tolist()  # the linear rule, three rounds: still short


def test_climate_closure_takes_each_octaves_own_response(trained):
    """Octaves that answer differently: hidden noise (g ≈ 0.25) in the octaves 4-7 and 8-15, none in 16-31 (g = 1), data with 2.5x
    the variance. Per octave the secant divides each octave's steps by its own response and every mode lands within the sampling
    error (at most 0.07 off); one response per channel, pulled towards 1 by the linear octave, leaves the others at 0.92 (0.18 off)."""
    from pdd_core.apps.inference.climate_closure import ClimateClosure, mode_variance

    _, runs = trained
    run = load_run(runs["pdd"])
    run = attrs.evolve(run, grid=Grid((64,), channels=run.grid.channels))
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    rate = torch.full((modes,), 0.1 / dt, dtype=torch.float64)
    sigma = torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64)
    q = torch.where(torch.arange(modes) < 16, 3.0 * 0.8**2, 0.0).to(torch.float64)
    hidden_sigma = (sigma.square() + q).sqrt()
    linear_run, _, data = _linear_run_and_data(run, rate, hidden_sigma, torch.full((1, grid.channels, modes), 2.5**0.5, dtype=torch.float64))
    run = attrs.evolve(linear_run, model=HiddenNoiseDrift(linear_run.model, q / dt))
    closure = ClimateClosure(KnownResidualNoise(run, sigma, data), speed_tolerance=None, paths=128, steps=400, burn_in=100, iterations=3)
    with torch.no_grad():
        path = simulate_run(run, data[:128, :1], 0.0, 800, generator=torch.Generator().manual_seed(2), integrator=EulerMaruyama(), noise=True, noise_level=closure, drift_correction=closure.correction)
    ratios = (mode_variance(path[:, 101:], grid.ndim) / mode_variance(data, grid.ndim))[:, 4:32]
    assert torch.allclose(ratios, torch.ones_like(ratios), atol=0.1), ratios.tolist()


def test_climate_closure_takes_the_secant_at_lambda_zero_and_the_linear_rule_elsewhere_unless_told(trained):
    from pdd_core.apps.inference.climate_closure import ClimateClosure

    _, runs = trained
    known = KnownResidualNoise(load_run(runs["pdd"]), torch.ones(1), torch.zeros(1))
    assert ClimateClosure(known).plan(0.0) == (4, 0.25) and ClimateClosure(known).plan(0.1) == (2, 1.0)
    assert ClimateClosure(known, iterations=3).plan(0.0) == (3, 0.25) and ClimateClosure(known, min_response=0.5).plan(0.2) == (2, 0.5)
    assert ClimateClosure(known, iterations=1, min_response=1).describe()["calibration_rollouts"]["iterations"] == 1


def test_climate_closure_refuses_a_response_outside_zero_one(trained):
    from pdd_core.apps.inference.climate_closure import ClimateClosure

    _, runs = trained
    known = KnownResidualNoise(load_run(runs["pdd"]), torch.ones(1), torch.zeros(1))
    for bad in (0.0, 1.5):
        with pytest.raises(ArgumentError, match="min_response"):
            ClimateClosure(known, min_response=bad)
    for bad in (0.0, 1.0, float("nan")):
        with pytest.raises(ArgumentError, match="speed_tolerance"):
            ClimateClosure(known, speed_tolerance=bad)


def test_speed_scale_and_increment_power_against_hand_computed_values():
    """The mean-square increment summed over rfft modes with their weights is the real-space sum (Parseval), and the
    speed scale s solves D - N + s²N = D (edge / ratio)² outside the band, 1 inside it or without noise."""
    from pdd_core.apps.inference.climate_closure import increment_power, mean_speed, rfft_weights, speed_scale

    assert rfft_weights((4,)).tolist() == [1.0, 2.0, 1.0] and rfft_weights((5,)).tolist() == [1.0, 2.0, 2.0]
    u = torch.randn(3, 7, 2, 6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    by_space = (u[:, 1:] - u[:, :-1]).pow(2).sum(dim=(3, 4)).mean(dim=(0, 1)).unsqueeze(0)
    assert torch.allclose(increment_power(u, 2), by_space)
    assert torch.allclose(mean_speed(u), (u[:, 1:] - u[:, :-1]).abs().mean(dim=(0, 1, 3, 4)).unsqueeze(0))
    ratio = torch.tensor([[0.8, 0.95, 1.2, 0.2, 0.8]], dtype=torch.float64)
    power, noise = torch.tensor([[0.64, 0.9, 1.44, 0.04, 0.64]], dtype=torch.float64), torch.tensor([[0.2, 0.2, 0.5, 0.01, 0.0]], dtype=torch.float64)
    scale = speed_scale(ratio, power, noise, 0.1)
    # 0.8 slow: (0.64 (0.9 / 0.8)² - 0.44) / 0.2; 0.95 inside; 1.2 fast: (1.44 (1.1 / 1.2)² - 0.94) / 0.5; 0.2 slow: clipped at 2; no noise: 1.
    assert torch.allclose(scale, torch.tensor([[(0.37 / 0.2) ** 0.5, 1.0, (0.27 / 0.5) ** 0.5, 2.0, 1.0]], dtype=torch.float64))


def test_climate_closure_brings_a_too_slow_channel_to_the_datas_speed_and_keeps_its_variance(trained):
    """Data: exact Euler-Maruyama paths of a linear drift with noise σ. Told half of σ on channel 0, the variance fit alone
    lowers that channel's damping until it moves at about half the data's speed (2v aΔt per mode); with the speed
    tolerance the channel's noise is scaled up and its damping refitted, so it keeps its variance (within 8 %) at a speed
    within the tolerance; channel 1, told its true σ, moves at the data's speed and keeps its noise exactly."""
    from pdd_core.apps.inference.climate_closure import ClimateClosure, mean_speed, mode_variance

    _, runs = trained
    run = load_run(runs["pdd"])
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    rate = torch.linspace(0.1, 0.3, modes, dtype=torch.float64) / dt
    sigma = torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64)
    run, _, start = _linear_run_and_data(run, rate, sigma, torch.ones(1, grid.channels, modes, dtype=torch.float64))
    with torch.no_grad():
        data = simulate_run(run, start[:128, :1], 0.0, 300, generator=torch.Generator().manual_seed(3), integrator=EulerMaruyama(), noise=True, noise_level=lambda _lam: sigma)[:, 100:]
    told = sigma.clone()
    told[0, 0] = 0.5 * sigma[0, 0]

    def speed_and_variance(closure):
        with torch.no_grad():
            path = simulate_run(run, data[:128, :1], 0.0, 500, generator=torch.Generator().manual_seed(2), integrator=EulerMaruyama(), noise=True, noise_level=closure, drift_correction=closure.correction)[:, 101:]
        return (mean_speed(path) / mean_speed(data))[0], mode_variance(path, grid.ndim) / mode_variance(data, grid.ndim)

    variance_only = ClimateClosure(KnownResidualNoise(run, told, data), paths=128, steps=400, burn_in=100, iterations=2, speed_tolerance=None)
    speed, _ = speed_and_variance(variance_only)
    assert float(speed[0]) < 0.65 and float(speed[1]) == pytest.approx(1.0, abs=0.05)
    closure = ClimateClosure(KnownResidualNoise(run, told, data), paths=128, steps=400, burn_in=100, iterations=2)
    speed, variance = speed_and_variance(closure)
    assert 0.86 < float(speed[0]) < 1.05 and float(speed[1]) == pytest.approx(1.0, abs=0.05), speed
    assert torch.allclose(variance, torch.ones_like(variance), atol=0.08), variance
    assert closure.noise_scales[0.0][0] > 1.5 and closure.noise_scales[0.0][1] == 1.0
    assert torch.equal(closure(0.0)[0, 1], told[0, 1])
    assert closure.describe()["noise_scales"]["0.0"] == closure.noise_scales[0.0]


def test_an_overshooting_mode_takes_the_step_its_response_allows_where_freezing_kept_its_deficit(trained, monkeypatch):
    """Rollouts (stood in for by Gaussian frames) whose modes 1-2 read off a damping rate g = 2.5 times as
    responsive to the correction c as a linear mode's, rate = g (a - c): the linear step carries them
    past 3x the data's variance; going back to before that step and taking 1/g of it (the measured
    response) lands them on it, checked by the next rollout, while nothing else moves; the other modes,
    which the blown-up ones fed past 2x in that rollout, retry too; every retried mode stays at its retry.
    Where the retry's own rollout overshoots again, the mode keeps the drift's damping."""
    from pdd_core.apps.inference import climate_closure
    from pdd_core.apps.inference.climate_closure import ClimateClosure, keeping_rate, overshoot_response

    _, runs = trained
    run = load_run(runs["pdd"])
    grid, dt = run.grid, run.dt
    modes = grid.rfft_shape[-1]
    sigma = torch.full((1, grid.channels, modes), 0.8, dtype=torch.float64)
    rate = torch.full_like(sigma, 0.15 / dt)  # aΔt = 0.15 for every mode
    response = torch.ones_like(sigma)
    response[..., 1:3] = 2.5

    kink = {"at": torch.full_like(sigma, float("inf")), "slope": 0.0}  # beyond `at`, the rate read falls faster by `slope` per unit of c

    def variance(correction, gain):  # E|û|² of the linear mode at the rate read, gain (a - c) with a = rate / gain (c = 0 reads `rate`), aΔt >= 0.002
        read = (gain * (rate / gain - correction) - kink["slope"] * (correction - kink["at"]).clamp_min(0)).clamp_min(0.002 / dt)
        return sigma.square() * dt / (1 - (1 - read * dt) ** 2)

    def frames(var, paths, count, seed):
        white = torch.randn(paths, count, grid.channels, *grid.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        return irfft(rfft(white, grid.ndim) * var.sqrt()[0], grid.shape)

    target = variance(torch.zeros_like(sigma), response) / 0.68  # the drift alone keeps 0.68 of the data's variance
    data = frames(target, 256, 64, 1)
    calls, closures = [], []

    def fake_rollout(gain):
        def simulate(run_, initial, lam, steps, *, drift_correction, **kwargs):
            calls.append(drift_correction(lam).linear.clone())
            var = variance(drift_correction(lam).linear.double(), gain)
            feed = 1 + (var[..., 1:3] / target[..., 1:3] - 1.5).clamp_min(0).amax(dim=-1, keepdim=True)  # blown-up large scales feed every mode
            var = torch.cat([var[..., :1], var[..., 1:3], var[..., 3:] * feed], dim=-1)
            return frames(var, initial.shape[0], initial.shape[1] + steps, len(calls) + 10)

        return simulate

    def fit(gain):
        calls.clear()
        monkeypatch.setattr(climate_closure, "simulate_run", fake_rollout(gain))
        closure = ClimateClosure(KnownResidualNoise(run, sigma, data - data.mean(dim=(0, 1, 3), keepdim=True)), speed_tolerance=None, fit_mean=False, paths=64, steps=200, burn_in=0)
        closures.append(closure)
        return closure.correction(0.1).linear.double()  # λ > 0: two rounds of the linear rule, then the check

    kept = variance(fit(response), response) / target
    assert len(calls) == 4 and float(variance(calls[1], response)[..., 1:3].div(target[..., 1:3]).min()) > 3  # the linear step overshot
    assert torch.allclose(kept[..., 1:3], torch.ones_like(kept[..., 1:3]), atol=0.05), kept.tolist()  # the retried modes on the data's variance
    # The record says so: one round of retries, every mode but the spatial mean (left to the drift) retried, none sent back.
    assert closures[-1].describe()["overshoots"] == {"0.1": {"retry_rounds": 1, "modes_retried": grid.channels * (modes - 1), "modes_at_most_damping": 0}}
    # The modes that were fed past 2x overshot as well: they stay at their retries, short of the data's variance (the guard's cost).
    assert float(kept[..., 3:].min()) > 0.7 and float(kept[..., 3:].max()) < 0.9, kept.tolist()
    # A retry that overshoots again (here: each change of c answers 30x, the first step's measured response ~3) goes back to the drift's damping.
    steeper = response.clone()
    steeper[..., 1:3] = 30.0
    assert torch.equal(fit(steeper)[..., 1:3], torch.zeros_like(sigma[..., 1:3]))
    assert closures[-1].overshoots[0.1] == {"retry_rounds": 1, "modes_retried": grid.channels * (modes - 1), "modes_at_most_damping": grid.channels * (modes - 1)}
    # A response that steepens past 0.8 of the way (by 2 more per unit of c): the retry lands short, at ~0.9, and stays there;
    # a further linear step would carry it to ~1.5x.
    kink["at"] = 0.8 * (rate - keeping_rate(sigma, target, dt)) / response
    kink["slope"] = 2.0
    kept = variance(fit(response), response) / target
    assert len(calls) == 4 and 0.85 < float(kept[..., 1:3].min()) and float(kept[..., 1:3].max()) < 1.1, kept.tolist()
    # The response itself: the rate's change over the step, at least 1, and 1 outside the modes given.
    change, step = torch.tensor([-3.0, -0.5, 2.0, -1.0]), torch.tensor([-1.0, -1.0, -1.0, 0.0])
    assert overshoot_response(change, step, torch.tensor([True, True, True, False])).tolist() == [3.0, 1.0, 1.0, 1.0]
    assert keeping_rate(sigma, variance(torch.zeros_like(sigma), response), dt).allclose(rate)
