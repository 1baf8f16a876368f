"""Whether the intermediate densities p^θ_t of a learned free ground state are its RG flow (RDM 6.3's RG term).

The energy 6.13 fixes only p^θ_0; any path from the prior down to it gives the same state. RDM's
algorithm adds an RG term (``rg_weight``) so that p^θ_t is the exact RG flow of the learned
ground state, p_t = K_t * p_0 with the Carosso kernel 5.19-5.20. For the free theory that flow is
known in closed form per orthonormal mode: the ground state's variance v_p = 1/(2ω_p) becomes

    v_p(t) = C̃_t(p)² v_p + Σ̃_t(p),

so the learned path is measured by the mean and largest |v^θ_p(t)/v_p(t) - 1| over the modes at
a few RG times (from samples: each mode's variance carries a relative error √(2/n) or √(1/n)).
"""

from __future__ import annotations

import torch

from pdd_core.apps.lattice.ground_state.hamiltonian import LatticeHamiltonian
from pdd_core.spectral import rfft

RG_TIMES = (0.05, 0.2, 0.5, 1.0, 2.0)  # within T = 4/M² of the default prior


def free_rg_path(recorded: dict[float, torch.Tensor], hamiltonian: LatticeHamiltonian, scheme) -> dict[str, list[float]]:
    """Deviation of the samples ``{t: [n, *shape]}`` from the exact Carosso flow ``scheme`` of the free ground state (module docstring)."""
    grid = hamiltonian.grid
    curvatures = torch.from_numpy(hamiltonian.mode_curvatures())[..., : hamiltonian.N // 2 + 1]  # the rfft half of the momenta
    ground = 0.5 / curvatures.sqrt()
    times, means, largest, counts = [], [], [], []
    for t, fields in sorted(recorded.items()):
        marginal = scheme.marginal(grid, torch.tensor([float(t)], dtype=torch.float64))
        exact = marginal.damping.reshape(grid.rfft_shape) ** 2 * ground + marginal.variance.reshape(grid.rfft_shape)
        learned = rfft(fields.to(torch.float64), hamiltonian.d).abs().square().mean(dim=0)
        deviation = (learned / exact - 1).abs()
        times.append(float(t))
        means.append(float(deviation.mean()))
        largest.append(float(deviation.max()))
        counts.append(len(fields))
    return {"t": times, "mean_abs_deviation": means, "max_abs_deviation": largest, "samples": counts}


__all__ = ["RG_TIMES", "free_rg_path"]
