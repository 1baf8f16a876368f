"""Generated fields as HMC proposals (pdd_core/apps/lattice/warm_start.py, independence_mh.py,
hmc_comparison.py, gaussian_proposal.py, chain_statistics.py) against exact answers.

Ground truths: the free field, where the exact law is the Gaussian with the lattice propagator
P(p) = 1/(ε^d (|p̂|² + m²)), ⟨S⟩ = N^d / 2 (equipartition) and ⟨|M|⟩ = sqrt(2 P(0)/π) / N^{d/2};
the dense-covariance Gaussian density; the AR(1) autocorrelation time; the phi4 module's τ_int.
"""

import json
import math
import re

import numba
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from pdd_core.apps.lattice.gaussian_proposal import FourierGaussian, fit_fourier_gaussian, independence_metropolis_step
from pdd_core.apps.lattice.independence_mh import independence_mh_study, proposal_chain
from pdd_core.apps.lattice.warm_start import warm_start_study
from pdd_core.errors import ArgumentError, DTypeError, ShapeError
from pdd_core.metrics.chain_statistics import integrated_autocorrelation_time, measure_burn_in
from pdd_core.metrics.resampling import Estimate
from systems.phi4 import LatticePhi4

# Free field on 4 x 4 sites (ε = 1/4): zero mode P(0) = 16, so ⟨|M|⟩ = sqrt(32/π)/4 ≈ 0.80, ⟨S⟩ = 8.
FREE = LatticePhi4(N=4, m2=1.0, lam=0.0, step_size=0.3, leapfrog_steps=5, trajectories_per_frame=1, thermalisation_trajectories=50)
EXACT = FourierGaussian.gaussian(FREE.free_propagator())
EXACT_REFERENCE = {"abs_magnetisation": Estimate(math.sqrt(2 * FREE.free_propagator()[0, 0] / math.pi) / FREE.N, 0.0), "action": Estimate(FREE.N**2 / 2, 0.0)}


@pytest.fixture(autouse=True)
def one_numba_thread():
    # The HMC kernel is numba-parallel over chains; on shared cores one thread is far faster for 4 x 4.
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def dense_covariance(power: np.ndarray) -> np.ndarray:
    """F^† diag(P) F with F the orthonormal DFT matrix of the lattice (rows: sites)."""
    sites = power.size
    basis = np.eye(sites).reshape(sites, *power.shape)
    transform = np.fft.fftn(basis, axes=(1, 2), norm="ortho").reshape(sites, sites)  # [site, mode]
    return (transform.conj() * power.ravel()) @ transform.T


@pytest.mark.parametrize("z2_pair", [False, True])
def test_log_density_equals_dense_gaussian(z2_pair):
    rng = np.random.default_rng(1)
    power = FREE.free_propagator() * (1 + 0.3 * rng.random((4, 4)))
    power = 0.5 * (power + np.roll(np.flip(power), 1, axis=(0, 1)))
    proposal = FourierGaussian(power, zero_mean=3.0 if z2_pair else 0.5, zero_std=1.5, z2_pair=z2_pair)
    fields = proposal.sample(5, rng)
    unit = np.full(16, 0.25)  # the zero mode's unit vector N^{-d/2} (1, ..., 1)
    off_zero = power.copy()
    off_zero[0, 0] = 0.0
    covariance = dense_covariance(off_zero).real + 1.5**2 * np.outer(unit, unit)
    flat = fields.reshape(5, 16)
    if z2_pair:
        expected = np.logaddexp(multivariate_normal(3.0 * unit, covariance).logpdf(flat), multivariate_normal(-3.0 * unit, covariance).logpdf(flat)) - math.log(2)
    else:
        expected = multivariate_normal(0.5 * unit, covariance).logpdf(flat)
    np.testing.assert_allclose(proposal.log_density(fields), expected, rtol=1e-10)


def test_samples_have_the_power_and_the_fit_recovers_it():
    rng = np.random.default_rng(2)
    power = FREE.free_propagator()
    bimodal = FourierGaussian(power, zero_mean=20.0, zero_std=2.0, z2_pair=True)
    samples = bimodal.sample(20000, rng)
    fitted = fit_fourier_gaussian(samples)
    modes = np.delete(np.arange(16), 0)
    # Each |φ̂(p)|² is P(p) x (Exp(1) or χ²₁), relative standard error <= sqrt(2/n) = 1 %.
    np.testing.assert_allclose(fitted.power.ravel()[modes], power.ravel()[modes], rtol=0.05)
    assert fitted.z2_pair and abs(fitted.zero_mean - 20.0) < 0.1 and abs(fitted.zero_std - 2.0) < 0.1
    unimodal = fit_fourier_gaussian(EXACT.sample(20000, rng))
    assert not unimodal.z2_pair and abs(unimodal.zero_std - 4.0) < 0.1


def test_exact_proposal_is_always_accepted():
    rng = np.random.default_rng(3)
    fields = EXACT.sample(64, rng)
    log_weight = -FREE.action(fields) - EXACT.log_density(fields)
    assert np.ptp(log_weight) < 1e-9  # w = exp(-S)/q is constant: q is the target
    chain = proposal_chain(FREE, EXACT, fields, 20, rng, hmc=True)
    assert chain.acceptance == 1.0 and chain.hmc_trajectories == 64 * 20
    step = independence_metropolis_step(FREE.action, EXACT, fields, log_weight, rng)
    assert step.accepted.all()


def test_mismatched_proposal_still_samples_the_free_field():
    # A 1.5x too wide Gaussian: alone it gives ⟨S⟩ = 12; the Metropolis test must bring it back to 8.
    rng = np.random.default_rng(4)
    power = FREE.free_propagator()
    wide = FourierGaussian(1.5 * power, zero_mean=0.0, zero_std=math.sqrt(1.5 * power[0, 0]))
    chain = proposal_chain(FREE, wide, EXACT.sample(64, rng), 400, rng, hmc=False)
    assert 0.2 < chain.acceptance < 0.9
    for name, exact in EXACT_REFERENCE.items():
        values = chain.series[name]
        tau = integrated_autocorrelation_time(values).tau
        error = math.sqrt(values.var() * 2 * tau / values.size)
        assert abs(values.mean() - exact.value) < 4 * error, (name, values.mean(), exact.value, error)


def test_warm_start_from_exact_samples_needs_no_burn_in():
    rng = np.random.default_rng(5)
    study = warm_start_study(FREE, EXACT.sample(32, rng), 0.0, rng, production_trajectories=100, reference=EXACT_REFERENCE)
    for name in EXACT_REFERENCE:
        assert study.warm.burn_in[name].steps == 0 and study.warm.burn_in[name].start_z < 3
        # The cold start (site noise 0.1) is far from equilibrium: plain HMC has to burn in.
        assert study.plain.burn_in[name].start_z > 20 and study.plain.burn_in[name].steps > 0
    assert study.warm.discarded_steps == 0 and study.plain.discarded_steps == 50
    assert study.equal_cost and study.warm.measured_steps > 100  # no burn-in to pay for
    assert set(json.loads(json.dumps(study.to_json()))) >= {"plain", "warm", "ratios", "reference"}


def test_generation_cost_is_charged_to_the_warm_start():
    rng = np.random.default_rng(6)
    fields = EXACT.sample(8, rng)
    study = warm_start_study(FREE, fields, 1e6, rng, production_trajectories=20, burn_in_trajectories=10)
    assert not study.equal_cost and study.warm.cost.seconds > 1e6
    expected = study.warm.cost.hmc_trajectories + 1e6 / study.seconds_per_trajectory
    assert study.warm.cost.trajectory_equivalents == pytest.approx(expected)
    assert study.warm.cost.force_evaluations == study.warm.cost.hmc_trajectories * (FREE.leapfrog_steps + 1)


def test_independence_study_with_exact_proposal():
    study = independence_mh_study(FREE, EXACT, np.random.default_rng(7), n_chains=8, n_cycles=30, burn_in_trajectories=20)
    assert study.proposal.mh_acceptance == 1.0 and study.trajectories_per_cycle == 1
    assert study.plain.measured_steps >= 8 and study.proposal.measured_steps == 30
    json.dumps(study.to_json())


def test_burn_in_rule():
    rng = np.random.default_rng(8)
    relaxing = 5.0 * np.exp(-np.arange(60) / 3.0) + 0.1 * rng.standard_normal((40, 60))
    burn = measure_burn_in(relaxing, Estimate(0.0, 0.0), hold=5)
    assert burn.start_z > 50 and 10 < burn.steps < 30  # 5 e^{-t/3} < 3 x 0.1/sqrt(40) from t ~ 14
    assert measure_burn_in(relaxing[:, 40:], Estimate(0.0, 0.0), hold=5).steps == 0


class NoDensity:
    def sample(self, n, rng):
        return np.zeros((n, 4, 4))


@pytest.mark.parametrize(
    "call, kind, name",
    [
        (lambda: warm_start_study(FREE, np.zeros((4, 5, 5)), 0.0, np.random.default_rng(0)), ShapeError, "fields.shape"),
        (lambda: warm_start_study(FREE, EXACT.sample(4, np.random.default_rng(0)), -1.0, np.random.default_rng(0)), ArgumentError, "generation_seconds"),
        (lambda: warm_start_study(FREE, EXACT.sample(4, np.random.default_rng(0)), 0.0, 0), DTypeError, "rng"),
        (lambda: warm_start_study(object(), np.zeros((4, 4, 4)), 0.0, np.random.default_rng(0)), DTypeError, "system"),
        (lambda: warm_start_study(FREE, EXACT.sample(4, np.random.default_rng(0)), 0.0, np.random.default_rng(0), production_trajectories=2), ArgumentError, "production_trajectories"),
        (lambda: warm_start_study(FREE, EXACT.sample(4, np.random.default_rng(0)), 0.0, np.random.default_rng(0), reference={"action": 8.0}), DTypeError, "reference"),
        (lambda: independence_mh_study(FREE, NoDensity(), np.random.default_rng(0)), DTypeError, "proposal"),
        (lambda: independence_mh_study(FREE, EXACT, np.random.default_rng(0), n_cycles=0), ArgumentError, "n_cycles"),
        (lambda: independence_mh_study(FREE, EXACT, np.random.default_rng(0), burn_in_trajectories=0), ArgumentError, "burn_in_trajectories"),
        (lambda: proposal_chain(FREE, EXACT, EXACT.sample(4, np.random.default_rng(0)), 5, np.random.default_rng(0), hmc=1), DTypeError, "hmc"),
        (lambda: FourierGaussian(np.arange(1.0, 17.0).reshape(4, 4), zero_mean=0.0, zero_std=1.0), ArgumentError, "power"),
        (lambda: FourierGaussian(EXACT.power, zero_mean=0.0, zero_std=0.0), ArgumentError, "zero_std"),
        (lambda: FourierGaussian.gaussian(-EXACT.power), ArgumentError, "power[0]"),
        (lambda: EXACT.log_density(np.zeros((2, 3, 3))), ShapeError, "fields.shape"),
        (lambda: EXACT.sample(0, np.random.default_rng(0)), ArgumentError, "n"),
        (lambda: fit_fourier_gaussian(np.zeros((1, 4, 4))), ShapeError, "fields"),
        (lambda: measure_burn_in(np.zeros((4, 6)), Estimate(0.0, 0.0), hold=7), ArgumentError, "hold"),
        (lambda: integrated_autocorrelation_time(np.ones(10)), ArgumentError, "series"),
    ],
)
def test_bad_arguments_name_the_argument(call, kind, name):
    with pytest.raises(kind, match=rf"^{re.escape(name)}="):
        call()
