"""``pdd rg-flow phi4 --flow {rdm,reverse-kl,both}``: RDM's normalizing-flow experiment (Sec. 7.1, 7.4, Figs. 7-8),
one continuous flow per objective trained on the HMC samples and compared with the exact Carosso flow. The flows'
options, shared with ``--flow-sampler`` (:mod:`~pdd_core.apps.cli.rg_flow.flow_sampler`), are declared and checked here."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pdd_core.apps.cli.rg_flow.options import default
from pdd_core.apps.cli.rg_flow.output import record_header, save_figure, save_json
from pdd_core.apps.lattice import flow_estimators, flow_samples
from pdd_core.apps.lattice.flow.base import DataBase
from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, FlowSettings, numpy_fields
from pdd_core.apps.lattice.flow.objectives import RDMObjective, ReverseKL
from pdd_core.apps.lattice.flow.training import FlowTraining, train_flow
from pdd_core.apps.lattice.hmc_comparison import MIN_MEASURED
from pdd_core.apps.lattice.inverse_rg import choose_times, compare_learned_flow, difference_figure, summary_lines
from pdd_core.apps.lattice.plots import flow_figure
from pdd_core.config import tagged, to_dict
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.registry import SCHEMES

# --flow: which objectives to train, each with the same network, prior, batch and optimiser (RDM 7.1).
FLOW_OBJECTIVES = {"rdm": (RDMObjective(),), "reverse-kl": (ReverseKL(),), "both": (RDMObjective(), ReverseKL())}
TRUE_FLOW_STREAM, SAMPLING_STREAM = 1, 6
# --flow-base: where each flow starts (docs/rg_flows.md): RDM's Carosso limiting law at T and a velocity learnt whole,
# or the exact Carosso flow of a law fitted to the HMC samples (flow/base.py), the network learning a correction.
FLOW_BASES = {"carosso": lambda data, grid, scheme: None, "data": DataBase.of_fields}
# The default learning rate per base: RDM's 0.005 (7.1) for a velocity learnt whole; ten times less for a correction
# to the data base, whose zero-initialised output layers RDM's rate moves so far in the first Adam step that the
# flow's power at t = 0 dropped by 25 % (docs/rg_flows.md).
BASE_LEARNING_RATES = {"carosso": 5e-3, "data": 5e-4}


def add_flow_arguments(parser: argparse.ArgumentParser) -> None:
    flows = parser.add_argument_group("normalizing flows (--flow, --flow-sampler; RDM 5.5, 5.8, 5.22, Figs. 7-8)")
    flows.add_argument("--flow", choices=tuple(FLOW_OBJECTIVES), help="train a continuous flow with RDM's objective 5.22 (rdm), reverse KL 5.5, or both")
    flows.add_argument("--flow-steps", type=int, metavar="S", help=f"gradient steps of each flow (default: {default('flow_steps')}, RDM 7.1)")
    flows.add_argument("--flow-base", metavar="BASE", help=f"the flows' base: RDM's Carosso limiting law (carosso) or the exact flow of the HMC samples' per-mode power and zero-mode pair (data) (default: {default('flow_base')})")
    flows.add_argument("--flow-lr", type=float, metavar="LR", help="initial learning rate of the flows, decaying by 0.998 per step (default: 0.005 with --flow-base carosso, RDM 7.1; 0.0005 with data)")
    flows.add_argument("--flow-ode-steps", type=int, metavar="K", help=f"RK4 steps over the flow's log-time range (default: {default('flow_ode_steps')})")
    flows.add_argument("--flow-samples", type=int, metavar="N", help=f"samples of each learned flow (--flow) or of the proposal's ESS (--flow-sampler) (default: {default('flow_samples')})")
    flows.add_argument("--flow-sampler", metavar="RUN_DIR", help="run independence Metropolis with the flow of RUN_DIR as proposal against plain HMC")
    flows.add_argument("--mh-chains", type=int, metavar="C", help=f"chains of --flow-sampler (default: {default('mh_chains')})")
    flows.add_argument("--mh-cycles", type=int, metavar="K", help=f"Metropolis cycles per chain of --flow-sampler (default: {default('mh_cycles')})")
    flows.add_argument("--mh-hmc", action="store_true", help="mix one HMC frame into every Metropolis cycle")


def check_flow_args(args: argparse.Namespace) -> None:
    if args.flow and (args.compare or (args.scheme and list(args.scheme) != ["carosso"])):
        raise bad_argument("--flow", args.flow, "the flows are trained on the Carosso flow alone (RDM 5.22)", "drop --compare and --scheme", kind=ConfigError)
    if args.flow_base not in FLOW_BASES:  # checked here, not by argparse, so the error stays one line
        raise bad_argument("--flow-base", args.flow_base, "is not a base of the flows", f"pass one of {', '.join(FLOW_BASES)}", kind=ConfigError)
    if args.flow_lr is not None and not (math.isfinite(args.flow_lr) and args.flow_lr > 0):
        raise bad_argument("--flow-lr", args.flow_lr, "must be a finite number > 0", "pass e.g. --flow-lr 0.001", kind=ConfigError)
    counts = (("--flow-steps", args.flow_steps, 1), ("--flow-ode-steps", args.flow_ode_steps, 2), ("--flow-samples", args.flow_samples, 2))
    counts += (("--mh-chains", args.mh_chains, 2), ("--mh-cycles", args.mh_cycles, MIN_MEASURED))
    for flag, value, minimum in counts:
        if value < minimum:
            raise bad_argument(flag, value, f"must be >= {minimum}", f"pass {flag} >= {minimum}", kind=ConfigError)


def run_flows(args: argparse.Namespace, system: Any, scheme: Any, ts: list[float], samples: np.ndarray, hmc: dict[str, Any], resampler: Any, out: Path) -> int:
    """Train each objective's flow on ``samples``, sample it along ``ts`` and compare with the exact Carosso flow."""
    grid, progress = system.grid, not args.no_progress
    times = choose_times(samples, grid, scheme)
    data = torch.from_numpy(np.asarray(samples, dtype=np.float64).reshape(-1, *grid.shape))
    settings = FlowSettings(t_max=times.t_max, steps=args.flow_ode_steps)
    training = FlowTraining(steps=args.flow_steps, seed=args.seed, lr=BASE_LEARNING_RATES[args.flow_base] if args.flow_lr is None else args.flow_lr)
    flow_ts = [t for t in ts if t <= times.t_max]
    true = flow_samples(samples, scheme, grid, flow_ts, torch.Generator().manual_seed(int(np.random.SeedSequence([args.seed, TRUE_FLOW_STREAM]).generate_state(1)[0])))
    estimators = {"true (exact flow of HMC samples)": flow_estimators(true, grid, args.mass, resampler)}
    results = {}
    base = FLOW_BASES[args.flow_base](data, grid, scheme)
    for objective in FLOW_OBJECTIVES[args.flow]:
        torch.manual_seed(args.seed)  # the same initial network for every objective
        flow = ContinuousFlow(grid, scheme, settings, field_scale=float(data.std()), base=base)
        print(f"training the {objective.name} flow: {training.steps} steps, T = {times.t_max:.3g}", file=sys.stderr)
        trained = train_flow(flow, objective, system, data, training, out / objective.name, progress=progress)
        started = time.perf_counter()
        learned = _sample_flow(trained.flow, args.flow_samples, flow_ts, args.seed)
        sampling_seconds = time.perf_counter() - started
        points = flow_estimators(learned, grid, args.mass, resampler)
        estimators[f"{objective.name} flow"] = points
        comparison = compare_learned_flow(points, estimators["true (exact flow of HMC samples)"])
        results[objective.name] = {
            "training": {**to_dict(training), "final_loss": trained.loss, "seconds": trained.seconds, "run_dir": str((out / objective.name).resolve())},
            "sampling_seconds": sampling_seconds,
            "learned_flow": [point.to_json() for point in points],
            "comparison": comparison,
        }
    record = {
        **record_header("pdd rg-flow --flow", args, system, grid),
        "scheme": tagged(scheme, SCHEMES),
        "mass_M": args.mass,
        "ts": flow_ts,
        "t_max": times.t_max,
        "flow": to_dict(settings),
        "flow_base": args.flow_base,
        "hmc": hmc,
        "n_train": int(samples.shape[0]),
        "resampling": resampler.describe(),
        "true_flow": [point.to_json() for point in estimators["true (exact flow of HMC samples)"]],
        "objectives": results,
    }
    save_json(out / "flows.json", record)  # the numbers first: a figure that fails cannot lose them
    theory = f"phi4 L={system.L:g} N={system.N} m²={system.m2:g} λ={system.lam:g}"
    for name, result in results.items():
        save_figure(out / f"{name}_difference.png", difference_figure(result["comparison"], f"{name} flow − exact, {theory}"))
    save_figure(out / "flows.png", flow_figure(estimators, f"learned flows vs the exact Carosso flow, phi4 m²={system.m2:g}"))
    for name, result in results.items():
        print(f"{name} flow vs exact Carosso flow (RDM 5.20), value±error, difference in combined σ:")
        print("\n".join(summary_lines(result["comparison"])))
    print(f"wrote {(out / 'flows.json').resolve()} and the plots in {out.resolve()}")
    return 0


def _sample_flow(flow: ContinuousFlow, n: int, ts: list[float], seed: int, batch: int = 128) -> dict[float, np.ndarray]:
    """``n`` samples of p^θ_t at every t of ``ts``, float64, ``{t: [n, 1, N, N]}`` as the estimators take them."""
    flow = flow.double().eval()
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, SAMPLING_STREAM]).generate_state(1)[0]))
    parts: dict[float, list[np.ndarray]] = {t: [] for t in ts}
    with torch.no_grad():
        for start in range(0, n, batch):
            recorded, _ = flow.sample(min(batch, n - start), generator, ts=ts)
            for t in ts:
                parts[t].append(numpy_fields(recorded[t])[:, None])
    return {t: np.concatenate(parts[t]) for t in ts}


__all__ = ["FLOW_OBJECTIVES", "add_flow_arguments", "check_flow_args", "run_flows"]
