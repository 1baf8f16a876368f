"""Training the linear drift on exact Gaussian paths converges to the exact optimal drift.

For Gaussian data the PDD objective (Eq. 9) at a fixed λ is a least-squares problem whose
minimiser is the Gaussian regression of the increment on the (zero-padded) window, per Fourier
mode (PDD Eqs. 44-47, 52-54): a = (Σ_n E[Δ_n w_nᵀ]/Δt) (Σ_n E[w_n w_nᵀ])⁻¹, with all moments
taken from K_λ = C̃_λ² K_0 + Σ̃_λ I, including the denoising correction of A.6-A.7.
"""

import torch

from pdd_core import LinearDrift
from pdd_core.training import PDDObjective
from tests.gaussian_field import DT, FRAMES, GRID, gaussian_score

WINDOW = 2
LAM = 0.3


def exact_optimal_coefficients(covariance: torch.Tensor) -> torch.Tensor:
    """Least-squares optimum per mode over the windows ending at t_0..t_{T-2}: ``[modes, W]``."""
    frames = covariance.shape[-1]
    gram = torch.zeros(covariance.shape[0], WINDOW, WINDOW, dtype=torch.float64)
    cross = torch.zeros(covariance.shape[0], WINDOW, dtype=torch.float64)
    for n in range(frames - 1):
        index = [n - WINDOW + 1 + w for w in range(WINDOW)]
        for i, a in enumerate(index):
            if a < 0:
                continue  # zero padding before t0 (PDD B.2)
            cross[:, i] += (covariance[:, n + 1, a] - covariance[:, n, a]) / DT
            for j, b in enumerate(index):
                if b >= 0:
                    gram[:, i, j] += covariance[:, a, b]
    return torch.linalg.solve(gram, cross.unsqueeze(-1)).squeeze(-1)


def test_trained_linear_drift_reaches_the_gaussian_optimum():
    score = gaussian_score()
    scheme = score.scheme
    exact = exact_optimal_coefficients(score.covariance_at(torch.tensor([LAM]))[0, 0])
    drift = LinearDrift(GRID, WINDOW)
    objective = PDDObjective(scheme, GRID, DT)
    optimizer = torch.optim.Adam(drift.parameters(), lr=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 400)
    generator = torch.Generator().manual_seed(0)
    lam = torch.full((2048,), LAM, dtype=torch.float64)
    for _ in range(400):
        u0 = score.exact_sample(0.0, 2048, generator)
        loss = objective.loss(drift, objective.corrupt(u0, lam, generator), lam)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    learned = drift.coefficients.detach()[0, 0].T  # [modes, W]
    # Stated tolerance: 3% of the largest coefficient per mode (SGD noise of 2048-path batches).
    scale = exact.abs().amax(dim=1, keepdim=True)
    assert ((learned - exact).abs() / scale).max() < 0.03, (learned, exact)
    assert FRAMES >= WINDOW + 1
