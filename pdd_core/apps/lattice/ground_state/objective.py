"""The variational family of RDM 6.3 and the loss that trains it.

The family: Ψ^θ_t = √p^θ_t (RDM 6.10-6.12), where p^θ_t is carried from a fixed p_∞ at t = T down
to t = 0 by the probability-flow ODE of the Carosso scheme (RDM 6.14),
dφ/dt = Δφ - ½σ² s^θ_t(φ) =: b_θ(φ, t). We parameterise the velocity b_θ itself with the lattice
flow's network (:class:`~pdd_core.apps.lattice.flow.velocity.LatticeVelocity`: a Fourier-diagonal
linear part, which holds the Carosso drift and every Gaussian state exactly, plus a hollow
nonlinear part with an exact divergence); s^θ_t = (2/σ²)(Δφ - b_θ) is then the score of 6.14, the
same family written without the fixed drift. p_∞ is the Carosso limiting law N(0, β²/2κ_p),
κ_p = |p̂|² + M² (RDM 5.20), and T = 4/M², where the slowest mode has forgotten its start to e^{-8}.

The loss of one step: the energy 6.13 through its VMC gradient (:mod:`.energy`), or through the
stochastic-reconfiguration step (:mod:`.reconfiguration`, imaginary time; trained by plain
gradient descent, the default of ``pdd ground-state``), plus, with weight
``rg_weight``, RDM's RG term of the algorithm in 6.3 (sample t, push the state's samples through
the exact forward kernel 5.19, maximise log p^θ_t there), the same term as 5.22's
(:func:`~pdd_core.apps.lattice.flow.objectives.flow_matching_term`), which makes the intermediate
p^θ_t the RG flow of the learned ground state rather than any path to it.
"""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, FlowSettings
from pdd_core.apps.lattice.flow.objectives import flow_matching_term
from pdd_core.apps.lattice.ground_state.energy import Laplacian, default_laplacian, energy_gradient_surrogate, local_energy
from pdd_core.apps.lattice.ground_state.hamiltonian import LatticeHamiltonian
from pdd_core.apps.lattice.ground_state.reconfiguration import Reconfiguration
from pdd_core.apps.lattice.ground_state.reference import hartree_frequency
from pdd_core.errors import bad_argument
from schemes import Carosso


@attrs.frozen
class StateSettings:
    """The variational family: prior mass M, RK4 steps over the flow's log-time range, network size."""

    prior_mass: float = 1.0
    ode_steps: int = 16
    hidden: int = 8
    kernel: int = 3

    def __attrs_post_init__(self) -> None:
        mass = self.prior_mass
        if isinstance(mass, bool) or not isinstance(mass, (int, float)) or not (math.isfinite(mass) and mass > 0):
            raise bad_argument("prior_mass", mass, "the prior needs a mass M > 0 (its slowest rate is M²)", "pass prior_mass=1")
        for name, minimum, fix in (("ode_steps", 2, "ode_steps=16"), ("hidden", 1, "hidden=8"), ("kernel", 3, "an odd kernel, e.g. kernel=3")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise bad_argument(name, value, f"needs an integer >= {minimum}", f"pass {fix}")
        if self.kernel % 2 != 1:
            raise bad_argument("kernel", self.kernel, "the hollow convolution needs an odd size (its centre tap is masked)", "pass kernel=3 or 5")


def ground_state_flow(hamiltonian: LatticeHamiltonian, settings: StateSettings) -> ContinuousFlow:
    """The flow of the module docstring for ``hamiltonian``'s lattice, in float64, fields in units of the Hartree width 1/√(2ω)."""
    scheme = Carosso(alpha=1.0, beta=1.0, mass=settings.prior_mass)
    flow_settings = FlowSettings(t_max=4.0 / settings.prior_mass**2, steps=settings.ode_steps, hidden=settings.hidden, kernel=settings.kernel)
    return ContinuousFlow(hamiltonian.grid, scheme, flow_settings, field_scale=1.0 / math.sqrt(2 * hartree_frequency(hamiltonian))).double()


@attrs.frozen
class VariationalEnergy:
    """The loss of RDM 6.3's algorithm: energy 6.13 by its VMC gradient, plus ``rg_weight`` times the RG term (module docstring).

    With ``reconfiguration`` the energy's part of the gradient is the stochastic-reconfiguration step
    (train with ``FlowTraining(optimizer="sgd")``); the RG term, a loss rather than an
    imaginary-time step, is then refused.
    """

    rg_weight: float = 0.0
    laplacian: Laplacian | None = None  # None: exact up to EXACT_LAPLACIAN_SITES sites, else Hutchinson with one probe
    reconfiguration: Reconfiguration | None = None

    def __attrs_post_init__(self) -> None:
        if self.reconfiguration is not None and self.rg_weight:
            raise bad_argument("rg_weight", self.rg_weight, "RDM's RG term is a loss, not an imaginary-time step, so it does not combine with stochastic reconfiguration", "pass --optimizer adam with rg_weight, or drop rg_weight")

    @property
    def name(self) -> str:
        return "energy" if self.reconfiguration is None else "energy (stochastic reconfiguration)"

    def loss(self, flow: ContinuousFlow, hamiltonian: LatticeHamiltonian, data, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            recorded, _ = flow.sample(batch, generator)
        phi = recorded[0.0]
        laplacian = self.laplacian or default_laplacian(hamiltonian)
        local = local_energy(flow, hamiltonian, phi, laplacian=laplacian, generator=generator)
        metrics = {}
        if self.reconfiguration is None:
            loss = energy_gradient_surrogate(local)
        else:
            loss, metrics["sr_norm"] = self.reconfiguration.surrogate(flow, phi, local)
        if self.rg_weight:
            loss = loss + self.rg_weight * flow_matching_term(flow, phi, batch, generator)
        energy = float(local.values.mean())
        return loss, {"energy": energy, "energy_stderr": float(local.values.std()) / math.sqrt(batch), **metrics}


__all__ = ["StateSettings", "VariationalEnergy", "ground_state_flow"]
