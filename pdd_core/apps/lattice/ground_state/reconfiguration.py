"""Stochastic reconfiguration: the natural-gradient (imaginary-time) step of variational Monte Carlo.

Plain gradient descent on the energy 6.13 (:mod:`.energy`) stalls on lattices in d = 2: the
energy's curvature differs from mode to mode and the batch noise sets a floor under which Adam
does not go, so every mode's width ends a few per cent off in the same direction and the
two-point function misses by several standard errors (docs/rg_flows.md). Stochastic
reconfiguration (Sorella 1998; Becca & Sorella 2017, ch. 6) follows imaginary time instead:
the step δ makes Ψ^θ - τ ∂_θΨ^θ·δ the best approximation in the family to (1 - τ(H - E))Ψ^θ
(McLachlan's principle), which is

    S δ = F,   S = Cov[O, O],   F = Cov[O, E_L] = ½ ∇_θ E,   O = ∇_θ log Ψ^θ = ½ ∇_θ log p^θ_0,

estimated on the batch's samples, and θ ← θ - τ δ. Every mode of a Gaussian state then relaxes
at its own gap, whatever the network's parameterisation.

With a batch B smaller than the parameter count P, S has rank < B. Writing Ō_k = (O_k - Ō)/√B
and ε_k = (E_L(φ_k) - Ē)/√B, the shifted solution (S + λ)⁻¹F = Ōᵀ(ŌŌᵀ + λ)⁻¹ε (the push-through
identity; the B x B form is "minSR", Chen & Heyl 2024), so δ = Σ_k x_k Ō_k with x = (ŌŌᵀ + λ)⁻¹ε.
The x_k sum to zero (ε does, and the ones vector is a null vector of ŌŌᵀ since the Ō_k sum to
zero), so δ = Σ_k x_k O_k/√B is the θ-gradient of the surrogate ½/√B Σ_k x_k log p^θ_0(φ_k) with x held fixed:
the VMC surrogate of :func:`.energy.energy_gradient_surrogate` with the local energies replaced
by the reconfigured weights x. Plain gradient descent on that surrogate at learning rate τ is the
SR step. λ is ``shift`` times the mean diagonal of ŌŌᵀ (Tikhonov regularisation of the noisy S).
"""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.apps.lattice.ground_state.energy import LocalEnergy
from pdd_core.errors import bad_argument


@attrs.frozen
class Reconfiguration:
    """Stochastic reconfiguration with diagonal shift λ = ``shift`` · mean diag(ŌŌᵀ) (module docstring)."""

    shift: float = 1e-3

    def __attrs_post_init__(self) -> None:
        shift = self.shift
        if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not (math.isfinite(shift) and shift > 0):
            raise bad_argument("sr_shift", shift, "the diagonal shift must be a finite number > 0 (it regularises the noisy metric S)", "pass e.g. sr_shift=0.001")

    def surrogate(self, local: LocalEnergy, parameters: list[torch.Tensor]) -> torch.Tensor:
        """The scalar whose θ-gradient is the SR direction δ (module docstring); ``local.log_density`` must carry the graph."""
        weights = self.weights(local, parameters)
        return 0.5 * (weights * local.log_density).sum() / math.sqrt(len(weights))

    def weights(self, local: LocalEnergy, parameters: list[torch.Tensor]) -> torch.Tensor:
        """x = (ŌŌᵀ + λ)⁻¹ε ``[B]`` from the per-sample gradients O_k (one batched backward pass)."""
        log_density = local.log_density
        batch = log_density.shape[0]
        if batch < 2:
            raise bad_argument("batch", batch, "stochastic reconfiguration estimates covariances over the batch", "use a batch of at least 2 samples")
        identity = torch.eye(batch, dtype=log_density.dtype)
        per_sample = torch.autograd.grad(log_density, parameters, grad_outputs=identity, is_grads_batched=True, retain_graph=True, allow_unused=True)
        o = 0.5 * torch.cat([g.reshape(batch, -1) for g in per_sample if g is not None], dim=1)  # O_k = ½ ∇_θ log p
        centred = (o - o.mean(dim=0)) / math.sqrt(batch)
        residual = ((local.values - local.values.mean()) / math.sqrt(batch)).to(o.dtype)
        gram = centred @ centred.T
        shift = self.shift * torch.diagonal(gram).mean()
        return torch.linalg.solve(gram + shift * identity, residual).detach()

    def direction(self, local: LocalEnergy, parameters: list[torch.Tensor]) -> torch.Tensor:
        """δ = (S + λ)⁻¹F as one flat vector over ``parameters`` (for tests and diagnostics; training uses :meth:`surrogate`)."""
        gradients = torch.autograd.grad(self.surrogate(local, parameters), parameters, retain_graph=True, allow_unused=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gradients, parameters)])


__all__ = ["Reconfiguration"]
