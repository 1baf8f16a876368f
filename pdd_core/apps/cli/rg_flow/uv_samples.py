"""The UV theory every HMC study of ``pdd rg-flow`` starts from: the lattice system and its HMC samples, chain-major."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from tqdm import tqdm

from pdd_core.apps.datasets.generation import burn_in_frames, configure_system
from pdd_core.config import to_dict
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.registry import SYSTEMS

HMC_CHUNKS = 20  # HMC runs in this many chunks per chain, so the progress bar moves


def lattice_system(name: str, settings: dict[str, Any]) -> Any:
    """The registered system ``name`` with ``settings``, refused in one line unless it is a 2D lattice sampled by HMC."""
    system_cls = SYSTEMS.get(name)
    if not callable(getattr(system_cls, "run_chain", None)):
        raise bad_argument("SYSTEM", name, "rg-flow needs a lattice system sampled by HMC", "use phi4", kind=ConfigError)
    system = configure_system(system_cls, "paper", settings)
    if system.grid.symbol != "lattice" or system.grid.ndim != 2:
        raise bad_argument("SYSTEM", name, "rg-flow needs a 2D lattice grid (RDM Sec. 7)", "use phi4", kind=ConfigError)
    return system


def sample_uv(system: Any, n_samples: int, chains: int, rng: np.random.Generator, progress: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """``n_samples`` HMC samples ``[n, N, N]``, chain-major (consecutive samples of a chain adjacent), and HMC diagnostics."""
    from systems.phi4 import integrated_autocorrelation_time

    chains = min(chains, n_samples)
    frames_per_chain = math.ceil(n_samples / chains)
    burn = burn_in_frames(system)
    state = system.initial_state(chains, rng)
    bar = tqdm(total=burn + frames_per_chain, desc="HMC", unit="frame", file=sys.stderr, disable=not progress)
    if burn:
        state = system.run_chain(state, burn, rng).state
        bar.update(burn)
    frames, magnetisation, action, acceptance = [], [], [], []
    chunk = max(1, frames_per_chain // HMC_CHUNKS)
    done = 0
    while done < frames_per_chain:
        count = min(chunk, frames_per_chain - done)
        run = system.run_chain(state, count, rng)
        state = run.state
        frames.append(run.frames[:, :, 0])
        magnetisation.append(run.magnetisation)
        action.append(run.action)
        acceptance.append((run.stats.acceptance_rate, run.stats.n_trajectories))
        done += count
        bar.update(count)
    bar.close()
    samples = np.concatenate(frames, axis=1).reshape(-1, *system.grid.shape)[:n_samples]
    series = {"abs_magnetisation": np.abs(np.concatenate(magnetisation, axis=1)), "action": np.concatenate(action, axis=1)}
    taus = {name: integrated_autocorrelation_time(values) for name, values in series.items()}
    diagnostics = {
        "chains": chains,
        "frames_per_chain": frames_per_chain,
        "thermalisation_frames": burn,
        "trajectories_per_frame": system.trajectories_per_frame,
        "acceptance_rate": sum(rate * count for rate, count in acceptance) / sum(count for _, count in acceptance),
        "tau_int_trajectories": {name: to_dict(tau) for name, tau in taus.items()},
    }
    return samples, diagnostics
