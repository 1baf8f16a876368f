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

from pdd_core.apps.datasets.generation import default_chunk_paths, stored_frames
from pdd_core.data.presets import DatasetPreset
from pdd_core.drifts.presets import drift_preset
from pdd_core.grid import Grid
from pdd_core.resources import FLOAT32_BYTES, FLOAT64_BYTES, MemoryTerm, check_memory
from pdd_core.training.models import DEFAULT_PRESETS

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
# A training step keeps, per network window and grid point, this many copies of each feature
# channel for the backward pass (norms, activations, FiLM, convolutions; the FFTs of an FNO layer).
# Measured with a PDD step's peak resident memory on the tiny, small and paper presets in 1D and
# 2D: U-Net 10.2-13.5, FNO 4.4-5.7 (features as :func:`network_features` counts them).
ACTIVATION_COPIES = {"unet": 10, "fno": 4}
# The overrides that set a network's width or depth (the rest leave its activations as they are).
WIDTH_KEYS = ("base", "widths", "blocks_per_level", "width", "layers", "projection_width")
# Bytes per value of a training dtype (TrainConfig.dtype).
DTYPE_BYTES = {"float32": FLOAT32_BYTES, "float64": FLOAT64_BYTES}
# The input windows of a training step: the noisy path, its windows and the target, per value
# (not measured apart: the activations dominate every preset).
TRAINING_INPUT_COPIES = 3
# A chunk of `pdd data generate` per value of its frames: the float64 frames and their float32
# copy for storage, plus the integrator's buffers (measured 19-35 bytes on the linear field,
# Lorenz-96 and Kuramoto-Sivashinsky).
CHUNK_BYTES_PER_VALUE = 16
# The integrator's state per path and value (RK4 / ETDRK4 stages, FFT buffers), float64.
INTEGRATOR_STATE_COPIES = 16


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


def sampling_activations(network: Any, grid: Grid, n: int, frames: int, batch: int | None, *, n_flag: str, batch_flag: str = "--batch-size") -> list[MemoryTerm]:
    """The network's activations under a path score's sampler: every window of the working batch of paths, as in a training step.

    The path score runs the drift forward and backward over every window of the batch (Eq. 36's
    gradient), so it keeps :data:`ACTIVATION_COPIES` of the features per window and grid point:
    the peak resident memory of `pdd generate` at 16 and 32 paths of 40 frames on a 40² grid gives
    11.9 copies for the U-Net and 4.7 for the FNO, the training step's factors rounded down.
    ``network``: the run's TrainConfig (its model and dtype), or None for a score without the
    drift's gradient (a noise head samples under ``no_grad`` and keeps none).
    """
    if network is None:
        return []
    model = network.model
    features = network_features(model.name, grid.ndim, model.preset, dict(model.overrides))
    bytes_per_value = DTYPE_BYTES.get(network.dtype, FLOAT32_BYTES)
    copies = ACTIVATION_COPIES.get(model.name, 0)
    working = min(n, batch) if batch else n
    name, value = (batch_flag, batch) if batch and batch < n else (n_flag, n)
    size = working * frames * _sites(grid) * features * bytes_per_value * copies
    shape = f"{working} paths x {frames} frames x {_sites(grid)} points x {features} features x {bytes_per_value} bytes x {copies}"
    return [MemoryTerm(name, value, size, f"the network's activations under the sampler ({shape})")]


def check_generation(grid: Grid, n: int, frames: int, batch: int | None, *, marginal: bool, network: Any = None) -> None:
    """``pdd generate``: the paths under the sampler, the network's activations (``network``: a path score's run config), the finished set and the marginal's covariance (when used)."""
    terms = paths_terms(grid, n, frames, batch, n_flag="--n", copies=SAMPLING_COPIES, what="the paths under the sampler")
    terms += sampling_activations(network, grid, n, frames, batch, n_flag="--n")
    check_memory([*terms, *([marginal_term(grid, frames)] if marginal else [])])


def check_super_resolution(grid: Grid, n: int, frames: int, batch: int | None, *, marginal: bool, network: Any = None) -> None:
    """``pdd super-resolve``: the ``n`` input paths of ``frames`` frames under the sampler, the network's activations (as in :func:`check_generation`), the refined set and the marginal's covariance (when used).

    Both sizes come from ``--input`` (``--n`` takes its first paths), so the covariance is named as ``--input``.
    """
    terms = paths_terms(grid, n, frames, batch, n_flag="--n", copies=SAMPLING_COPIES, what="the paths under the sampler")
    terms += sampling_activations(network, grid, n, frames, batch, n_flag="--n")
    check_memory([*terms, *([marginal_term(grid, frames, "--input")] if marginal else [])])


def check_evaluation(grid: Grid, reference: int, frames: int, settings: Any, marginal: bool, network: Any = None, tasks: tuple[str, ...] = ("simulate", "generate", "super-resolve")) -> None:
    """``pdd evaluate``: what its ``tasks`` hold for ``reference`` paths of ``frames`` frames.

    ``simulate``: the ensemble's rollouts and the long rollouts (``--long-steps``); ``super-resolve``:
    the long rollouts its coarse inputs come from; ``generate`` and ``super-resolve``: the larger of
    their sets of paths under the sampler, in batches of ``settings.batch_size``, and under
    ``network`` (a path score's run config, as in :func:`check_generation`) the network's
    activations; the marginal's covariance when ``marginal``.
    """
    per_path = frames * grid.channels * _sites(grid)
    terms = []
    if "simulate" in tasks and settings.ensemble:
        members = settings.ensemble * reference
        size = members * per_path * FLOAT64_BYTES * ROLLOUT_COPIES
        terms.append(MemoryTerm("--ensemble", settings.ensemble, size, f"the ensemble's rollouts ({settings.ensemble} x {reference} paths x {per_path} values x 8 bytes x {ROLLOUT_COPIES})"))
    if "simulate" in tasks or "super-resolve" in tasks:
        segments = settings.discard_segments + settings.keep_segments
        long_steps = settings.long_steps if "simulate" in tasks else 0
        long_frames = max(segments * frames, long_steps)
        long_flag, long_value = ("--long-steps", long_steps) if long_steps > segments * frames else ("--discard", settings.discard_segments)
        size = reference * long_frames * grid.channels * _sites(grid) * FLOAT64_BYTES * ROLLOUT_COPIES
        terms.append(MemoryTerm(long_flag, long_value, size, f"the long rollouts ({reference} paths x {long_frames} frames x {grid.channels * _sites(grid)} values x 8 bytes x {ROLLOUT_COPIES})"))
    # Generation and super-resolution sample one after the other, in batches of the same size.
    sampled = {"generate": (settings.n_generate or reference, "--n-generate"), "super-resolve": (settings.n_super_resolve or reference * settings.keep_segments, "--n-super-resolve")}
    asked = [sampled[task] for task in tasks if task in sampled]
    if asked:
        paths, flag = max(asked)
        terms += paths_terms(grid, paths, frames, settings.batch_size, n_flag=flag, copies=SAMPLING_COPIES, what="the sampled paths under the sampler")
        terms += sampling_activations(network, grid, paths, frames, settings.batch_size, n_flag=flag)
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


def network_features(model: str, ndim: int, preset: str | None, overrides: dict[str, Any]) -> int:
    """Feature channels a network keeps per full-resolution grid point: a level of the U-Net at
    1/2^(level·ndim) of the points counts for that share of its width (encoder and decoder); an FNO
    counts ``layers x width + projection_width``; other networks (the linear drift) count 0.

    Sizes that are not positive integers count as 0: the network's builder refuses them by name.
    """
    if model not in ACTIVATION_COPIES:
        return 0
    sizes = {**drift_preset(model, ndim, preset or DEFAULT_PRESETS[model]), **overrides}

    def count(key: str) -> int:
        value = sizes.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    if model == "fno":
        return count("layers") * count("width") + count("projection_width")
    widths = sizes.get("widths")
    widths = [width for width in widths if isinstance(width, int) and not isinstance(width, bool) and width > 0] if isinstance(widths, (list, tuple)) else []
    levels = sum(width / 2 ** (level * ndim) for level, width in enumerate(widths))
    return count("base") + math.ceil(2 * count("blocks_per_level") * levels)


def check_training(config: Any, grid: Grid, path_frames: int) -> None:
    """``pdd train``: a training step's activations, before the network is built.

    The network sees every window of every path of the batch at once (``batch_size x frames``
    windows of ``window`` frames), and keeps ``ACTIVATION_COPIES`` x its features per window and
    grid point for the backward pass, in ``config.dtype``. ``path_frames``: the training split's
    path length, used when ``config.frames`` (sub-paths) is unset. Checked in three stages, so the
    message names what is too large: one window (the network's width, ``model.preset`` or
    ``model.overrides``; or ``window``), one path (``frames``), the batch (``batch_size``).
    """
    model = config.model
    features = network_features(model.name, grid.ndim, model.preset, dict(model.overrides))
    bytes_per_value = DTYPE_BYTES.get(config.dtype, FLOAT32_BYTES)
    copies = ACTIVATION_COPIES.get(model.name, 0)
    window = config.resolved_window
    frames = min(config.frames or path_frames, path_frames)  # longer sub-paths than the data's are refused by the trainer
    values_per_window = grid.channels * _sites(grid)
    sized = {key: value for key, value in model.overrides.items() if key in WIDTH_KEYS}
    width = ("model.overrides", sized) if sized else ("model.preset", model.preset or DEFAULT_PRESETS.get(model.name))

    def step(name: str, value: Any, windows: int, what: str) -> list[MemoryTerm]:
        activations = windows * _sites(grid) * features * bytes_per_value * copies
        inputs = windows * window * values_per_window * bytes_per_value * TRAINING_INPUT_COPIES
        shape = f"{windows} windows x {_sites(grid)} points"
        return [
            MemoryTerm(name, value, activations, f"{what}'s activations ({shape} x {features} features x {bytes_per_value} bytes x {copies})"),
            MemoryTerm("window" if windows == 1 else name, window if windows == 1 else value, inputs, f"{what}'s input windows ({shape} x {window} frames x {grid.channels} channels x {bytes_per_value} bytes x {TRAINING_INPUT_COPIES})"),
        ]

    check_memory(step(*width, 1, "one window"))
    check_memory(step("frames", frames, frames, "one path"))
    check_memory(step("batch_size", config.batch_size, config.batch_size * frames, "a training step"))


def check_data_generation(system: Any, preset: DatasetPreset, sizes: tuple[int | None, ...], chunk_paths: int | None, *, setting: tuple[str, Any]) -> None:
    """``pdd data generate``: one path of the system's grid, then a chunk of paths, before anything is drawn.

    ``sizes``: the train, valid and test split sizes asked for (None: the preset's); a chunk holds
    ``chunk_paths`` paths (None: the automatic ~16 MiB) or the largest split, if smaller.
    ``setting``: the argument named when a single path is too large (``--set`` with its values, or ``--preset``).
    The integrator's state is counted on the output grid: a system that integrates on a finer
    one (Kolmogorov flow's ``n_sim``) needs more.
    """
    values = system.grid.channels * _sites(system.grid)
    frames = stored_frames(system, preset.n_frames)
    paths = {split: getattr(preset, f"n_{split}") if size is None else size for split, size in zip(("train", "valid", "test"), sizes)}
    largest = max(paths, key=paths.get)
    chunk_paths = default_chunk_paths(system, preset.n_frames) if chunk_paths is None else chunk_paths
    # A chunk never holds more paths than its split: then the split's size is what to make smaller.
    chunk_flag = f"--n-{largest}" if 0 < paths[largest] < chunk_paths else "--chunk-paths"
    chunk_paths = min(chunk_paths, paths[largest]) if paths[largest] > 0 else chunk_paths

    def chunk(name: str, value: Any, count: int) -> list[MemoryTerm]:
        return [
            MemoryTerm(name, value, count * frames * values * CHUNK_BYTES_PER_VALUE, f"the chunk's frames ({count} paths x {frames} frames x {values} values x {CHUNK_BYTES_PER_VALUE} bytes)"),
            MemoryTerm(name, value, count * values * FLOAT64_BYTES * INTEGRATOR_STATE_COPIES, f"the integrator's state ({count} paths x {values} values x 8 bytes x {INTEGRATOR_STATE_COPIES})"),
        ]

    check_memory(chunk(*setting, 1))
    check_memory(chunk(chunk_flag, chunk_paths, chunk_paths))


def check_simulation(grid: Grid, n: int, history: int, steps: int, save_every: int, batch: int | None, window: int) -> None:
    """``pdd simulate``: the ``history + steps / save_every`` frames kept of each of ``n`` paths
    (float64 and the float32 copy written), and the rollout's working batch (``ROLLOUT_COPIES`` of its window).

    One path is checked first, so a rollout too long for any is named as ``--steps``.
    """
    values = grid.channels * _sites(grid)
    frames = history + steps // save_every

    def kept(name: str, value: Any, paths: int) -> MemoryTerm:
        return MemoryTerm(name, value, paths * frames * values * (FLOAT64_BYTES + FLOAT32_BYTES), f"the simulated paths ({paths} x {frames} frames x {values} values x (8 + 4) bytes)")

    working = min(n, batch) if batch else n
    check_memory([kept("--steps", steps, 1)])
    check_memory([kept("--n", n, n), MemoryTerm("--batch-size" if batch and batch < n else "--n", working, working * window * values * FLOAT64_BYTES * ROLLOUT_COPIES, f"the rollout's batch ({working} paths x {window} frames x {values} values x 8 bytes x {ROLLOUT_COPIES})")])


__all__ = ["check_data_generation", "check_evaluation", "check_simulation", "check_super_resolution", "check_training", "network_features", "check_exact_flows", "check_flows", "check_generation", "check_ground_state", "check_ground_state_lattice", "check_schedule", "marginal_term", "paths_terms", "sampling_activations", "schedule_term"]
