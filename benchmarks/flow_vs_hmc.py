"""Where a flow sampler pays: independence Metropolis with a trained lattice flow against plain HMC.

For every lattice side L and m² (λ fixed; lattice units, L = N): plain HMC's τ_int of |M| and S,
a flow trained with reverse KL (RDM 5.5; no data needed) and its training seconds, the cost of one
proposal with its density against one HMC trajectory of the same lattice (a float64 sample + second
solve at batch 16, the proposal's first recipe, beside the cheap map), and for each RK4 step count of the proposal's map
the independence-MH chain against plain HMC at equal wall time
(:func:`pdd_core.apps.lattice.independence_mh.independence_mh_study`): ESS/N of the importance
weights, acceptance, effective samples of |M| and S per CPU-second and per trajectory equivalent.
Training is reported apart; ``break_even_effective_samples`` is how many effective |M| samples a
run must want before the flow's training is paid back (null where the flow chain is not faster).

    python benchmarks/flow_vs_hmc.py --sides 8 16 --m2 -4 -5 -5.5 --json OUT.json
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import tempfile
import time

import numba
import numpy as np
import torch

from benchmarks.output import emit
from benchmarks.timing import median_seconds
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice.flow import ContinuousFlow, FlowProposal, FlowSettings, FlowTraining, ReverseKL, importance_ess_per_sample, train_flow
from pdd_core.apps.lattice.flow.sample_map import SampleMap
from pdd_core.apps.lattice.hmc_comparison import timed_hmc
from pdd_core.apps.lattice.independence_mh import independence_mh_study
from systems.phi4 import LatticePhi4

T_MAX = 5.0  # RG time of the prior: every mode of these short-ξ theories has forgotten its start well before


def hmc_seconds_per_trajectory(system: LatticePhi4, rng: np.random.Generator, chains: int = 16, trajectories: int = 50) -> float:
    """Wall seconds of one HMC trajectory of one chain, after a thermalisation of the same length."""
    state = timed_hmc(system, np.asarray(system.initial_state(chains, rng), dtype=np.float64)[:, 0], trajectories, rng).state
    run = timed_hmc(system, state, trajectories, rng)
    return run.seconds / (chains * run.series["action"].shape[1])


def proposal_costs(flow: ContinuousFlow, steps: int, batch: int, repeats: int) -> dict[str, float]:
    """Seconds per proposal with its density: the cheap map (float32, one solve, ``batch`` at a time) and a float64 sample + second solve at batch 16."""
    generator = torch.Generator().manual_seed(0)
    cheap = SampleMap(flow, steps, "float32")
    exact = SampleMap(flow, steps, "float64")

    def former():
        with torch.no_grad():
            fields, _ = exact.sample(16, generator)
            exact.log_density(fields)

    return {
        "cheap_seconds": median_seconds(lambda: cheap.sample(batch, generator), repeats) / batch,
        "float64_two_solves_batch16_seconds": median_seconds(former, repeats) / 16,
    }


def case(side: int, m2: float, args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """One (L, m²): training, proposal cost and one MH study per proposal step count."""
    system = LatticePhi4(N=side, L=float(side), m2=m2, lam=args.lam, trajectories_per_frame=1, step_size=args.step_size, leapfrog_steps=round(args.trajectory_length / args.step_size))
    trajectory_seconds = hmc_seconds_per_trajectory(system, rng)
    torch.manual_seed(args.seed)
    flow = ContinuousFlow(system.grid, rdm_scheme("carosso", system.grid, 1.0), FlowSettings(t_max=T_MAX, steps=args.train_ode_steps))
    with tempfile.TemporaryDirectory() as run_dir:
        trained = train_flow(flow, ReverseKL(), system, None, FlowTraining(steps=args.train_steps, seed=args.seed, checkpoint_every=args.train_steps), run_dir, progress=False)
    flow = trained.flow.double().eval()
    row = {
        "L": side, "m2": m2, "lam": args.lam, "hmc": {"step_size": system.step_size, "leapfrog_steps": system.leapfrog_steps, "seconds_per_trajectory": trajectory_seconds},
        "training": {"steps": args.train_steps, "ode_steps": args.train_ode_steps, "seconds": trained.seconds, "final_loss": trained.loss, "in_trajectories": trained.seconds / trajectory_seconds},
        "proposals": {},
    }  # fmt: skip
    for steps in args.proposal_steps:
        costs = proposal_costs(flow, steps, args.batch, args.repeats)
        proposal = FlowProposal(flow, batch=args.batch, steps=steps)
        draws, log_density = proposal.sample_with_log_density(args.ess_samples, rng)
        study = independence_mh_study(system, proposal, rng, n_chains=args.chains, n_cycles=args.cycles, hmc=False, burn_in_trajectories=args.burn_in)
        flow_rate = study.proposal.observables["abs_magnetisation"].per_second
        plain_rate = study.plain.observables["abs_magnetisation"].per_second
        row["proposals"][str(steps)] = {
            **costs,
            "cheap_in_trajectories": costs["cheap_seconds"] / trajectory_seconds,
            "former_in_trajectories": costs["float64_two_solves_batch16_seconds"] / trajectory_seconds,
            "ess_per_sample": importance_ess_per_sample(-system.action(draws) - log_density),
            "mh_acceptance": study.proposal.mh_acceptance,
            "break_even_effective_samples": break_even(trained.seconds, flow_rate, plain_rate),
            "study": study.to_json(),
        }
    return row


def break_even(training_seconds: float, flow_rate: float, plain_rate: float) -> float | None:
    """Effective samples n at which training + n / flow_rate = n / plain_rate; None if the flow chain is not faster."""
    saving = 1.0 / plain_rate - 1.0 / flow_rate if flow_rate > 0 and plain_rate > 0 else 0.0
    return training_seconds / saving if saving > 0 else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--m2", type=float, nargs="+", default=[-4.0, -5.0, -5.5], help="toward the critical point (m² ≈ -5.5 to -6 at λ = 41.85, L = 16)")
    parser.add_argument("--lam", type=float, default=41.85, help="Albergo et al.'s λ = 6.975 in this convention")
    parser.add_argument("--step-size", type=float, default=0.15)
    parser.add_argument("--trajectory-length", type=float, default=15.0)
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--train-ode-steps", type=int, default=8)
    parser.add_argument("--proposal-steps", type=int, nargs="+", default=[8, 4])
    parser.add_argument("--batch", type=int, default=256, help="proposals per solve")
    parser.add_argument("--ess-samples", type=int, default=512)
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--burn-in", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    rows = []
    for side in args.sides:
        for m2 in args.m2:
            rows.append(case(side, m2, args, rng))
            # Written after every case, so a run stopped by a time limit keeps what it finished.
            record = {"cases": rows, "arguments": vars(args), "threads": 1, "seconds": time.perf_counter() - started}
            if args.json:
                emit(record, args.json)
    emit(record, None)


if __name__ == "__main__":
    main()
