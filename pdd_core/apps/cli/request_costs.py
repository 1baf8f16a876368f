"""The memory each command's request will take, estimated from its sizes before any allocation.

Each function lists the large tensors a command holds as :class:`~pdd_core.resources.MemoryTerm`
(shapes x dtype size x a factor) and refuses the request with
:func:`~pdd_core.resources.check_memory` when their sum exceeds the limit. The factors count the
copies a step keeps alive (autograd graphs, RK4 stages, FFT buffers); each was measured here as
peak resident memory against the tensor's size on the smallest model, and is rounded down, so an
estimate is a lower bound: a refused request would not have fit, an accepted one may still need
more for a wide network. docs/guarantees.md ("What a request may cost") lists them.
"""

from __future__ import annotations

import math
from typing import Any

from pdd_core.grid import Grid
from pdd_core.resources import FLOAT32_BYTES, FLOAT64_BYTES, MemoryTerm, check_memory

# A λ schedule: the ramp, its power and the result, float64.
SCHEDULE_COPIES = 3
# The data-informed prior's Toeplitz covariance [C, *rfft, T, T]: the gathered matrix, its
# symmetrised copy, eigenvectors and eigh's workspace (measured 8 at T = 1000 and 2000).
MARGINAL_COPIES = 6
# A batch of paths under a path-score sampler: the state, noise, the windows of Eq. 36 and their
# autograd graph (measured ~90 on a linear drift; networks add their activations).
SAMPLING_COPIES = 32
# A batch of rollouts: the paths kept, the drift's window, its input and output.
ROLLOUT_COPIES = 4
# The ground-state flow's training step per sample, site, hidden channel and RK4 evaluation: the
# log density through the ODE, its score with create_graph and the Laplacian probes (measured 58).
GROUND_STATE_STEP_COPIES = 48
# The flows of `pdd rg-flow --flow` per sample, site, hidden channel and RK4 evaluation (measured 22).
FLOW_STEP_COPIES = 16
RK4_STAGES = 4
# The ground-state energy is estimated in batches of this many samples (energy.estimate_energy).
ENERGY_BATCH = 256


def _sites(grid: Grid) -> int:
    return math.prod(grid.shape)


def schedule_term(steps: int, flag: str) -> MemoryTerm:
    """A λ schedule of ``steps`` steps (float64)."""
    return MemoryTerm(flag, steps, (steps + 1) * FLOAT64_BYTES * SCHEDULE_COPIES, f"the λ schedule ({steps} + 1 steps x 8 bytes x {SCHEDULE_COPIES})")


def check_schedule(steps: int, flag: str) -> None:
    """Refuse a λ schedule too long to hold (its loop shows progress; its length alone is the memory)."""
    check_memory([schedule_term(steps, flag)])


def marginal_term(grid: Grid, frames: int, flag: str = "--frames") -> MemoryTerm:
    """The data-informed prior / Gaussian samplers' covariance of paths of ``frames`` frames."""
    modes = grid.channels * math.prod(grid.rfft_shape)
    size = modes * frames**2 * FLOAT64_BYTES * MARGINAL_COPIES
    return MemoryTerm(flag, frames, size, f"the Gaussian marginal's covariance ({modes} modes x {frames}² frames x 8 bytes x {MARGINAL_COPIES})")


def paths_terms(grid: Grid, n: int, frames: int, batch: int | None, *, n_flag: str, copies: int, what: str, batch_flag: str = "--batch-size") -> list[MemoryTerm]:
    """``n`` paths of ``frames`` frames: the batch being worked on (``copies`` of it) and the whole set kept (float64 and its float32 copy)."""
    per_path = frames * grid.channels * _sites(grid)
    working = min(n, batch) if batch else n
    working_flag, working_value = (batch_flag, batch) if batch and batch < n else (n_flag, n)
    return [
        MemoryTerm(working_flag, working_value, working * per_path * FLOAT64_BYTES * copies, f"{what} ({working} paths x {per_path} values x 8 bytes x {copies})"),
        MemoryTerm(n_flag, n, n * per_path * (FLOAT64_BYTES + FLOAT32_BYTES), f"the {n} finished paths ({n} x {per_path} values x (8 + 4) bytes)"),
    ]


def check_generation(grid: Grid, n: int, frames: int, batch: int | None, *, marginal: bool) -> None:
    """``pdd generate``: the paths under the sampler, the finished set and the marginal's covariance (when used)."""
    terms = paths_terms(grid, n, frames, batch, n_flag="--n", copies=SAMPLING_COPIES, what="the paths under the sampler")
    check_memory([*terms, *([marginal_term(grid, frames)] if marginal else [])])


def check_evaluation(grid: Grid, reference: int, frames: int, settings: Any, marginal: bool) -> None:
    """``pdd evaluate``: the ensemble's rollouts, the long rollouts, generation and the marginal, for ``reference`` paths of ``frames`` frames."""
    per_path = frames * grid.channels * _sites(grid)
    terms = []
    if settings.ensemble:
        members = settings.ensemble * reference
        size = members * per_path * FLOAT64_BYTES * ROLLOUT_COPIES
        terms.append(MemoryTerm("--ensemble", settings.ensemble, size, f"the ensemble's rollouts ({settings.ensemble} x {reference} paths x {per_path} values x 8 bytes x {ROLLOUT_COPIES})"))
    segments = settings.discard_segments + settings.keep_segments
    long_frames = max(segments * frames, settings.long_steps)
    long_flag, long_value = ("--long-steps", settings.long_steps) if settings.long_steps > segments * frames else ("--discard", settings.discard_segments)
    size = reference * long_frames * grid.channels * _sites(grid) * FLOAT64_BYTES * ROLLOUT_COPIES
    terms.append(MemoryTerm(long_flag, long_value, size, f"the long rollouts ({reference} paths x {long_frames} frames x {grid.channels * _sites(grid)} values x 8 bytes x {ROLLOUT_COPIES})"))
    generated = settings.n_generate or reference
    terms += paths_terms(grid, generated, frames, None, n_flag="--n-generate", copies=SAMPLING_COPIES, what="the generated paths under the sampler")
    if marginal:
        terms.append(marginal_term(grid, frames, "--data"))
    check_memory(terms)


def _ground_state_step(sites: int, hidden: int, ode_steps: int, name: str, value: int, samples: int, what: str = "a training step") -> MemoryTerm:
    size = samples * sites * hidden * ode_steps * RK4_STAGES * FLOAT64_BYTES * GROUND_STATE_STEP_COPIES
    shape = f"{samples} samples x {sites} sites x {hidden} hidden x {ode_steps} ODE steps x {RK4_STAGES} stages x 8 bytes x {GROUND_STATE_STEP_COPIES}"
    return MemoryTerm(name, value, size, f"{what} ({shape})")


def _fourier_basis(shape: tuple[int, ...], needed: bool) -> list[MemoryTerm]:
    sites = math.prod(shape)
    return [MemoryTerm("--set N", shape[0], sites**2 * FLOAT64_BYTES, f"the lattice's real Fourier basis ({sites}² sites x 8 bytes)")] if needed else []


def check_ground_state_lattice(shape: tuple[int, ...], hidden: int, ode_steps: int, *, fourier_basis: bool) -> None:
    """``pdd ground-state``: whether the lattice ``shape`` fits at all, at the smallest batch (2); named as ``--set N``.

    Call it before the Hamiltonian is built: that already takes a few arrays of N^d values.
    ``fourier_basis``: whether the run builds the lattice's real Fourier basis (sites x sites),
    as the free case's mode test and the Hutchinson Laplacian do.
    """
    sites = math.prod(shape)
    check_memory([_ground_state_step(sites, hidden, ode_steps, "--set N", shape[0], 2), *_fourier_basis(shape, fourier_basis)])


def check_ground_state(shape: tuple[int, ...], batch: int, eval_samples: int, hidden: int, ode_steps: int, *, free: bool, fourier_basis: bool) -> None:
    """``pdd ground-state``: a training step, the energy's samples and the lattice's real Fourier basis."""
    check_ground_state_lattice(shape, hidden, ode_steps, fourier_basis=fourier_basis)
    sites = math.prod(shape)
    # The energy keeps every sample; the free case also takes their two-point function, mode test and RG path at once.
    copies = 4 * hidden + 16 if free else 2
    kept = MemoryTerm("--eval-samples", eval_samples, eval_samples * sites * FLOAT64_BYTES * copies, f"the energy's samples ({eval_samples} x {sites} sites x 8 bytes x {copies})")
    basis = _fourier_basis(shape, fourier_basis)
    check_memory([_ground_state_step(sites, hidden, ode_steps, "--batch-size", batch, batch), kept, *basis])
    # The energy's local values take the same graph as a training step, batch by batch.
    check_memory([_ground_state_step(sites, hidden, ode_steps, "--eval-samples", eval_samples, min(eval_samples, ENERGY_BATCH), "a batch of the energy estimate"), kept, *basis])


def check_exact_flows(grid: Grid, n_samples: int, times: int, schemes: int) -> None:
    """``pdd rg-flow``: the HMC samples and every scheme's flow of them, kept at ``times`` flow times."""
    sites = _sites(grid)
    check_memory(
        [MemoryTerm("--n-samples", n_samples, n_samples * sites * FLOAT64_BYTES * (2 + times * schemes), f"the HMC samples and their flows ({n_samples} x {sites} sites x 8 bytes x (2 + {times} times x {schemes} schemes))")]
    )


def check_flows(grid: Grid, n_samples: int, batch: int, hidden: int, ode_steps: int, flow_samples: int, times: int) -> None:
    """``pdd rg-flow --flow``: the HMC samples, a training step of the flow and its samples along ``times`` flow times.

    The lattice is checked first at the fewest ODE steps (2), so a lattice too large for any is named as ``--set N``.
    """
    sites = _sites(grid)

    def step(name: str, value: int, steps: int) -> MemoryTerm:
        size = batch * sites * hidden * steps * RK4_STAGES * FLOAT64_BYTES * FLOW_STEP_COPIES
        return MemoryTerm(name, value, size, f"a training step ({batch} samples x {sites} sites x {hidden} hidden x {steps} ODE steps x {RK4_STAGES} stages x 8 bytes x {FLOW_STEP_COPIES})")

    check_memory([step("--set N", grid.shape[0], 2)])
    check_memory(
        [
            step("--flow-ode-steps", ode_steps, ode_steps),
            MemoryTerm("--n-samples", n_samples, n_samples * sites * FLOAT64_BYTES * 2, f"the HMC samples ({n_samples} x {sites} sites x 8 bytes x 2)"),
            MemoryTerm("--flow-samples", flow_samples, flow_samples * sites * times * FLOAT64_BYTES * 2, f"the learned flow's samples ({flow_samples} x {sites} sites x {times} times x 8 bytes x 2)"),
        ]
    )


__all__ = ["check_evaluation", "check_exact_flows", "check_flows", "check_generation", "check_ground_state", "check_ground_state_lattice", "check_schedule", "marginal_term", "paths_terms", "schedule_term"]
