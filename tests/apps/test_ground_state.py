"""Variational ground states by reverse exact RG (RDM Sec. 6.3): the energy 6.13 against closed forms and
exact diagonalisation, the variational principle, and ``pdd ground-state`` end to end."""

import json
import math

import numpy as np
import pytest
import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.lattice.flow.training import FlowTraining, train_flow
from pdd_core.apps.lattice.ground_state.energy import energy_gradient_surrogate, estimate_energy, fourier_probes, local_energy
from pdd_core.apps.lattice.ground_state.hamiltonian import LatticeHamiltonian, free_mode_test, two_point
from pdd_core.apps.lattice.ground_state.objective import StateSettings, VariationalEnergy, ground_state_flow
from pdd_core.apps.lattice.ground_state.reconfiguration import Reconfiguration
from pdd_core.apps.lattice.ground_state.reference import chain_energy, single_site_energy
from pdd_core.apps.lattice.ground_state.rg_path import free_rg_path
from pdd_core.spectral import irfft, rfft


class GaussianState:
    """A stand-in flow whose density is exactly p(φ) ∝ exp(-φᵀWφ) with W = K^{1/2} (the free ground state) or any W."""

    dtype = torch.float64

    def __init__(self, w: torch.Tensor):
        self.w = w

    def log_density(self, phi, t=0.0):
        flat = phi.reshape(phi.shape[0], -1)
        return -torch.einsum("bi,ij,bj->b", flat, self.w, flat)


def _free_matrix(hamiltonian: LatticeHamiltonian) -> torch.Tensor:
    """K with F = ½ φᵀKφ, by autograd on the potential (independent of the mode formula)."""
    zero = torch.zeros(hamiltonian.sites, dtype=torch.float64)
    return torch.autograd.functional.hessian(lambda x: hamiltonian.potential(x.reshape(1, *hamiltonian.shape))[0], zero)


def _sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.sqrt()) @ vectors.T


@pytest.mark.parametrize("hamiltonian", [LatticeHamiltonian(d=1, N=5, L=2.5, m2=0.7), LatticeHamiltonian(d=2, N=4, L=2.0, m2=1.3, gradient=0.6)])
def test_the_free_closed_forms_match_brute_force_and_the_local_energy_is_exact_with_zero_variance(hamiltonian):
    k = _free_matrix(hamiltonian)
    exact = hamiltonian.volume * 0.5 * float(torch.linalg.eigvalsh(k).sqrt().sum())
    assert hamiltonian.free_ground_energy() == pytest.approx(exact, rel=1e-12)
    covariance = 0.5 * torch.linalg.inv(_sqrtm(k))  # p₀ ∝ exp(-φᵀK^{1/2}φ)
    np.testing.assert_allclose(hamiltonian.free_two_point().ravel(), covariance[0].numpy(), rtol=1e-10, atol=1e-12)
    phi = torch.randn(64, *hamiltonian.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    values = local_energy(GaussianState(_sqrtm(k)), hamiltonian, phi).values
    torch.testing.assert_close(values, torch.full_like(values, exact), rtol=1e-10, atol=1e-10)  # E_L = E₀ at every φ
    # A wrong width gives a higher mean energy (the variational principle) and a spread.
    wider = local_energy(GaussianState(0.8 * _sqrtm(k)), hamiltonian, phi).values
    assert float(wider.std()) > 1e-3


def test_the_local_energy_of_a_trial_gaussian_has_the_analytic_mean_and_hutchinson_is_unbiased():
    """Two decoupled sites, p ∝ exp(-a φ²) per site: E = 2 [a/4 + m²/(4a) + 3λ/(4a²)]; Hutchinson's trace averages to the exact one."""
    hamiltonian = LatticeHamiltonian(d=1, N=2, L=2.0, m2=1.0, lam=0.3, gradient=0.0)
    a = 0.8
    state = GaussianState(a * torch.eye(2, dtype=torch.float64))
    phi = torch.randn(200_000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) / math.sqrt(2 * a)
    # ⟨x²⟩ = 1/(2a), ⟨x⁴⟩ = 3/(4a²); kinetic ⟨-½∂²⟩ = a/4 per site for ψ ∝ exp(-a x²/2).
    exact = 2 * (a / 4 + 0.5 * 1.0 / (2 * a) + 0.3 * 3 / (4 * a**2))
    values = local_energy(state, hamiltonian, phi).values
    assert float(values.mean()) == pytest.approx(exact, abs=4 * float(values.std()) / math.sqrt(len(values)))
    hutchinson = local_energy(state, hamiltonian, phi, laplacian="hutchinson", generator=torch.Generator().manual_seed(2)).values
    assert float(hutchinson.mean()) == pytest.approx(float(values.mean()), abs=4 * float((hutchinson - values).std()) / math.sqrt(len(values)) + 1e-12)


def test_fourier_probes_are_unbiased_and_exact_on_translation_invariant_gaussians():
    """E[vvᵀ] = 1 for the Fourier-basis probes (so Hutchinson stays unbiased for any Hessian); on the free ground state of an
    8 x 8 lattice (Hessian diagonal in the Fourier basis) one probe gives the exact Laplacian, site-basis Rademacher probes do not."""
    probes = fourier_probes(torch.Size([20_000, 4, 3]), torch.Generator().manual_seed(0), torch.float64).reshape(20_000, -1)
    second_moment = probes.T @ probes / len(probes)
    torch.testing.assert_close(second_moment, torch.eye(12, dtype=torch.float64), atol=0.05, rtol=0)
    hamiltonian = LatticeHamiltonian(d=2, N=8, L=8.0, m2=1.0)
    state = GaussianState(_sqrtm(_free_matrix(hamiltonian)))
    phi = torch.randn(16, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    hutchinson = local_energy(state, hamiltonian, phi, laplacian="hutchinson", generator=torch.Generator().manual_seed(2)).values
    torch.testing.assert_close(hutchinson, torch.full_like(hutchinson, hamiltonian.free_ground_energy()), rtol=1e-10, atol=1e-10)
    signs = torch.randint(0, 2, (16, 8, 8), generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2 - 1
    hessian = -2 * state.w
    site_basis = (signs.reshape(16, -1) @ hessian * signs.reshape(16, -1)).sum(dim=1)
    assert float((site_basis - torch.trace(hessian)).abs().max()) > 1.0  # what the Fourier basis removes


def test_the_mode_test_accepts_exact_samples_and_rejects_a_zero_mode_five_percent_too_wide():
    hamiltonian = LatticeHamiltonian(d=2, N=4, L=4.0, m2=1.0)
    covariance = 0.5 * torch.linalg.inv(_sqrtm(_free_matrix(hamiltonian)))
    root = torch.linalg.cholesky(covariance)
    p_values = []
    for seed in range(20):
        white = torch.randn(2048, hamiltonian.sites, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        p_values.append(free_mode_test((white @ root.T).reshape(-1, 4, 4), hamiltonian).p_value)
    assert 0.2 < np.mean(p_values) < 0.8 and min(p_values) > 1e-3, p_values  # uniform under the null
    exact = (torch.randn(20_000, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(99)) @ root.T).reshape(-1, 4, 4)
    wider = exact + (math.sqrt(1.05) - 1) * exact.mean(dim=(1, 2), keepdim=True)  # the zero mode 5 % wider in variance (z ≈ 5)
    assert free_mode_test(exact, hamiltonian).p_value > 1e-3
    test = free_mode_test(wider, hamiltonian)
    assert test.p_value < 1e-3 and test.dof == 16, test


def test_the_rg_path_measure_is_zero_on_the_exact_rg_flow_and_not_on_a_path_that_stands_still():
    """Samples of K_t * p₀ (the exact Carosso kernel applied to exact ground-state samples) sit on the RG flow within noise;
    the ground state itself at every t (what the energy alone allows) is 10-60 % off at t ~ 1/κ."""
    hamiltonian = LatticeHamiltonian(d=2, N=4, L=4.0, m2=1.0)
    flow = ground_state_flow(hamiltonian, StateSettings())
    grid, scheme = hamiltonian.grid, flow.scheme
    root = torch.linalg.cholesky(0.5 * torch.linalg.inv(_sqrtm(_free_matrix(hamiltonian))))
    ground = (torch.randn(20_000, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) @ root.T).reshape(-1, 4, 4)
    times = (0.05, 0.5, 2.0)
    flowed = {}
    for t in times:
        marginal = scheme.marginal(grid, torch.tensor([t], dtype=torch.float64))
        noise = rfft(torch.randn(ground.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), 2)
        flowed[t] = irfft(marginal.damping.reshape(grid.rfft_shape) * rfft(ground, 2) + marginal.variance.reshape(grid.rfft_shape).sqrt() * noise, grid.shape)
    on_flow = free_rg_path(flowed, hamiltonian, scheme)
    assert max(on_flow["max_abs_deviation"]) < 0.05, on_flow  # 20 000 samples: √(2/n) = 1 % per mode
    standing = free_rg_path({t: ground for t in times}, hamiltonian, scheme)
    assert standing["mean_abs_deviation"][1] > 0.1 and standing["mean_abs_deviation"][0] < standing["mean_abs_deviation"][1], standing


def test_single_site_reference_matches_published_eigenvalues_and_the_chain_reference_its_limits():
    # H = ½p² + ½x² + g x⁴: E₀(0.1) = 0.559146327, E₀(1) = 0.803770651 (e.g. Hioe & Montroll 1975, in this normalisation).
    assert single_site_energy(1.0, 0.1) == pytest.approx(0.559146327, abs=2e-9)
    assert single_site_energy(1.0, 1.0) == pytest.approx(0.803770651, abs=2e-9)
    free = LatticeHamiltonian(d=1, N=4, L=3.0, m2=0.8)
    assert chain_energy(free, 12).energy == pytest.approx(free.free_ground_energy(), rel=1e-9)
    decoupled = LatticeHamiltonian(d=1, N=2, L=2.0, m2=1.0, lam=1.0, gradient=0.0)
    assert chain_energy(decoupled, 24).energy == pytest.approx(2 * single_site_energy(1.0, 1.0), rel=1e-7)
    coupled = LatticeHamiltonian(d=1, N=3, L=3.0, m2=1.0, lam=0.5)
    energies = [chain_energy(coupled, basis).energy for basis in (4, 8, 12, 16)]
    assert all(a >= b - 1e-12 for a, b in zip(energies, energies[1:])) and energies[-2] - energies[-1] < 1e-4  # upper bounds, converging


def test_a_trained_state_is_within_a_percent_of_the_exact_energy_and_never_below_it(tmp_path):
    """The free chain of 3 sites: untrained and trained states both obey E >= E₀ within 3σ; 60 steps reach 1 %."""
    hamiltonian = LatticeHamiltonian(d=1, N=3, L=3.0, m2=1.0)
    exact = hamiltonian.free_ground_energy()
    torch.manual_seed(0)
    flow = ground_state_flow(hamiltonian, StateSettings(ode_steps=8))
    before, _ = estimate_energy(flow, hamiltonian, 256, torch.Generator().manual_seed(3))
    train_flow(flow, VariationalEnergy(), hamiltonian, None, FlowTraining(steps=60, batch_size=32), tmp_path / "run", progress=False)
    after, samples = estimate_energy(flow, hamiltonian, 512, torch.Generator().manual_seed(4))
    for estimate in (before, after):
        assert estimate.energy >= exact - 3 * estimate.stderr, (estimate, exact)
    assert abs(after.energy - exact) / exact < 0.01 < abs(before.energy - exact) / exact, (before, after, exact)
    assert after.local_std < 0.5 * before.local_std  # E_L flattens towards the eigenstate
    learned, error = two_point(samples)
    assert np.all(np.abs(learned - hamiltonian.free_two_point()) < 4 * error + 0.02 * learned.max())


def test_stochastic_reconfiguration_reaches_the_free_ground_state_of_a_square_lattice(tmp_path):
    """A learned model, 2 x 2 lattice: 25 SR steps bring E_L to a near-constant (an eigenstate), the energy within 5e-4 and the
    two-point function within Monte Carlo error; plain gradient steps of the same size (weights x = ε, no metric) do not."""
    hamiltonian = LatticeHamiltonian(d=2, N=2, L=2.0, m2=1.0)
    exact = hamiltonian.free_ground_energy()
    torch.manual_seed(0)
    flow = ground_state_flow(hamiltonian, StateSettings(ode_steps=8))
    before, _ = estimate_energy(flow, hamiltonian, 256, torch.Generator().manual_seed(3))
    objective = VariationalEnergy(reconfiguration=Reconfiguration(shift=1e-4))
    train_flow(flow, objective, hamiltonian, None, FlowTraining(steps=25, batch_size=32, lr=0.05, decay=1.0, optimizer="sgd"), tmp_path / "run", progress=False)
    after, samples = estimate_energy(flow, hamiltonian, 2048, torch.Generator().manual_seed(4))
    assert after.local_std < 0.1 * before.local_std, (before, after)
    assert after.energy >= exact - 3 * after.stderr and abs(after.energy - exact) / exact < 5e-4, (after, exact)
    learned, error = two_point(samples)
    assert np.all(np.abs(learned - hamiltonian.free_two_point()) < 3 * error), (learned, hamiltonian.free_two_point(), error)


def test_the_gradient_surrogate_is_the_covariance_of_local_energy_and_log_density():
    log_density = torch.tensor([0.1, -0.3, 0.7], requires_grad=True)

    class Local:
        values = torch.tensor([1.0, 2.0, 6.0])

    Local.log_density = log_density
    energy_gradient_surrogate(Local).backward()
    torch.testing.assert_close(log_density.grad, (Local.values - 3.0) / 3)


def test_the_reconfigured_step_is_the_shifted_natural_gradient_of_the_energy():
    """δ = (S + λ)⁻¹F with S = Cov[O, O], F = Cov[O, E_L], O = ∇_θ log Ψ = ½ ∇_θ log p, built densely in parameter space
    from per-sample gradients taken one by one (the implementation solves the B x B system of the batched gradients)."""
    hamiltonian = LatticeHamiltonian(d=1, N=3, L=3.0, m2=1.0, lam=0.2)
    torch.manual_seed(0)
    flow = ground_state_flow(hamiltonian, StateSettings(ode_steps=4, hidden=2))
    with torch.no_grad():
        phi = flow.sample(12, torch.Generator().manual_seed(5))[0][0.0]
    local = local_energy(flow, hamiltonian, phi)
    parameters = list(flow.parameters())
    reconfiguration = Reconfiguration(shift=0.01, max_norm=1e9)
    step = reconfiguration.direction(flow, phi, local)
    rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(0.5 * local.log_density[k], parameters, retain_graph=True)]) for k in range(len(phi))]
    o = torch.stack(rows)
    centred = o - o.mean(dim=0)
    metric = centred.T @ centred / len(phi)
    force = centred.T @ (local.values - local.values.mean()) / len(phi)
    shift = 0.01 * float(torch.diagonal(metric).sum()) / len(phi)  # λ relative to the mean diagonal of ŌŌᵀ (= tr S / B)
    expected = torch.linalg.solve(metric + shift * torch.eye(len(metric), dtype=metric.dtype), force)
    torch.testing.assert_close(step, expected, rtol=1e-6, atol=1e-9 * float(expected.abs().max()))
    assert float(step @ force) > 0  # a descent direction of the energy (F = ½ ∇_θ E)
    length = float(torch.sqrt(expected @ metric @ expected))
    capped = Reconfiguration(shift=0.01, max_norm=0.5 * length).direction(flow, phi, local)
    torch.testing.assert_close(capped, 0.5 * expected, rtol=1e-6, atol=1e-9 * float(expected.abs().max()))  # the trust region halves it


def test_pdd_ground_state_writes_its_record_resumes_and_rejects_bad_settings(tmp_path, capsys):
    out = tmp_path / "gs"
    arguments = ["ground-state", "anharmonic", "--set", "lam=0.1", "ode_steps=4", "--steps", "3", "--eval-samples", "8", "--no-progress", "--out", str(out)]
    assert main(arguments) == 0
    record = json.loads((out / "ground_state.json").read_text())
    assert record["reference"]["per_site"] == pytest.approx(0.559146327, abs=1e-8)
    assert record["energy"] >= record["reference"]["energy"] - 4 * record["energy_stderr"]
    assert record["relative_error"] == pytest.approx((record["energy"] - record["reference"]["energy"]) / record["reference"]["energy"])
    assert (out / "convergence.png").stat().st_size > 0 and len((out / "run" / "log.jsonl").read_text().splitlines()) == 3
    assert main([*arguments[:5], "--steps", "4", *arguments[7:]]) == 0  # resumes: one more step
    assert len((out / "run" / "log.jsonl").read_text().splitlines()) == 4
    capsys.readouterr()
    for bad, flag in (
        (["chain", "--set", "kernel=4"], "kernel"), (["free", "--set", "lam=1"], "lam"), (["chain", "--set", "N=30", "--reference-basis", "3"], "reference-basis"), (["free", "--set", "m2=-1"], "m2"),
        (["free", "--set", "sr_shift=nan"], "sr_shift"), (["free", "--set", "sr_max_norm=0"], "sr_max_norm"),
        (["free", "--set", "sr_shift=1e-4", "--optimizer", "adam"], "sr_shift"), (["free", "--set", "rg_weight=1"], "rg_weight"),
    ):
        assert main(["ground-state", *bad, "--out", str(tmp_path / "bad")]) == 2
        error = capsys.readouterr().err
        assert flag in error and "Traceback" not in error and len(error.strip().splitlines()) == 1
    assert main(["ground-state", "chain", "--set", "N=3", "ode_steps=4", "--reference-basis", "6", "--steps", "2", "--eval-samples", "8", "--no-progress", "--out", str(out)]) == 2
    assert "other settings" in capsys.readouterr().err
