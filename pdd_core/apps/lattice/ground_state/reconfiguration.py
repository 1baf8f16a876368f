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

A trust region keeps one noisy batch from throwing the state away: the step's length in the
metric, ‖δ‖_S = √(δᵀSδ) = |ŌŌᵀx| (the spread of the change of log Ψ over the samples, per unit
τ), is capped at ``max_norm`` by scaling x down. Smaller shifts converge faster (measured in
docs/rg_flows.md) and need the cap more, since (S + λ)⁻¹ amplifies the noise of F by up to 1/λ.
"""

from __future__ import annotations

import math

import attrs
import torch

from pdd_core.apps.lattice.flow.cnf import ContinuousFlow
from pdd_core.apps.lattice.ground_state.energy import LocalEnergy
from pdd_core.errors import bad_argument

PER_SAMPLE_CHUNK = 8  # samples per batched backward pass of the per-sample gradients


@attrs.frozen
class Reconfiguration:
    """Stochastic reconfiguration: diagonal shift λ = ``shift`` · mean diag(ŌŌᵀ), step length ‖δ‖_S at most ``max_norm`` (module docstring)."""

    shift: float = 1e-5
    max_norm: float = 2.0

    def __attrs_post_init__(self) -> None:
        for name, key, fix in (("shift", "sr_shift", "sr_shift=0.00001"), ("max_norm", "sr_max_norm", "sr_max_norm=2")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                raise bad_argument(key, value, "must be a finite number > 0", f"pass e.g. {fix}")

    def surrogate(self, flow: ContinuousFlow, phi: torch.Tensor, local: LocalEnergy) -> tuple[torch.Tensor, float]:
        """The scalar whose θ-gradient is the SR direction δ at samples ``phi`` (module docstring), and ‖δ‖_S before the cap.

        ``local`` holds the samples' E_L and log p^θ_0 with its graph.
        """
        weights, norm = self.weights(flow, phi, local.values)
        return 0.5 * (weights * local.log_density).sum() / math.sqrt(len(weights)), norm

    def weights(self, flow: ContinuousFlow, phi: torch.Tensor, energies: torch.Tensor) -> tuple[torch.Tensor, float]:
        """x = (ŌŌᵀ + λ)⁻¹ε ``[B]`` (scaled to the trust region) from the per-sample gradients O_k of ``phi`` and their local energies, and ‖δ‖_S."""
        batch = phi.shape[0]
        if batch < 2:
            raise bad_argument("batch", batch, "stochastic reconfiguration estimates covariances over the batch", "use a batch of at least 2 samples")
        o = 0.5 * per_sample_gradients(flow, phi)  # O_k = ½ ∇_θ log p^θ_0(φ_k)
        centred = (o - o.mean(dim=0)) / math.sqrt(batch)
        residual = ((energies - energies.mean()) / math.sqrt(batch)).to(o.dtype)
        gram = centred @ centred.T
        shift = self.shift * torch.diagonal(gram).mean()
        weights = torch.linalg.solve(gram + shift * torch.eye(batch, dtype=gram.dtype), residual)
        norm = float(torch.linalg.vector_norm(gram @ weights))
        return weights * min(1.0, self.max_norm / norm) if norm > 0 else weights, norm

    def direction(self, flow: ContinuousFlow, phi: torch.Tensor, local: LocalEnergy) -> torch.Tensor:
        """δ = (S + λ)⁻¹F as one flat vector over the flow's parameters (for tests and diagnostics; training uses :meth:`surrogate`)."""
        parameters = list(flow.parameters())
        gradients = torch.autograd.grad(self.surrogate(flow, phi, local)[0], parameters, retain_graph=True, allow_unused=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gradients, parameters)])


def per_sample_gradients(flow: ContinuousFlow, phi: torch.Tensor, chunk: int = PER_SAMPLE_CHUNK) -> torch.Tensor:
    """∇_θ log p^θ_0(φ_k) for every sample, ``[B, P]`` over ``flow.parameters()`` (zeros where a parameter is unused).

    The log density is recomputed in chunks of ``chunk`` samples with one batched backward pass per
    chunk: a one-hot backward through the whole batch's graph would cost B full backward passes,
    chunks cost B/chunk, each on ``chunk`` samples (5x faster on 8 x 8 at B = 64).
    """
    parameters = list(flow.parameters())
    rows = []
    for part in phi.detach().split(chunk):
        log_density = flow.log_density(part, 0.0)
        identity = torch.eye(len(part), dtype=log_density.dtype)
        gradients = torch.autograd.grad(log_density, parameters, grad_outputs=identity, is_grads_batched=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros(len(part), *p.shape, dtype=log_density.dtype)).reshape(len(part), -1) for g, p in zip(gradients, parameters)], dim=1))
    return torch.cat(rows).detach()


__all__ = ["PER_SAMPLE_CHUNK", "Reconfiguration", "per_sample_gradients"]
