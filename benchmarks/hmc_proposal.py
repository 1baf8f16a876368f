"""Generated fields as HMC proposals (RDM Sec. 1.2, 5.4): warm starts and independence
Metropolis against plain HMC at equal cost, on lattice φ⁴.

The proposal source is, for now, a Gaussian fitted per Fourier mode to plain-HMC samples (with
the Z2-symmetric pair on the zero mode when that fits better; exact density, so it also drives
independence Metropolis-Hastings). Learned samples plug in for the warm starts with
``--fields FIELDS.npy --generation-seconds S`` (fields ``[n, N, N]`` of the same theory).

    python benchmarks/hmc_proposal.py --json OUT.json                            # RDM Figs. 6, 8: m2=-2
    python benchmarks/hmc_proposal.py --m2 0.01 --leapfrog-steps 700 --json OUT.json   # RDM Fig. 7

Reports (``pdd_core.apps.lattice.warm_start``, ``pdd_core.apps.lattice.independence_mh``): τ_int of |M| and
S, burn-in, effective samples per second and per trajectory equivalent, and their ratios to plain
HMC (> 1: the proposal helps).
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import time

import attrs
import numba
import numpy as np
import torch

from benchmarks.output import emit
from pdd_core.apps.lattice.gaussian_proposal import fit_fourier_gaussian
from pdd_core.apps.lattice.independence_mh import independence_mh_study
from pdd_core.apps.lattice.warm_start import warm_start_study
from systems.phi4 import LatticePhi4


def fitted_proposal(system: LatticePhi4, chains: int, frames: int, rng: np.random.Generator):
    """Fit the Gaussian proposal to ``chains x frames`` plain-HMC samples; returns it and the seconds spent."""
    start = time.perf_counter()
    state = system.advance(system.initial_state(chains, rng), max(1, system.thermalisation_trajectories // system.trajectories_per_frame), rng)[1]
    samples = system.advance(state, frames, rng)[0][:, :, 0].reshape(-1, system.N, system.N)
    proposal = fit_fourier_gaussian(samples)
    return proposal, time.perf_counter() - start, len(samples)


def headline(name: str, ratios: dict) -> dict:
    return {f"{name}_{observable}_{unit}": value for observable, by_unit in ratios.items() for unit, value in by_unit.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=20)
    parser.add_argument("--L", type=float, default=1.0)
    parser.add_argument("--m2", type=float, default=-2.0)
    parser.add_argument("--lam", type=float, default=0.0017)
    parser.add_argument("--leapfrog-steps", type=int, default=100, help="100 for m2=-2; RDM Fig. 7 (m2=0.01) needs 700")
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--production", type=int, default=1000, help="plain-HMC trajectories per chain after burn-in (warm-start study)")
    parser.add_argument("--cycles", type=int, default=500, help="HMC trajectory + MH step cycles per chain (independence study)")
    parser.add_argument("--alone-cycles", type=int, default=5000, help="MH-only cycles per chain (cheap, so more of them for a plain run long enough to measure)")
    parser.add_argument("--fit-chains", type=int, default=64)
    parser.add_argument("--fit-frames", type=int, default=64, help="frames per chain (5 trajectories apart) the Gaussian is fitted to")
    parser.add_argument("--fields", metavar="FIELDS.npy", help="generated fields [n, N, N] for the warm starts (else: drawn from the fitted Gaussian)")
    parser.add_argument("--generation-seconds", type=float, help="wall seconds it took to generate --fields")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", metavar="OUT.json")
    args = parser.parse_args()
    if (args.fields is None) != (args.generation_seconds is None):
        parser.error("--fields and --generation-seconds go together")
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    system = LatticePhi4(L=args.L, N=args.N, m2=args.m2, lam=args.lam, leapfrog_steps=args.leapfrog_steps)

    proposal, fit_seconds, fit_samples = fitted_proposal(system, args.fit_chains, args.fit_frames, rng)
    if args.fields is None:
        start = time.perf_counter()
        fields = proposal.sample(args.chains, rng)
        generation_seconds = time.perf_counter() - start
        source = "fitted_gaussian"
    else:
        fields, generation_seconds, source = np.load(args.fields), args.generation_seconds, args.fields
    warm = warm_start_study(system, fields, generation_seconds, rng, production_trajectories=args.production)
    # One trajectory per cycle: the MH step follows every HMC trajectory.
    per_trajectory = attrs.evolve(system, trajectories_per_frame=1)
    mixed = independence_mh_study(per_trajectory, proposal, rng, n_chains=args.chains, n_cycles=args.cycles)
    alone = independence_mh_study(per_trajectory, proposal, rng, n_chains=args.chains, n_cycles=args.alone_cycles, hmc=False)

    results = {
        "system": attrs.asdict(system),
        "proposal": {**proposal.to_json(), "fit_samples": fit_samples, "fit_seconds": fit_seconds},
        "warm_start_source": source,
        "summary": {
            "warm_burn_in": {name: burn.steps for name, burn in warm.warm.burn_in.items()},
            "plain_burn_in": {name: burn.steps for name, burn in warm.plain.burn_in.items()},
            "mh_acceptance_with_hmc": mixed.proposal.mh_acceptance,
            "mh_acceptance_alone": alone.proposal.mh_acceptance,
            **headline("warm", warm.ratios),
            **headline("mh_hmc", mixed.ratios),
            **headline("mh_alone", alone.ratios),
        },
        "warm_start": warm.to_json(),
        "independence_mh_with_hmc": mixed.to_json(),
        "independence_mh_alone": alone.to_json(),
    }
    emit(results, args.json)


if __name__ == "__main__":
    main()
