"""Throughput of the Kolmogorov-flow truth integrator (PDD Eqs. 61-62, B.1), single-threaded.

For N = 64, 128, 256 and B = 1, 16 trajectories, steps per second (one step advances the whole
batch) of :func:`systems._kolmogorov_spectral.integrate` against, measured in the same run:

* ``numpy``: :class:`systems._kolmogorov_spectral.ReferenceModel`, the plain ``numpy.fft``
  transcription of the same scheme (advective form, 5 FFTs per tendency, tables precomputed);
* ``jax``: a ``jax.jit`` + ``lax.fori_loop`` transcription of the same explicit midpoint scheme
  (float64), only when jax is importable;
* ``exponax``: ``exponax.stepper.KolmogorovFlowVorticity`` (same physics, ETDRK2), and
* ``jax_cfd``: ``jax_cfd.spectral`` ``ForcedNavierStokes2D`` (same physics, Crank-Nicolson RK4),
  each only when importable; these two count steps of their own schemes.

Both schemes are timed (``midpoint``, B.1's, and ``etdrk4``); peers only for the midpoint. Medians
of ``repeats`` runs after a warm-up (numba compilation, jit tracing). Ratios > 1 mean we are faster.

    python benchmarks/truth_kolmogorov.py --json OUT.json [--repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from typing import Callable

# Single-threaded XLA CPU backend for the jax peers; must be set before jax is imported.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from systems._kolmogorov_spectral import ReferenceModel, band_from_field, full_from_band, integrate, spectral_operators  # noqa: E402
from systems.kolmogorov import KolmogorovFlow  # noqa: E402

SIZES = (64, 128, 256)
BATCHES = (1, 16)
INTEGRATORS = ("midpoint", "etdrk4")
MU, NU, FORCING_WAVENUMBER, TIME_STEP = 0.1, 1e-3, 4, 1e-3
# Grid points x trajectories x steps per timed run: ~0.3-2 s per run for every size and batch.
WORK_PER_RUN = 6_000_000


def _median_seconds_per_step(advance: Callable[[int], None], n_steps: int, repeats: int) -> float:
    advance(1)  # warm-up: numba compilation, jit tracing, FFT plans
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        advance(n_steps)
        times.append((time.perf_counter() - start) / n_steps)
    return statistics.median(times)


def _ours(spectrum: np.ndarray, n: int, scheme: str) -> Callable[[int], None]:
    ops = spectral_operators(n, MU, NU, FORCING_WAVENUMBER, TIME_STEP, scheme)
    state = spectrum.copy()

    def advance(n_steps: int) -> None:
        integrate(state, n_steps, ops)

    return advance


def _numpy(spectrum: np.ndarray, n: int, scheme: str) -> Callable[[int], None]:
    model = ReferenceModel(n, MU, NU, FORCING_WAVENUMBER, TIME_STEP, scheme)
    state = [full_from_band(spectrum, n)]

    def advance(n_steps: int) -> None:
        for _ in range(n_steps):
            state[0] = model.step(state[0])

    return advance


def _jax(spectrum: np.ndarray, n: int) -> Callable[[int], None]:
    """Explicit midpoint, advective form, 2/3 truncation: the numpy reference under ``jax.jit``."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    model = ReferenceModel(n, MU, NU, FORCING_WAVENUMBER, TIME_STEP, "midpoint")
    tables = (model.kx, model.ky, model.minus_inv_k2, model.linear, model.forcing, model.in_band)
    kx, ky, minus_inv_k2, linear, forcing, in_band = (jnp.asarray(table) for table in tables)
    shape = (n, n)

    def tendency(w):
        psi = minus_inv_k2 * w
        u = jnp.fft.irfft2(-1j * ky * psi, s=shape)
        v = jnp.fft.irfft2(1j * kx * psi, s=shape)
        w_x = jnp.fft.irfft2(1j * kx * w, s=shape)
        w_y = jnp.fft.irfft2(1j * ky * w, s=shape)
        return in_band * (-jnp.fft.rfft2(u * w_x + v * w_y) + linear * w + forcing)

    def step(_, w):
        return w + TIME_STEP * tendency(w + TIME_STEP / 2 * tendency(w))

    run = jax.jit(lambda w, k: jax.lax.fori_loop(0, k, step, w))
    state = [jnp.asarray(full_from_band(spectrum, n))]

    def advance(n_steps: int) -> None:
        state[0] = run(state[0], n_steps).block_until_ready()

    return advance


def _exponax(spectrum: np.ndarray, n: int) -> Callable[[int], None]:
    """exponax's Kolmogorov-flow vorticity stepper (ETDRK2, the same physics), vmapped over the batch."""
    import exponax
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    stepper = exponax.stepper.KolmogorovFlowVorticity(
        2, 2 * np.pi, n, TIME_STEP, diffusivity=NU, drag=-MU, injection_mode=FORCING_WAVENUMBER, injection_scale=1.0, order=2
    )
    batched = jax.vmap(stepper)
    run = jax.jit(lambda u, k: jax.lax.fori_loop(0, k, lambda _, x: batched(x), u))
    fields = np.fft.irfft2(full_from_band(spectrum, n), s=(n, n))[:, None]
    state = [jnp.asarray(fields)]

    def advance(n_steps: int) -> None:
        state[0] = run(state[0], n_steps).block_until_ready()

    return advance


def _jax_cfd(spectrum: np.ndarray, n: int) -> Callable[[int], None]:
    """jax-cfd's pseudospectral ``ForcedNavierStokes2D`` (the same physics; Crank-Nicolson RK4), vmapped over the batch."""
    import jax
    import jax.numpy as jnp
    from jax_cfd.base import grids
    from jax_cfd.spectral import equations, time_stepping

    jax.config.update("jax_enable_x64", True)
    grid = grids.Grid((n, n), domain=((0, 2 * np.pi), (0, 2 * np.pi)))
    step = time_stepping.crank_nicolson_rk4(equations.ForcedNavierStokes2D(NU, grid, smooth=True), TIME_STEP)
    batched = jax.vmap(step)
    run = jax.jit(lambda w, k: jax.lax.fori_loop(0, k, lambda _, x: batched(x), w))
    state = [jnp.asarray(full_from_band(spectrum, n))]

    def advance(n_steps: int) -> None:
        state[0] = run(state[0], n_steps).block_until_ready()

    return advance


def _peer(name: str, build: Callable[[], Callable[[int], None]], n_steps: int, repeats: int, skipped: dict[str, str]) -> float | None:
    """Seconds per step of an optional peer, or None (reason recorded once) when it cannot run."""
    if name in skipped:
        return None
    try:
        return _median_seconds_per_step(build(), n_steps, repeats)
    except ImportError as error:
        skipped[name] = f"not importable ({error})"
    except Exception as error:  # a peer's API drift must not sink the whole benchmark
        skipped[name] = f"failed: {type(error).__name__}: {error}"
    return None


def run(repeats: int = 5) -> dict:
    """Measure every (N, B, scheme); returns the JSON-ready report."""
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    skipped: dict[str, str] = {}
    rows = []
    for n in SIZES:
        for batch in BATCHES:
            spectrum = band_from_field(KolmogorovFlow(n_sim=n, n_out=min(n, 40)).initial_state(batch, np.random.default_rng(0))[:, 0])
            n_steps = max(2, WORK_PER_RUN // (batch * n * n))
            for scheme in INTEGRATORS:
                ours = _median_seconds_per_step(_ours(spectrum, n, scheme), n_steps, repeats)
                reference = _median_seconds_per_step(_numpy(spectrum, n, scheme), max(2, n_steps // 2), repeats)
                row = {
                    "n": n,
                    "batch": batch,
                    "scheme": scheme,
                    "steps_timed": n_steps,
                    "ours_steps_per_s": 1 / ours,
                    "ours_trajectory_steps_per_s": batch / ours,
                    "numpy_steps_per_s": 1 / reference,
                    "ratio_vs_numpy": reference / ours,
                }
                if scheme == "midpoint":
                    for name, build in (("jax", _jax), ("exponax", _exponax), ("jax_cfd", _jax_cfd)):
                        peer = _peer(name, functools.partial(build, spectrum, n), n_steps, repeats, skipped)
                        if peer is not None:
                            row[f"{name}_steps_per_s"] = 1 / peer
                            row[f"ratio_vs_{name}"] = peer / ours
                rows.append(row)
                print(json.dumps(row), flush=True)
    return {
        "benchmark": "kolmogorov truth integrator (PDD Eqs. 61-62, B.1)",
        "time_step": TIME_STEP,
        "threads": 1,
        "repeats": repeats,
        "statistic": "median",
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "numpy": np.__version__, "torch": torch.__version__},
        "skipped": skipped,
        "results": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_path", help="write the report to this file")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    report = run(repeats=args.repeats)
    text = json.dumps(report, indent=2)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
