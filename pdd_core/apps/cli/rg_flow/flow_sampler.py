"""``pdd rg-flow phi4 --flow-sampler RUN_DIR``: independence Metropolis with the flow a ``--flow`` run trained as an
exact-density proposal, against plain HMC at equal cost (RDM 1.2, 5.4; docs/rg_flows.md, "A cheaper flow proposal")."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pdd_core.apps.cli.rg_flow.output import record_header, save_json
from pdd_core.apps.lattice.flow.proposal import FlowProposal, importance_ess_per_sample
from pdd_core.apps.lattice.flow.training import load_flow
from pdd_core.apps.lattice.independence_mh import independence_mh_study
from pdd_core.errors import ConfigError, PDDError, bad_argument

MH_STREAM = 7  # the Metropolis chains' random stream under --seed, apart from those of --flow


def run_flow_sampler(args: argparse.Namespace, out: Path) -> int:
    """Independence Metropolis with the flow of ``--flow-sampler`` as proposal, against plain HMC at equal cost."""
    flow, system, record = load_flow(args.flow_sampler)
    proposal = FlowProposal(flow)
    rng = np.random.default_rng([args.seed, MH_STREAM])
    started = time.perf_counter()
    draws = proposal.sample(args.flow_samples, rng)
    log_weights = -system.action(draws) - proposal.log_density(draws)
    proposal_seconds = time.perf_counter() - started
    try:
        study = independence_mh_study(system, proposal, rng, n_chains=args.mh_chains, n_cycles=args.mh_cycles, hmc=args.mh_hmc, progress=not args.no_progress)
    except PDDError as error:
        if args.mh_hmc or "zero variance" not in str(error):
            raise
        problem = f"no proposal of the flow was accepted in {args.mh_cycles} cycles (ESS/N of its weights: {importance_ess_per_sample(log_weights):.2g}), so the chain never moved"
        raise bad_argument("--flow-sampler", args.flow_sampler, problem, "mix in HMC (--mh-hmc) or train the flow longer", kind=ConfigError) from None
    result = {
        **record_header("pdd rg-flow --flow-sampler", args, system, system.grid),
        "flow_run": str(Path(args.flow_sampler).resolve()),
        "objective": record["objective"],
        "ess_per_sample": importance_ess_per_sample(log_weights),
        "ess_samples": int(len(draws)),
        "proposal_seconds_per_sample": proposal_seconds / len(draws),
        "acceptance": study.proposal.to_json().get("mh_acceptance"),
        "study": study.to_json(),
    }
    save_json(out / "mh.json", result)
    print(f"flow proposal ({record['objective']}): ESS/N = {result['ess_per_sample']:.3g} over {len(draws)} samples, MH acceptance {result['acceptance']}")
    print(f"effective samples per second, flow chain over plain HMC: {study.ratios}")
    print(f"wrote {(out / 'mh.json').resolve()}")
    return 0
