"""The cost of one flow proposal with its density against one HMC trajectory of the same lattice, with and without the fused stage.

For each lattice side L and RK4 step count: milliseconds per proposal of the sample map as shipped
(:class:`~pdd_core.apps.lattice.flow.stage_velocity.StageVelocity` at every stage, draws pushed in
cache-sized chunks) and of the same RK4 map evaluating the trained module
(:class:`~pdd_core.apps.lattice.flow.velocity.LatticeVelocity`) on the whole batch at once, as the
map did before the fused stage; both float32 with a float64 density, and the ratio of each to an
HMC trajectory (h = 0.15, 100 leapfrog steps; numba) timed before and after in the same process.
The flow has the benchmark's size (hidden 8, kernel 3) with random weights: the cost does not
depend on training. ``--data-base`` gives it the data base (`pdd rg-flow --flow-base data`) of
random fields instead of RDM's prior. ``--profile`` adds the `torch.profiler` table of both maps (docs/rg_flows.md,
"A cheaper flow proposal").

    python experiments/rg/flow_proposal_cost.py --sides 8 16 32 --steps 4 8
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import argparse
import copy
import json

import numba
import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.flow_vs_hmc import hmc_seconds_per_trajectory
from benchmarks.timing import median_seconds
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.lattice.flow import ContinuousFlow, DataBase, FlowSettings
from pdd_core.apps.lattice.flow.sample_map import SampleMap
from systems.phi4 import LatticePhi4


class ModuleMap(SampleMap):
    """The same RK4 map evaluating the trained module at every stage, the whole batch at once (the map before the fused stage)."""

    def __init__(self, flow: ContinuousFlow, steps: int, precision: str = "float32"):
        super().__init__(flow, steps, precision)
        self.module = copy.deepcopy(self.velocity).to(self.dtype)

    def stage(self, s: float):
        at = torch.tensor([s], dtype=self.dtype)
        return lambda phi: self.module(phi, at)

    @property
    def chunk(self) -> int:
        return 2**31


def random_flow(system: LatticePhi4, seed: int, data_base: bool) -> ContinuousFlow:
    torch.manual_seed(seed)
    scheme = rdm_scheme("carosso", system.grid, 1.0)
    base = DataBase.of_fields(torch.randn(256, *system.grid.shape, dtype=torch.float64), system.grid, scheme) if data_base else None
    flow = ContinuousFlow(system.grid, scheme, FlowSettings(t_max=5.0, steps=8), base=base).double()
    for parameter in flow.velocity.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    return flow


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--steps", type=int, nargs="+", default=[4, 8], help="RK4 steps of the proposal's map")
    parser.add_argument("--batch", type=int, default=256, help="proposals drawn per call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-base", action="store_true", help="the flow on a data base (of random fields) instead of RDM's prior")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    rng, generator, rows = np.random.default_rng(0), torch.Generator().manual_seed(0), []
    for side in args.sides:
        system = LatticePhi4(N=side, L=float(side), m2=-4.0, lam=41.85, trajectories_per_frame=1, step_size=0.15, leapfrog_steps=100)
        flow = random_flow(system, 0, args.data_base)
        trajectory = [hmc_seconds_per_trajectory(system, rng)]
        timed = {}
        for steps in args.steps:
            for name, sample_map in (("module", ModuleMap(flow, steps)), ("fused", SampleMap(flow, steps, "float32"))):
                timed[steps, name] = median_seconds(lambda sample_map=sample_map: sample_map.sample(args.batch, generator), args.repeats) / args.batch
                if args.profile:
                    with profile(activities=[ProfilerActivity.CPU]) as profiler:
                        sample_map.sample(args.batch, generator)
                    print(f"L = {side}, {steps} RK4 steps, {name}:\n" + profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
        trajectory.append(hmc_seconds_per_trajectory(system, rng))
        per_trajectory = float(np.mean(trajectory))
        for steps in args.steps:
            module, fused = timed[steps, "module"], timed[steps, "fused"]
            rows.append({
                "L": side, "rk4_steps": steps, "hmc_trajectory_ms": [1e3 * value for value in trajectory],
                "module_ms": 1e3 * module, "fused_ms": 1e3 * fused, "module_in_trajectories": module / per_trajectory,
                "fused_in_trajectories": fused / per_trajectory, "speed_up": module / fused,
            })  # fmt: skip
            print(json.dumps(rows[-1]))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"rows": rows, "arguments": vars(args), "threads": 1}, indent=2))


if __name__ == "__main__":
    main()
