"""Lorenz-96 truth-integrator benchmark (PDD Eqs. 59-60, B.1): numba kernel vs NumPy (and jax).

Throughput is counted in state-variable-steps per second: trajectories x (K + KJ) state
variables x integration steps, for the paper's forward Euler with step 5e-4. Every reference
(a vectorised NumPy Euler loop over :func:`systems.lorenz96.lorenz96_tendency_numpy`, and a
jax ``jit`` + ``lax.scan`` loop in float64 when jax is importable) is timed in the same run
from the same initial state, single-threaded; numbers are medians over ``repeats``.

It also measures the peak traced memory of generating frames the way a data pipeline does
(burn-in one output interval at a time, then the saved frames), relative to the output.

    python benchmarks/truth_lorenz96.py --repeats 5 --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import tracemalloc
from typing import Callable

import numba
import numpy as np

from systems.lorenz96 import Lorenz96, lorenz96_tendency_numpy

STEP = 5e-4
TARGET_B256_EULER = 1e9
# Steps per timed call, chosen so one call takes ~0.1-0.5 s on one core.
NUMBA_STEPS = {1: 2_000_000, 256: 10_000}
NUMPY_STEPS = {1: 4_000, 256: 400}
JAX_STEPS = {1: 40_000, 256: 2_000}


def _median_seconds(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``call`` (CPU time discounts time spent
    descheduled on a shared machine; single-threaded, so it is this call's own compute)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def _rates(work: float, seconds: tuple[float, float]) -> tuple[float, float]:
    return work / seconds[0], work / seconds[1]


def numpy_euler(slow: np.ndarray, fast: np.ndarray, n_steps: int, system: Lorenz96) -> tuple[np.ndarray, np.ndarray]:
    """Forward Euler with the vectorised NumPy tendency (same arithmetic as the kernel)."""
    for _ in range(n_steps):
        dx, dy = lorenz96_tendency_numpy(slow, fast, system.F, system.h, system.b, system.c)
        slow = slow + system.step * dx
        fast = fast + system.step * dy
    return slow, fast


def _jax_euler(system: Lorenz96, n_steps: int):
    """A jitted float64 Euler loop (``lax.scan``) of the same tendency, or None without jax."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    n_fast_per_slow = system.J
    coupling, cb = system.h * system.c / system.b, system.c * system.b

    def euler_step(state, _):
        slow, fast = state
        y_sum = fast.reshape(fast.shape[0], -1, n_fast_per_slow).sum(-1)
        dx = -jnp.roll(slow, 1, -1) * (jnp.roll(slow, 2, -1) - jnp.roll(slow, -1, -1)) - slow + system.F - coupling * y_sum
        pull = jnp.repeat(coupling * slow, n_fast_per_slow, -1)
        dy = -cb * jnp.roll(fast, -1, -1) * (jnp.roll(fast, -2, -1) - jnp.roll(fast, 1, -1)) - system.c * fast + pull
        return (slow + system.step * dx, fast + system.step * dy), None

    @jax.jit
    def run(slow, fast):
        return jax.lax.scan(euler_step, (slow, fast), None, length=n_steps)[0]

    def call(slow: np.ndarray, fast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = run(jnp.asarray(slow), jnp.asarray(fast))
        jax.block_until_ready(out)
        return np.asarray(out[0]), np.asarray(out[1])

    return call


def euler_throughput(batch: int, repeats: int) -> dict:
    """State-variable-steps per second of the numba kernel, NumPy and (if importable) jax."""
    system = Lorenz96(step=STEP, dt=STEP * NUMBA_STEPS[batch] / 100)
    variables = batch * (system.K + system.K * system.J)
    state = system.initial_state(batch, np.random.default_rng(0))
    state = system.advance(state, 1)[1]  # compile (or load the cache) and leave the start-up transient
    slow, fast = state[:, 0, :: system.J].copy(), state[:, 1].copy()

    result = {}
    result["numba"], result["numba_cpu_time"] = _rates(variables * NUMBA_STEPS[batch], _median_seconds(lambda: system.advance(state, 100), repeats))
    numpy_seconds = _median_seconds(lambda: numpy_euler(slow, fast, NUMPY_STEPS[batch], system), repeats)
    result["numpy"], result["numpy_cpu_time"] = _rates(variables * NUMPY_STEPS[batch], numpy_seconds)
    result["numba_over_numpy"] = result["numba"] / result["numpy"]
    result["numba_over_numpy_cpu_time"] = result["numba_cpu_time"] / result["numpy_cpu_time"]
    # Same arithmetic, so the two integrations agree to round-off after the same steps.
    check = Lorenz96(step=STEP, dt=STEP * NUMPY_STEPS[batch])
    kernel_state = check.advance(state, 1)[1]
    numpy_state = numpy_euler(slow, fast, NUMPY_STEPS[batch], system)
    differences = (np.abs(kernel_state[:, 0, :: system.J] - numpy_state[0]).max(), np.abs(kernel_state[:, 1] - numpy_state[1]).max())
    result["numpy_max_abs_difference"] = float(max(differences))

    jax_call = _jax_euler(system, JAX_STEPS[batch])
    if jax_call is None:
        result["jax"] = "skipped: jax is not importable"
    else:
        jax_call(slow, fast)  # compile
        result["jax"], result["jax_cpu_time"] = _rates(variables * JAX_STEPS[batch], _median_seconds(lambda: jax_call(slow, fast), repeats))
        result["numba_over_jax"] = result["numba"] / result["jax"]
        result["numba_over_jax_cpu_time"] = result["numba_cpu_time"] / result["jax_cpu_time"]
    return result


def rk4_throughput(batch: int, repeats: int) -> dict:
    """State-variable-steps per second of the RK4 kernel (four tendency evaluations per step)."""
    n_steps = NUMBA_STEPS[batch] // 4
    system = Lorenz96(integrator="rk4", step=STEP, dt=STEP * n_steps / 100)
    state = system.advance(system.initial_state(batch, np.random.default_rng(1)), 1)[1]
    wall, cpu = _rates(batch * (system.K + system.K * system.J) * n_steps, _median_seconds(lambda: system.advance(state, 100), repeats))
    return {"numba": wall, "numba_cpu_time": cpu}


def generation_memory(n_paths: int = 128, n_frames: int = 64) -> dict:
    """Peak traced memory of generating ``n_paths`` paths (burn-in included), relative to the output.

    Burn-in advances one output interval per call and drops the frame, as a pipeline does.
    tracemalloc sees every NumPy allocation; the kernels' per-trajectory scratch arrays
    (a few KiB, freed per trajectory) are outside it.
    """
    system = Lorenz96()
    state = system.initial_state(n_paths, np.random.default_rng(2))
    system.advance(state[:1], 1)
    start = time.perf_counter()
    tracemalloc.start()
    for _ in range(round(system.burn_in / system.dt)):
        state = system.advance(state, 1)[1]
    frames, state = system.advance(state, n_frames)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    seconds = time.perf_counter() - start
    paper = Lorenz96.presets["paper"]
    paper_paths = paper.n_train + paper.n_valid + paper.n_test
    return {
        "n_paths": n_paths,
        "n_frames": n_frames,
        "output_float64_bytes": frames.nbytes,
        "peak_traced_bytes": peak,
        "peak_over_float64_output": peak / frames.nbytes,
        "peak_over_float32_storage": peak / (frames.nbytes // 2),
        "seconds": seconds,
        "paper_set_seconds_estimate_one_thread": seconds * paper_paths / n_paths,
    }


def run(repeats: int = 5) -> dict:
    """All measurements of this benchmark as one JSON-ready dict (single-threaded)."""
    numba.set_num_threads(1)
    euler = {f"B={batch}": euler_throughput(batch, repeats) for batch in (1, 256)}
    return {
        "benchmark": "truth_lorenz96",
        "unit": "state-variable-steps per second (B x (K + KJ) x steps), median of repeats; *_cpu_time: per CPU second",
        "system": "two-scale Lorenz-96, K=32, J=4, F=b=c=10, h=1, step 5e-4",
        "repeats": repeats,
        "threads": 1,
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0]},
        "versions": {"numpy": np.__version__, "numba": numba.__version__},
        "euler": euler,
        "rk4": {"B=256": rk4_throughput(256, repeats)},
        "target_b256_euler": {
            "required": TARGET_B256_EULER,
            "met": euler["B=256"]["numba"] >= TARGET_B256_EULER,
            "met_cpu_time": euler["B=256"]["numba_cpu_time"] >= TARGET_B256_EULER,
        },
        "memory": generation_memory(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (median reported)")
    parser.add_argument("--json", metavar="OUT.json", help="also write the results to this file")
    args = parser.parse_args()
    results = run(args.repeats)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
