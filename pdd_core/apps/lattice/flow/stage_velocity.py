"""The flow's velocity and its exact divergence at one flow time, with its layers fused, for sampling.

:class:`~pdd_core.apps.lattice.flow.velocity.LatticeVelocity` evaluates (b_θ, div b_θ) of
RDM 5.8 for training: any s per sample, differentiable in θ. A sample map evaluates it for a whole
batch at the few flow times of its RK4 stages, with frozen weights, so everything that depends on
s alone is computed once per stage (:meth:`StageVelocity.of`), and the per-site network is
rewritten as the same function with fewer and cheaper operations:

* **One convolution for two layers.** The hollow convolution h = W_h ⋆ φ and the first per-site
  layer W_0 [φ_n; h_n] are linear and bias-free, and the layer's time gain (1 + γ_1(s)) is fixed
  at a stage, so the pre-activation is one circular convolution with the kernel

      K_s = diag(1 + γ_1(s)) (W_0[:, 1:] W_h + W_0[:, 0] δ_centre),

  whose centre tap K_s[:, centre] is ∂pre_n/∂φ_n (the hollow taps never reach φ_n). The second
  layer's gain (1 + γ_2(s)) is folded into W_2 the same way.
* **Channels first, sites last.** Hidden activations are ``[H, B·sites]``, so a per-site layer is
  one ``[H, H] @ [H, B·sites]`` product (4x faster on the CPU measured than the same product with
  the sites first, or than a 1x1 convolution; docs/rg_flows.md).
* **The data base in the same FFTs.** At a fixed t the data base's velocity (flow/base.py) is
  linear on every non-zero mode, b̂(p) = (−κ_p + β²/2K_t) φ̂(p), so that gain (times dt/ds) joins
  c_θ in the linear part's one FFT pair, and only its zero mode's pair law is evaluated per call
  (with it, a proposal cost 1.3-2.4x one without; now about the same, docs/rg_flows.md).
* **tanh through the sigmoid.** tanh x = 2σ(2x) − 1 and 1 − tanh² x = 4σ(2x)(1 − σ(2x)); torch's
  CPU sigmoid is 4x faster than its tanh, and the factors 2 and the −1 go into the weights and
  biases of the next product.

With z_1 = tanh(K_s ⋆ φ), z_2 = tanh(W_2 z_1), g = w_4 · z_2 per site, the divergence is
div b = Σ_p c_θ(|p̂|², s) + Σ_n ∂g_n/∂φ_n (plus the base law's, with a data base), the diagonal
of the Jacobian by the forward-mode chain

    ∂g_n/∂φ_n = w_4 · [(1 − z_2²) ⊙ W_2 ((1 − z_1²) ⊙ K_s[:, centre])],

as in LatticeVelocity. The function is the same as LatticeVelocity's at that s (equal to rounding,
tests/apps/test_flow_proposal.py), so the RK4 map and its density are those of the trained flow.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pdd_core.apps.lattice.flow.velocity import LatticeVelocity
from pdd_core.spectral import irfft, rfft


class StageVelocity:
    """(b_θ(φ, s), div b_θ(φ, s)) at one flow time ``s`` for fields ``[B, *grid.shape]`` (module docstring); build with :meth:`of`."""

    def __init__(self, velocity: LatticeVelocity, constants: dict[str, torch.Tensor | float], zero_law: tuple | None):
        self.velocity, self.constants, self.zero_law = velocity, constants, zero_law

    @classmethod
    def of(cls, velocity: LatticeVelocity, s: float, dtype: torch.dtype) -> StageVelocity:
        """Everything of ``velocity`` that depends on s alone, at ``s``, computed in float64 and kept in ``dtype``."""
        with torch.no_grad():
            at = torch.tensor([s], dtype=velocity.site[0].weight.dtype)
            c = velocity.coefficients(at)[0].to(torch.float64)
            zero_law = None
            if velocity.base is not None:
                gain, zero_law = _base_at(velocity, s)
                c = c + gain
            first, second = velocity.site_time(velocity.time(at))[0].to(torch.float64).chunk(2)
            w0, w2, w4 = (velocity.site[index].weight.to(torch.float64).flatten(1) for index in (0, 2, 4))
            hollow = (velocity.neighbours.weight * velocity.hollow).to(torch.float64).flatten(1)  # [H, taps]
            centre = hollow.shape[1] // 2
            kernel = w0[:, 1:] @ hollow
            kernel[:, centre] += w0[:, 0]
            kernel = kernel * (1 + first)[:, None]  # K_s
            w2 = w2 * (1 + second)[:, None]
            # With σ_i = σ(2 pre_i): pre_1 = K_s ⋆ φ / field_scale, pre_2 = W_2 (2σ_1 − 1), g = field_scale w_4 · (2σ_2 − 1).
            constants = {
                "c": c, "kernel": 2 * kernel / velocity.field_scale, "own": 4 * kernel[:, centre, None],
                "layer2": 4 * w2, "bias2": -2 * w2.sum(dim=1, keepdim=True), "w2": w2,
                "to_g": 2 * velocity.field_scale * w4[0], "to_diagonal": 4 * w4[0],
            }  # fmt: skip
            constants = {name: value.to(dtype).contiguous() for name, value in constants.items()}
            constants.update(linear_divergence=float((c * velocity.multiplicity.to(torch.float64)).sum()), g_offset=-velocity.field_scale * float(w4.sum()))
            return cls(velocity, constants, zero_law)

    def __call__(self, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(b [B, *grid.shape], div b [B])`` in φ's dtype; differentiable in φ (not in θ)."""
        grid, k = self.velocity.grid, self.constants
        modes = rfft(phi, grid.ndim)
        linear_modes = k["c"] * modes
        sigma1 = torch.sigmoid(k["kernel"] @ _neighbourhoods(phi, self.velocity.neighbours.weight.shape[-1]))  # σ(2 pre_1)  [H, B·sites]
        sigma2 = torch.sigmoid(torch.addmm(k["bias2"], k["layer2"], sigma1))  # σ(2 pre_2)
        g = torch.addmv(torch.full_like(sigma2[0], k["g_offset"]), sigma2.T, k["to_g"])
        slope1 = torch.addcmul(sigma1, sigma1, sigma1, value=-1).mul_(k["own"])  # (1 − z_1²) ∂pre_1/∂φ_n
        slope2 = torch.addcmul(sigma2, sigma2, sigma2, value=-1).mul_(k["w2"] @ slope1)  # ¼ (1 − z_2²) ⊙ W_2 slope1
        diagonal = torch.mv(slope2.T, k["to_diagonal"])  # ∂g_n/∂φ_n
        divergence = k["linear_divergence"] + diagonal.view(phi.shape[0], -1).sum(dim=1)
        if self.zero_law is not None:  # the data base's zero mode, the one nonlinear mode of its law
            dt_ds, *law = self.zero_law
            origin = (slice(None), *[0] * grid.ndim)
            zero_velocity, zero_slope = self.velocity.base.zero_mode_velocity(modes[origin].real.to(torch.float64), *law)
            linear_modes[origin] += (dt_ds * zero_velocity).to(linear_modes.dtype)
            divergence = divergence + (dt_ds * zero_slope).to(divergence.dtype)
        return irfft(linear_modes, grid.shape) + g.view_as(phi), divergence


def _base_at(velocity: LatticeVelocity, s: float) -> tuple[torch.Tensor, tuple]:
    """The data base's velocity at flow time s (flow/base.py): its gain on the non-zero modes in s, (-κ_p + β²/2K_t) dt/ds
    ``[*rfft]`` float64 with 0 at the zero mode, and (dt/ds, C̃_t, Σ̃_t, κ_0, β²) of its zero-mode pair; t + ε = e^s."""
    base, grid = velocity.base, velocity.grid
    dt_ds = math.exp(s)
    t = max(dt_ds - velocity.epsilon, 0.0)
    marginal = base.scheme.marginal(grid, torch.tensor([t], dtype=torch.float64))
    damping, variance = (value.reshape(grid.rfft_shape) for value in (marginal.damping, marginal.variance))
    rate, noise = (term(grid, 0.0).reshape(grid.rfft_shape).to(torch.float64) for term in (base.scheme.rate, base.scheme.diffusion))
    gain = (-rate + noise / (2 * base.second_moment(t))) * dt_ds
    origin = (0,) * grid.ndim
    gain[origin] = 0.0
    return gain, (dt_ds, *(value[origin] for value in (damping, variance, rate, noise)))


def _neighbourhoods(phi: torch.Tensor, kernel: int) -> torch.Tensor:
    """``[kernel^d, B·sites]``: row k holds, for every site, the field at the k-th tap of its periodic neighbourhood (row-major taps, as a convolution's weight)."""
    ndim, pad = phi.dim() - 1, kernel // 2
    padded = nn.functional.pad(phi.unsqueeze(1), (pad, pad) * ndim, mode="circular")[:, 0]
    for axis in range(1, ndim + 1):
        padded = padded.unfold(axis, kernel, 1)  # [B, *shape, K, ...]
    order = (*range(ndim + 1, 2 * ndim + 1), *range(ndim + 1))
    return padded.permute(order).reshape(kernel**ndim, -1)


__all__ = ["StageVelocity"]
