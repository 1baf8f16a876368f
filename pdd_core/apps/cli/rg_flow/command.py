"""``pdd rg-flow``: its arguments and the choice of study.

The command samples the UV theory by HMC (:mod:`~pdd_core.apps.cli.rg_flow.uv_samples`) and runs one study on it, each in
its own module: the exact flows by scheme (:mod:`~pdd_core.apps.cli.rg_flow.exact`, the default), the learned inverse RG
(``--learn``, :mod:`~pdd_core.apps.cli.rg_flow.learned`) or the normalizing flows (``--flow``,
:mod:`~pdd_core.apps.cli.rg_flow.flows`); ``--flow-sampler`` instead samples with a trained flow
(:mod:`~pdd_core.apps.cli.rg_flow.flow_sampler`). :mod:`~pdd_core.apps.cli.rg_flow.options` says which options each study
reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from pdd_core.apps.cli.data import parse_setting
from pdd_core.apps.cli.main import COMMANDS
from pdd_core.apps.cli.request_costs import check_exact_flows, check_flows
from pdd_core.apps.cli.rg_flow.exact import chosen_schemes, run_exact
from pdd_core.apps.cli.rg_flow.flow_sampler import run_flow_sampler
from pdd_core.apps.cli.rg_flow.flows import add_flow_arguments, check_flow_args, run_flows
from pdd_core.apps.cli.rg_flow.lattice_schemes import check_scheme_flows, lattice_scheme_names, rdm_scheme
from pdd_core.apps.cli.rg_flow.learned import add_learn_arguments, check_learn_args, run_learned
from pdd_core.apps.cli.rg_flow.options import EXACT, FLOW, LEARN, SAMPLER, default, resolve_mode
from pdd_core.apps.cli.rg_flow.uv_samples import lattice_system, sample_uv
from pdd_core.apps.lattice import Bootstrap, Jackknife
from pdd_core.apps.lattice.flow.cnf import FlowSettings
from pdd_core.apps.lattice.flow.training import FlowTraining
from pdd_core.apps.lattice.plots import snapshot_times
from pdd_core.apps.lattice.rg_flow import check_times
from pdd_core.errors import bad_argument
from pdd_core.files import locked_directory
from pdd_core.metrics.resampling import Resampler
from pdd_core.validation import check_positive

HELP = "flow lattice phi^4 samples with RG schemes and measure m_R, Z, λ_R, max|φ| along the flow (RDM Fig. 6)"

EPILOG = """\
Draws --n-samples HMC samples of the UV theory (the phi4 system: RDM 7.2, defaults L=1,
N=20, m2=-2, lam=0.0017; --set changes them), thermalised once per chain and taken
chain-major, flows every sample along one exact stochastic path of each scheme through the
times --ts (M-modified kernels, mass --mass = M of RDM 7.1), and estimates RDM 7.3-7.11
at every t with blocked-jackknife (or bootstrap) errors. With two schemes and --compare it
also fits the rescaling constant c(t) of RDM 5.55 and compares the flows after rescaling
(5.54). Conventions and formulas: docs/rg_flows.md. Progress goes to stderr.

DIR receives flows.json (every number with its settings and errors), flows.png (m_R, Z,
r_t² λ_R, max|φ| against t), fields.png (one sample along each flow) and, with --compare,
comparison.png.

With --learn (RDM 5.23-5.25, Figs. 7-8) it instead trains a denoising score model of the
Carosso flow on the HMC samples (the zero mode alone on [t_split, t_max], the lattice U-Net on
[0, t_split]; docs/rg_flows.md), samples --n-learned paths of the reverse SDE with --sampler,
and compares the estimators of the learned and the exact flow at every t: DIR receives
learned_flow.json (every number, the differences in units of the combined error and relative,
per-estimator summaries), learned_flow.png, learned_fields.png, learned_difference.png and
the trained runs in DIR/model. With --hmc-study it then runs one HMC chain from each learned
t = 0 sample and plain HMC (cold start, configured burn-in) for the same wall time, sampling
included, and adds their τ_int of |M| and S, burn-in and effective samples per cost to
learned_flow.json ("hmc_warm_start").

With --flow {rdm,reverse-kl,both} (RDM 5.5, 5.8, 5.22, Sec. 7.1, Figs. 7-8) it trains a continuous
normalizing flow per objective (same network, base, batch 64, Adam β = (0.8, 0.9), learning
rate decaying by 0.998 per step) on the HMC samples, samples each learned flow along --ts and compares its estimators
with the exact Carosso flow: DIR receives flows.json, flows.png, OBJECTIVE_difference.png and the
resumable runs in DIR/OBJECTIVE. Each flow starts from the exact Carosso flow of the HMC samples'
per-mode power and zero-mode pair, the network learning a correction at lr 0.0005 (--flow-base
data, the default); --flow-base carosso is RDM's base, the Carosso limiting law with the velocity
learnt whole at lr 0.005. docs/rg_flows.md measures both. --flow-sampler RUN_DIR instead runs
independence Metropolis chains with that flow as an exact-density proposal (--mh-hmc mixes in one HMC frame per cycle)
against plain HMC at equal cost and writes DIR/mh.json.

examples:
  pdd rg-flow phi4 --scheme carosso --out runs/rg_carosso
  pdd rg-flow phi4 --compare --n-samples 1024 --seed 1 --out runs/rg_both
  pdd rg-flow phi4 --scheme polchinski --ts 0 0.001 0.01 0.1 1 --set m2=0.01 leapfrog_steps=700 --out runs/rg_pol
  pdd rg-flow phi4 --scheme carosso --resampling bootstrap --blocks 64 --out runs/rg_boot
  pdd rg-flow phi4 --learn --set m2=0.01 leapfrog_steps=700 trajectories_per_frame=2 --train-steps 1000 --out runs/rg_learned
  pdd rg-flow phi4 --flow both --flow-steps 1000 --out runs/rdm_flows
  pdd rg-flow phi4 --flow both --flow-base carosso --flow-steps 1000 --out runs/rdm_flows_paper_base
  pdd rg-flow phi4 --scheme carosso carosso-rescaled --compare --out runs/rg_rescaled
  pdd rg-flow phi4 --scheme carosso-rescaled carosso-dilated --compare --ts 0 0.001 0.01 0.1 0.6 --out runs/rg_dilated
  pdd rg-flow phi4 --flow-sampler runs/rdm_flows/rdm --mh-hmc --out runs/rdm_mh
"""

DEFAULT_TS: tuple[float, ...] = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 0.6, 1.0, 2.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("system", metavar="SYSTEM", help="lattice system sampled by HMC (phi4)")
    schemes_help = f"RG schemes to flow with, from the SCHEMES registry: {', '.join(lattice_scheme_names())} (default: carosso; with --compare: carosso polchinski)"
    parser.add_argument("--scheme", nargs="+", metavar="NAME", help=schemes_help)
    parser.add_argument("--compare", action="store_true", help="compare the first two schemes after rescaling by c(t) (RDM 5.53-5.55)")
    set_help = "override system parameters (values are JSON literals), e.g. m2=0.01 N=16"
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help=set_help)
    parser.add_argument("--n-samples", type=int, metavar="N", help=f"number of UV samples (default: {default('n_samples')})")
    parser.add_argument("--chains", type=int, metavar="C", help=f"independent HMC chains (default: {default('chains')})")
    parser.add_argument("--ts", nargs="+", type=float, metavar="T", help=f"flow times (default: {' '.join(f'{t:g}' for t in DEFAULT_TS)})")
    parser.add_argument("--snapshot-ts", nargs="+", type=float, metavar="T", help="flow times of the sample panels in fields.png (default: up to 6 of --ts)")
    parser.add_argument("--mass", type=float, metavar="M", help=f"mass M of the M-modified kernels, RDM 7.1 (default: {default('mass'):g})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the HMC chains, the flows' noise and the bootstrap (default: 0)")
    parser.add_argument("--resampling", choices=("jackknife", "bootstrap"), help=f"error estimate (default: {default('resampling')})")
    parser.add_argument("--blocks", type=int, metavar="B", help=f"contiguous blocks for the jackknife/bootstrap (default: {default('blocks')})")
    parser.add_argument("--bootstrap-resamples", type=int, metavar="R", help=f"bootstrap resamples, with --resampling bootstrap (default: {default('bootstrap_resamples')})")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
    add_learn_arguments(parser)
    add_flow_arguments(parser)


def _check_args(args: argparse.Namespace) -> None:
    for name, minimum in (("n_samples", 2), ("chains", 1), ("blocks", 2), ("bootstrap_resamples", 2)):
        value = getattr(args, name)
        if value < minimum:
            flag = "--" + name.replace("_", "-")
            raise bad_argument(flag, value, f"must be >= {minimum}", f"pass {flag} {minimum} or more")
    check_positive("--mass", args.mass)


def _resampler(args: argparse.Namespace) -> Resampler:
    if args.resampling == "bootstrap":
        return Bootstrap(np.random.default_rng([args.seed, 3]), n_resamples=args.bootstrap_resamples, n_blocks=args.blocks)
    return Jackknife(n_blocks=args.blocks)


def run(args: argparse.Namespace) -> int:
    """Check every option of the chosen study before any work, then run it in the locked output directory."""
    mode = resolve_mode(args)
    _check_args(args)
    check_flow_args(args)
    if mode != EXACT:
        torch.set_num_threads(args.threads)
    if mode == LEARN:
        check_learn_args(args)
    if mode == SAMPLER:
        with locked_directory(args.out) as out:
            return run_flow_sampler(args, out)
    names = ["carosso"] if mode in (LEARN, FLOW) else chosen_schemes(args)
    ts = check_times(args.ts if args.ts is not None else DEFAULT_TS)
    snapshots = check_times(args.snapshot_ts) if args.snapshot_ts is not None else snapshot_times(ts)
    ts = check_times([*ts, *snapshots])
    settings = dict(parse_setting(text) for text in args.set)
    system = lattice_system(args.system, settings)
    grid = system.grid
    schemes = {name: rdm_scheme(name, grid, args.mass) for name in names}
    if mode == FLOW:
        check_flows(grid, args.n_samples, FlowTraining().batch_size, attrs.fields(FlowSettings).hidden.default, args.flow_ode_steps, args.flow_samples, len(ts))
    else:
        check_scheme_flows(schemes, grid, ts)
        check_exact_flows(grid, args.n_samples, len(ts), len(schemes))
    with locked_directory(args.out) as out:
        return _run(args, mode, names, ts, snapshots, system, schemes, out)


def _run(args: argparse.Namespace, mode: str, names: list[str], ts: list[float], snapshots: list[float], system: Any, schemes: dict[str, Any], out: Path) -> int:
    """Sample the UV theory by HMC, then run the study of ``mode`` on the samples."""
    resampler = _resampler(args)
    samples, hmc = sample_uv(system, args.n_samples, args.chains, np.random.default_rng([args.seed, 0]), not args.no_progress)
    if mode == LEARN:
        return run_learned(args, system, schemes["carosso"], ts, snapshots, samples, hmc, resampler, out)
    if mode == FLOW:
        return run_flows(args, system, schemes["carosso"], ts, samples, hmc, resampler, out)
    return run_exact(args, names, ts, snapshots, system, schemes, samples, hmc, resampler, out)


COMMANDS["rg-flow"] = (HELP, add_arguments, run)
