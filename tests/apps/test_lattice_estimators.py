"""Estimators of RDM 7.3-7.11 and their resampling errors, against closed forms.

Free fields are drawn exactly in Fourier space (no Markov chain): with the orthonormal DFT
the lattice free field of RDM 7.2 has independent modes of variance 1/(ε^d(|p̂|² + m²)),
i.e. ⟨|φ̃(p)|²⟩ = 1/(L^d(|p̂|² + m²)) in RDM's normalisation (5.11).

Expected values "from the definition" of RDM 7.8-7.10 follow by inserting the exact
G̃2 into the estimator formulas. For the free field G̃2(0)/G̃2(p) - 1 = |p̂|²/m² exactly,
and 7.8 divides by the same lattice |p̂|² = (4N²/L²) sin²(π/N), so ξ² = 1/m² with no lattice
artefact: m_R = m at t = 0 (r_t = 1), Z = L^d m² G̃2(0) = 1, and G̃4c = λ_R = g_R = 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pdd_core.apps.lattice import (
    Bootstrap,
    Jackknife,
    connected_four_point,
    effective_cutoff,
    flow_estimators,
    max_abs_field,
    mean_estimate,
    rdm_fourier,
    renormalised_quantities,
    two_point,
)
from pdd_core.errors import ArgumentError, DTypeError, ShapeError
from pdd_core.grid import Grid

N, LENGTH, M2 = 8, 2.0, 3.0


def lattice_p_hat_squared(n: int, length: float) -> np.ndarray:
    """|p̂|² of RDM 5.13 on the fftn layout [n, n]."""
    index = np.fft.fftfreq(n, d=1.0 / n)
    axis = (2.0 * n / length * np.sin(np.pi * index / n)) ** 2
    return axis[:, None] + axis[None, :]


def free_field(n_samples: int, m2: float, rng: np.random.Generator, n: int = N, length: float = LENGTH) -> np.ndarray:
    """Exact draws of the free lattice field [n_samples, n, n] (orthonormal modes, variance 1/(ε²(|p̂|²+m²)))."""
    spacing = length / n
    variance = 1.0 / (spacing**2 * (lattice_p_hat_squared(n, length) + m2))
    white = rng.standard_normal((n_samples, n, n))
    return np.fft.ifftn(np.fft.fftn(white, axes=(1, 2), norm="ortho") * np.sqrt(variance), axes=(1, 2), norm="ortho").real


def exact_two_point(m2: float, n: int = N, length: float = LENGTH) -> np.ndarray:
    return 1.0 / (length**2 * (lattice_p_hat_squared(n, length) + m2))


GRID = Grid((N, N), length=LENGTH, symbol="lattice")


# -- resampling ---------------------------------------------------------------------------


def test_delete_one_jackknife_error_of_the_mean_is_the_standard_error():
    values = np.random.default_rng(0).normal(3.0, 2.0, size=500)
    estimate = mean_estimate(values, Jackknife(n_blocks=values.size))
    assert estimate.value == pytest.approx(values.mean(), rel=1e-14)
    assert estimate.error == pytest.approx(values.std(ddof=1) / math.sqrt(values.size), rel=1e-10)


def test_blocked_jackknife_of_the_mean_is_the_standard_error_of_block_means():
    values = np.random.default_rng(1).normal(size=600)
    block_means = values.reshape(20, 30).mean(axis=1)
    estimate = mean_estimate(values, Jackknife(n_blocks=20))
    assert estimate.error == pytest.approx(block_means.std(ddof=1) / math.sqrt(20), rel=1e-10)


def test_blocked_jackknife_accounts_for_autocorrelation():
    rng = np.random.default_rng(2)
    rho, n = 0.8, 40000
    innovations = rng.standard_normal(n)
    series = np.empty(n)
    series[0] = innovations[0] / math.sqrt(1 - rho**2)
    for i in range(1, n):
        series[i] = rho * series[i - 1] + innovations[i]
    # AR(1): Var(mean) = σ² (1 + ρ)/(1 - ρ) / n with σ² = 1/(1 - ρ²).
    exact = math.sqrt((1 + rho) / (1 - rho) / (1 - rho**2) / n)
    blocked = mean_estimate(series, Jackknife(n_blocks=100)).error
    naive = mean_estimate(series, Jackknife(n_blocks=n)).error
    assert blocked == pytest.approx(exact, rel=0.25)
    assert naive < 0.5 * exact


def test_bootstrap_error_of_the_mean_is_the_standard_error_and_reproducible():
    values = np.random.default_rng(3).exponential(size=2000)
    standard = values.std(ddof=1) / math.sqrt(values.size)
    first = mean_estimate(values, Bootstrap(np.random.default_rng(7), n_resamples=800, n_blocks=2000))
    again = mean_estimate(values, Bootstrap(np.random.default_rng(7), n_resamples=800, n_blocks=2000))
    assert first == again
    assert first.value == pytest.approx(values.mean(), rel=1e-14)
    assert first.error == pytest.approx(standard, rel=0.12)


def test_resamplers_reject_bad_settings():
    with pytest.raises(ArgumentError, match="n_blocks"):
        Jackknife(n_blocks=1)
    with pytest.raises(DTypeError, match="rng"):
        Bootstrap(rng=0)
    with pytest.raises(ShapeError, match="primaries"):
        mean_estimate(np.ones(1), Jackknife())


# -- free-field estimators -----------------------------------------------------------------


@pytest.fixture(scope="module")
def free_samples() -> np.ndarray:
    return free_field(6000, M2, np.random.default_rng(11))


@pytest.mark.parametrize("momentum", [(0, 0), (1, 0), (0, -1), (3, 2), (4, 4)])
def test_free_two_point_is_the_lattice_propagator_in_rdm_normalisation(free_samples, momentum):
    exact = exact_two_point(M2)[momentum[0] % N, momentum[1] % N]
    estimate = two_point(free_samples, GRID, momentum, Jackknife(n_blocks=60))
    # |φ̃(p)|² is exponential (complex mode) or χ²_1 (self-conjugate p = -p mod N) times G̃2.
    self_conjugate = all((2 * p) % N == 0 for p in momentum)
    standard_error = exact * math.sqrt((2.0 if self_conjugate else 1.0) / free_samples.shape[0])
    assert abs(estimate.value - exact) < 4 * estimate.error
    assert estimate.error == pytest.approx(standard_error, rel=0.25)


def test_free_field_renormalised_quantities_match_the_definition(free_samples):
    estimates = renormalised_quantities(free_samples, GRID, 0.0, 1.0, Jackknife(n_blocks=60))
    mass = math.sqrt(M2)
    exact = {"G2_0": 1.0 / (LENGTH**2 * M2), "m_phys": mass, "m_R": mass, "xi": 1 / mass, "Z": 1.0}
    exact.update({"G4c_0": 0.0, "lambda_R": 0.0, "r2_lambda_R": 0.0, "g_R": 0.0})
    for name, value in exact.items():
        estimate = estimates[name]
        assert 0 < estimate.error < 0.3 * max(abs(value), 1e-3) or value == 0.0, name
        assert abs(estimate.value - value) < 4 * estimate.error, (name, estimate, value)


def test_connected_four_point_vanishes_for_gaussian_fields_at_paired_momenta(free_samples):
    for momenta in [((1, 0), (-1, 0), (0, 1), (0, -1)), ((1, 0), (-1, 0), (1, 0), (-1, 0)), ((0, 0),) * 4]:
        estimate = connected_four_point(free_samples, GRID, momenta, Jackknife(n_blocks=60))
        assert estimate.error > 0
        assert abs(estimate.value) < 4 * estimate.error, momenta


def test_non_gaussian_zero_mode_gives_the_closed_form_couplings(free_samples):
    """φ = free field + s with a random constant s = ±a: cumulants add, so G̃4c(0) = -2a⁴ and
    G̃2(0) = G0 + a², G̃2(p) = Gp; λ_R (7.10) and g_R then follow in closed form."""
    rng = np.random.default_rng(5)
    a = 0.3
    shifted = free_samples + a * rng.choice([-1.0, 1.0], size=free_samples.shape[0])[:, None, None]
    g = exact_two_point(M2)
    g0, gp = g[0, 0] + a**2, g[1, 0]
    p_hat_squared = lattice_p_hat_squared(N, LENGTH)[1, 0]
    xi_squared = (g0 / gp - 1.0) / p_hat_squared
    connected = -2.0 * a**4
    expected = {"G4c_0": connected, "lambda_R": -(LENGTH**2) * connected / (g0 * xi_squared), "g_R": -(LENGTH**2) * connected / (g0**2 * xi_squared),
                "Z": LENGTH**2 * g0 / xi_squared, "m_phys": 1 / math.sqrt(xi_squared)}  # fmt: skip
    estimates = renormalised_quantities(shifted, GRID, 0.0, 1.0, Jackknife(n_blocks=60))
    for name, value in expected.items():
        assert abs(estimates[name].value - value) < 4 * estimates[name].error, (name, estimates[name], value)
        assert estimates[name].error < 0.2 * abs(value), name


def test_constant_fields_give_exact_four_point_and_max_with_zero_error():
    signs = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    fields = 2.0 * signs[:, None, None] * np.ones((6, N, N))
    four = connected_four_point(fields, GRID, ((0, 0),) * 4, Jackknife(n_blocks=6))
    assert four.value == pytest.approx(-2 * 2.0**4) and four.error == pytest.approx(0.0, abs=1e-12)
    excursion = max_abs_field(fields, GRID, Jackknife(n_blocks=6))
    assert excursion.value == pytest.approx(2.0) and excursion.error == pytest.approx(0.0, abs=1e-12)


def test_rdm_fourier_normalisation_is_one_over_n_to_the_d():
    fields = np.random.default_rng(4).normal(size=(3, N, N))
    fourier = rdm_fourier(fields)
    assert np.allclose(fourier[:, 0, 0], fields.mean(axis=(1, 2)))
    assert np.allclose((np.abs(fourier) ** 2).sum(axis=(1, 2)), (fields**2).mean(axis=(1, 2)))


# -- effective cutoff (RDM 7.3-7.4) ---------------------------------------------------------


def test_effective_cutoff_follows_rdm_7_3_and_7_4():
    cutoff0 = 2 * math.sqrt(2) * N / LENGTH
    assert effective_cutoff(0.0, 1.0, GRID).ratio == 1.0
    assert effective_cutoff(0.0, 1.0, GRID).cutoff0 == pytest.approx(cutoff0)
    assert effective_cutoff(1e-4, 1.0, GRID).ratio == 1.0  # sqrt(1/t - M²) > Λ0: clipped
    t = 0.25
    point = effective_cutoff(t, 1.0, GRID)
    assert point.cutoff == pytest.approx(math.sqrt(1 / t - 1.0)) and point.ratio == pytest.approx(math.sqrt(3.0) / cutoff0)
    assert effective_cutoff(1.0, 1.0, GRID).ratio == 0.0 and effective_cutoff(3.0, 1.0, GRID).cutoff == 0.0
    with pytest.raises(ArgumentError, match="t="):
        effective_cutoff(-1.0, 1.0, GRID)


def test_flow_estimators_are_sorted_and_report_undefined_masses_as_none(free_samples):
    subset = free_samples[:200]
    points = flow_estimators({1.5: subset, 0.0: subset, 0.25: subset}, GRID, 1.0, Jackknife(n_blocks=20))
    assert [point.t for point in points] == [0.0, 0.25, 1.5]
    # Same samples at every t: m_phys is t-independent, m_R = m_phys / r_t.
    assert points[1].estimates["m_R"].value == pytest.approx(points[0].estimates["m_phys"].value / points[1].cutoff.ratio)
    record = points[2].to_json()
    assert record["r_t"] == 0.0 and record["estimates"]["m_R"] == {"value": None, "error": None}
    assert record["estimates"]["r2_lambda_R"]["value"] == 0.0
    assert record["estimates"]["Z"]["value"] == pytest.approx(points[0].estimates["Z"].value)


# -- input handling -------------------------------------------------------------------------


def test_layouts_and_torch_tensors_give_identical_estimates(free_samples):
    subset = free_samples[:100]
    jackknife = Jackknife(n_blocks=10)
    reference = renormalised_quantities(subset, GRID, 0.1, 1.0, jackknife)
    for layout in (subset[:, None, None], torch.from_numpy(subset)[:, None, None], subset[:, None]):
        assert renormalised_quantities(layout, GRID, 0.1, 1.0, jackknife) == reference
    single = renormalised_quantities(subset.astype(np.float32), GRID, 0.1, 1.0, jackknife)
    assert all(single[name].value == pytest.approx(reference[name].value, rel=1e-5) for name in reference)


def test_bad_inputs_are_rejected_naming_the_argument(free_samples):
    jackknife = Jackknife()
    with pytest.raises(ShapeError, match="samples.shape"):
        two_point(free_samples[:, :4], GRID, (0, 0), jackknife)
    with pytest.raises(ShapeError, match="samples.shape"):
        two_point(free_samples[:1], GRID, (0, 0), jackknife)
    with pytest.raises(DTypeError, match="samples"):
        two_point(free_samples.astype(np.int64), GRID, (0, 0), jackknife)
    with pytest.raises(ArgumentError, match="samples"):
        two_point(np.full((4, N, N), np.nan), GRID, (0, 0), jackknife)
    with pytest.raises(ArgumentError, match="momenta"):
        connected_four_point(free_samples, GRID, ((0, 0),) * 3, jackknife)
    with pytest.raises(ArgumentError, match="momentum"):
        two_point(free_samples, GRID, (0.5, 0), jackknife)
    with pytest.raises(ShapeError, match="grid"):
        two_point(free_samples, Grid((N,), length=LENGTH), (0, 0), jackknife)
    with pytest.raises(DTypeError, match="resampler"):
        renormalised_quantities(free_samples, GRID, 0.0, 1.0, "jackknife")
