"""``pdd rg-flow``: exact forward RG flows of lattice phi^4 samples by scheme (RDM Sec. 7.3, Fig. 6).

Composes the concrete parts: HMC samples of the UV theory from the ``phi4`` system, the
M-modified Carosso (RDM 5.20) and Polchinski (5.41 with 5.42) kernels in the project's
orthonormal site variables, and the estimators of :mod:`pdd_core.apps.lattice`.
"""

from __future__ import annotations

import argparse
import math
import sys
import zlib
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from tqdm import tqdm

from pdd_core.apps.cli.data import parse_setting
from pdd_core.apps.cli.main import COMMANDS
from pdd_core.apps.cli.rg_flow_cnf import add_flow_arguments, check_flow_args, run_flow_sampler, run_flows
from pdd_core.apps.cli.rg_flow_learned import check_learn_args, lattice_sampler_names, run_learned
from pdd_core.apps.cli.rg_flow_options import EXACT, default, resolve_mode
from pdd_core.apps.cli.request_costs import check_exact_flows, check_flows
from pdd_core.apps.cli.rg_flow_output import record_header, save_figure, save_json
from pdd_core.apps.datasets.generation import burn_in_frames, configure_system
from pdd_core.apps.lattice import Bootstrap, Jackknife, compare_flows, flow_estimators, iter_flow, mean_estimate, rdm_fourier
from pdd_core.apps.lattice.flow.cnf import FlowSettings
from pdd_core.apps.lattice.flow.training import FlowTraining
from pdd_core.apps.lattice.plots import comparison_figure, fields_figure, flow_figure, snapshot_times
from pdd_core.apps.lattice.rg_flow import check_times
from pdd_core.config import tagged, to_dict
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.files import locked_directory
from pdd_core.grid import Grid
from pdd_core.metrics.resampling import Resampler, estimate_all
from pdd_core.registry import SCHEMES, SYSTEMS
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
  pdd rg-flow phi4 --flow-sampler runs/rdm_flows/rdm --mh-hmc --out runs/rdm_mh
"""

# The schemes flowed without --scheme, alone and with --compare.
DEFAULT_SCHEMES: tuple[str, ...] = ("carosso",)
COMPARED_SCHEMES: tuple[str, ...] = ("carosso", "polchinski")
# Fixed per-scheme stream ids, so a scheme's flow depends on --seed only, not on which others run;
# any other registered scheme takes a stream from its name (scheme_stream).
SCHEME_STREAMS: dict[str, int] = {"carosso": 1, "polchinski": 2}
DEFAULT_TS: tuple[float, ...] = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 0.6, 1.0, 2.0)
HMC_CHUNKS = 20


def lattice_scheme_names() -> list[str]:
    """The registered schemes that state an RDM lattice kernel (a classmethod ``rdm_lattice(spacing, ndim, mass)``)."""
    return [name for name in SCHEMES.names() if callable(getattr(SCHEMES.get(name), "rdm_lattice", None))]


def rdm_scheme(name: str, grid: Grid, mass: float) -> Any:
    """The registered scheme ``name`` as RDM's M-modified kernel in orthonormal site variables, with a = L/N the lattice spacing
    (e.g. :meth:`schemes.carosso.Carosso.rdm_lattice`, RDM 5.20; :meth:`schemes.polchinski.Polchinski.rdm_lattice`, 5.41-5.42)."""
    check_lattice_scheme(name)
    return SCHEMES.get(name).rdm_lattice(grid.spacing[0], grid.ndim, mass)


def check_lattice_scheme(name: str) -> None:
    if name not in lattice_scheme_names():
        raise bad_argument("--scheme", name, "not a registered scheme with an RDM lattice kernel (rdm_lattice)", f"use one of {lattice_scheme_names()}", kind=ConfigError)


def scheme_stream(name: str) -> int:
    """The random stream of a scheme's flow under --seed: fixed for the built-in ones, from the name's CRC-32 for the others."""
    return SCHEME_STREAMS.get(name, zlib.crc32(name.encode()))


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
    learn = parser.add_argument_group("learned inverse RG (--learn; RDM 5.23-5.25, Figs. 7-8)")
    learn.add_argument("--learn", action="store_true", help="train a denoising model of the Carosso flow and compare its flow with the exact one")
    learn.add_argument("--train-steps", type=int, metavar="S", help=f"training steps of the lattice model (default: {default('train_steps')}, as RDM)")
    learn.add_argument("--zero-mode-train-steps", type=int, metavar="S", help=f"training steps of the zero-mode model (default: {default('zero_mode_train_steps')})")
    learn.add_argument("--batch-size", type=int, metavar="B", help=f"training batch size (default: {default('batch_size')})")
    learn.add_argument("--lr", type=float, help=f"Adam learning rate (default: {default('lr'):g})")
    learn.add_argument("--preset", choices=("tiny", "small"), help=f"U-Net size preset (default: {default('preset')})")
    learn.add_argument("--n-learned", type=int, metavar="N", help=f"reverse-SDE samples of the learned flow (default: {default('n_learned')})")
    learn.add_argument("--sampler", choices=lattice_sampler_names(), help=f"a registered λ-sampler of the reverse SDE (default: {default('sampler')}, PDD Eq. 66)")
    learn.add_argument("--stiffness", type=float, metavar="Z", help=f"κ_max Δt of the lattice stage (default: {default('stiffness')})")
    learn.add_argument("--zero-mode-sampler-steps", type=int, metavar="S", help=f"reverse-SDE steps of the zero mode over [t_split, t_max] (default: {default('zero_mode_sampler_steps')})")
    learn.add_argument("--split-tolerance", type=float, metavar="R", help=f"data left in non-zero modes at t_split, in noise units (default: {default('split_tolerance')})")
    learn.add_argument("--prior-tolerance", type=float, metavar="R", help=f"data left in any mode at t_max, in noise units (default: {default('prior_tolerance')})")
    learn.add_argument("--threads", type=int, metavar="N", help=f"torch threads of --learn, --flow and --flow-sampler (default: {default('threads')})")
    study_help = "also start one HMC chain from each learned t = 0 sample and compare τ_int, burn-in and effective samples with plain HMC at equal cost (RDM 1.2, 5.4)"
    learn.add_argument("--hmc-study", action="store_true", help=study_help)
    learn.add_argument("--hmc-trajectories", type=int, metavar="T", help=f"plain-HMC production trajectories per chain of --hmc-study (default: {default('hmc_trajectories')})")
    add_flow_arguments(parser)


def _schemes(args: argparse.Namespace) -> list[str]:
    names = list(dict.fromkeys(args.scheme or (COMPARED_SCHEMES if args.compare else DEFAULT_SCHEMES)))
    for name in names:  # before any HMC sampling
        check_lattice_scheme(name)
    if args.compare and len(names) < 2:
        raise bad_argument("--scheme", names, "--compare needs two schemes", "pass --compare alone, or --scheme carosso polchinski --compare", kind=ConfigError)
    return names


def _check_args(args: argparse.Namespace) -> None:
    for name, minimum in (("n_samples", 2), ("chains", 1), ("blocks", 2), ("bootstrap_resamples", 2)):
        value = getattr(args, name)
        if value < minimum:
            flag = "--" + name.replace("_", "-")
            raise bad_argument(flag, value, f"must be >= {minimum}", f"pass {flag} {minimum} or more")
    check_positive("--mass", args.mass)


def _system(name: str, settings: dict[str, Any]) -> Any:
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


def uv_observables(samples: np.ndarray, resampler: Resampler) -> dict[str, Any]:
    """⟨|M|⟩ and χ = V (⟨M²⟩ - ⟨|M|⟩²), M = φ̃(0) the lattice mean, V = N^d sites (docs/rg_flows.md)."""
    sites = samples.shape[-1] * samples.shape[-2]
    magnetisation = rdm_fourier(samples)[:, 0, 0].real
    primaries = np.stack([np.abs(magnetisation), magnetisation**2], axis=1)
    susceptibility = estimate_all(primaries, lambda means: sites * (means[..., 1] - means[..., 0] ** 2), ("chi",), resampler)["chi"]
    return {"abs_magnetisation": mean_estimate(np.abs(magnetisation), resampler).to_json(), "susceptibility": susceptibility.to_json()}


def _resampler(args: argparse.Namespace) -> Resampler:
    if args.resampling == "bootstrap":
        return Bootstrap(np.random.default_rng([args.seed, 3]), n_resamples=args.bootstrap_resamples, n_blocks=args.blocks)
    return Jackknife(n_blocks=args.blocks)


def _a_priori_rescaling(reference: Any, other: Any, comparison: list) -> dict[str, Any]:
    """The a-priori c_t of schemes with a field rescaling (RDM 5.50; ``field_rescaling(t)``, 1 without), other over
    reference, beside the sample-based c(t) of 5.55: empty when neither scheme rescales."""
    if not any(hasattr(scheme, "field_rescaling") for scheme in (reference, other)):
        return {}

    def rescaling(scheme: Any, t: float) -> float:
        return scheme.field_rescaling(t) if hasattr(scheme, "field_rescaling") else 1.0

    ts = [point.t for point in comparison]
    return {"ts": ts, "a_priori_c": [rescaling(other, t) / rescaling(reference, t) for t in ts]}


def _summary_line(point: Any) -> str:
    def show(name: str) -> str:
        estimate = point.estimates[name]
        return f"{estimate.value:.4g}±{estimate.error:.2g}" if math.isfinite(estimate.value) else "undefined"

    columns = f"m_R={show('m_R'):<20} Z={show('Z'):<20} r_t²λ_R={show('r2_lambda_R'):<20} max|φ|={show('max_abs_phi')}"
    return f"  t={point.t:<8g} r_t={point.cutoff.ratio:<8.3g} {columns}"


def run(args: argparse.Namespace) -> int:
    mode = resolve_mode(args)
    _check_args(args)
    check_flow_args(args)
    if mode != EXACT:
        torch.set_num_threads(args.threads)
    if args.learn:
        check_learn_args(args)
    if args.flow_sampler:
        with locked_directory(args.out) as out:
            return run_flow_sampler(args, out)
    names = ["carosso"] if args.learn or args.flow else _schemes(args)
    ts = check_times(args.ts if args.ts is not None else DEFAULT_TS)
    snapshots = check_times(args.snapshot_ts) if args.snapshot_ts is not None else snapshot_times(ts)
    ts = check_times([*ts, *snapshots])
    settings = dict(parse_setting(text) for text in args.set)
    system = _system(args.system, settings)
    grid = system.grid
    schemes = {name: rdm_scheme(name, grid, args.mass) for name in names}
    if args.flow:
        check_flows(grid, args.n_samples, FlowTraining().batch_size, attrs.fields(FlowSettings).hidden.default, args.flow_ode_steps, args.flow_samples, len(ts))
    else:
        check_exact_flows(grid, args.n_samples, len(ts), len(schemes))
    with locked_directory(args.out) as out:
        return _run(args, names, ts, snapshots, settings, system, schemes, out)


def _run(args: argparse.Namespace, names, ts, snapshots, settings, system, schemes, out: Path) -> int:
    grid = system.grid
    progress = not args.no_progress
    resampler = _resampler(args)

    samples, hmc = sample_uv(system, args.n_samples, args.chains, np.random.default_rng([args.seed, 0]), progress)
    if args.learn:
        return run_learned(args, system, schemes["carosso"], ts, snapshots, samples, hmc, resampler, out)
    if args.flow:
        return run_flows(args, system, schemes["carosso"], ts, samples, hmc, resampler, out)
    flows, estimators = {}, {}
    for name, scheme in schemes.items():
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([args.seed, scheme_stream(name)]).generate_state(1)[0]))
        flow = iter_flow(samples, scheme, grid, ts, generator)
        flows[name] = dict(tqdm(flow, total=len(ts), desc=f"flow {name}", unit="t", file=sys.stderr, disable=not progress))
        estimators[name] = flow_estimators(flows[name], grid, args.mass, resampler)
    comparison = compare_flows(flows[names[0]], flows[names[1]], grid, args.mass, resampler) if args.compare else None

    record = {
        **record_header("pdd rg-flow", args, system, grid),
        "n_samples": int(samples.shape[0]),
        "hmc": hmc,
        "uv_observables": uv_observables(samples, resampler),
        "resampling": resampler.describe(),
        "mass_M": args.mass,
        "ts": ts,
        "conventions": "RDM Fourier normalisation phi~(p) = N^-d sum_n exp(-2 pi i p.n/N) phi(n) (5.11); formulas and conversions in docs/rg_flows.md",
        "schemes": {
            name: {
                "config": tagged(scheme, SCHEMES),
                "rdm_kernel": getattr(scheme, "rdm_kernel", None),
                "flow": [point.to_json() for point in estimators[name]],
            }
            for name, scheme in schemes.items()
        },
    }
    if comparison is not None:
        record["comparison"] = {"reference": names[0], "other": names[1], "equations": "RDM 5.54-5.55", "points": [point.to_json() for point in comparison]}
        record["comparison"].update(_a_priori_rescaling(schemes[names[0]], schemes[names[1]], comparison))
    save_json(out / "flows.json", record)
    theory = f"phi4 L={system.L:g} N={system.N} m²={system.m2:g} λ={system.lam:g}, M={args.mass:g}, {samples.shape[0]} samples"
    save_figure(out / "flows.png", flow_figure(estimators, f"RG flows of {theory}"))
    first_sample = {name: {t: flows[name][t][0] for t in snapshots} for name in names}
    save_figure(out / "fields.png", fields_figure(first_sample, snapshots, f"sample 0 along the flows ({theory})"))
    if comparison is not None:
        title = f"{names[1]} rescaled onto {names[0]} (RDM 5.54-5.55), {theory}"
        save_figure(out / "comparison.png", comparison_figure(comparison, names[0], names[1], title))

    print(f"HMC: {samples.shape[0]} samples, acceptance {hmc['acceptance_rate']:.3f}; ⟨|M|⟩ = {record['uv_observables']['abs_magnetisation']['value']:.5g}")
    for name in names:
        print(f"{name} (RDM {record['schemes'][name]['rdm_kernel']}):")
        for point in estimators[name]:
            print(_summary_line(point))
    if comparison is not None:
        values = ", ".join(f"t={point.t:g}: {point.c.value:.4g}±{point.c.error:.2g}" for point in comparison)
        print(f"rescaling c(t) of {names[1]} onto {names[0]} (RDM 5.55): {values}")
        if "a_priori_c" in record["comparison"]:
            print(f"a-priori c_t of {names[1]} over {names[0]} (RDM 5.50): " + ", ".join(f"t={t:g}: {c:.4g}" for t, c in zip(record["comparison"]["ts"], record["comparison"]["a_priori_c"])))
    print(f"wrote {(out / 'flows.json').resolve()} and the plots in {out.resolve()}")
    return 0


COMMANDS["rg-flow"] = (HELP, add_arguments, run)
