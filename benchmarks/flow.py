"""Cost of RDM's lattice flow: one training step of each objective and one Metropolis
proposal, as multiples of one (float32) velocity evaluation measured in the same run (the reference;
the proposals are FlowProposal's: float32 map, float64 density, one solve).

A training step integrates the flow with RK4 (4 velocity evaluations per step) forward and back
through autograd; 5.22 adds a second solve for the data term. The ratios show how far the cost is
from the ideal 4 x steps x (1 + backward) evaluations, i.e. how much is per-call overhead.

    python benchmarks/flow.py --n 20 --ode-steps 8 16 --json OUT.json
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse

import numpy as np
import torch

from benchmarks.output import emit
from benchmarks.timing import median_seconds
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice.flow import ContinuousFlow, FlowProposal, FlowSettings, RDMObjective, ReverseKL
from systems.phi4 import LatticePhi4


def measure(n: int, ode_steps: int, batch: int, repeats: int) -> dict:
    system = LatticePhi4(N=n)
    torch.manual_seed(0)
    flow = ContinuousFlow(system.grid, rdm_scheme("carosso", system.grid, 1.0), FlowSettings(t_max=7.4, steps=ode_steps), field_scale=5.0)
    data = 5.0 * torch.randn(256, n, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    phi, s = torch.randn(batch, n, n), torch.full((batch,), flow.s_min)
    reference = median_seconds(lambda: flow.velocity(phi, s), repeats)
    row = {"n": n, "ode_steps": ode_steps, "batch": batch, "velocity_evaluation_seconds": reference}
    for objective in (ReverseKL(), RDMObjective()):
        def step():
            flow.zero_grad()
            objective.loss(flow, system, data, batch, torch.Generator().manual_seed(2)).backward()
        seconds = median_seconds(step, repeats)
        row[objective.name] = {"seconds_per_step": seconds, "in_velocity_evaluations": seconds / reference}
    proposal = FlowProposal(flow)
    rng = np.random.default_rng(3)
    seconds = median_seconds(lambda: proposal.log_density(proposal.sample(16, rng)), repeats)
    row["mh_cycle_16_proposals"] = {"seconds": seconds, "in_velocity_evaluations": seconds / reference}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--ode-steps", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    emit({"flow": [measure(args.n, steps, args.batch, args.repeats) for steps in args.ode_steps], "threads": 1}, args.json)


if __name__ == "__main__":
    main()
