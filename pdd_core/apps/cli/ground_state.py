"""``pdd ground-state {free,anharmonic,chain}``: variational ground states by reverse exact RG (RDM Sec. 6.3).

Trains the flow state of :mod:`pdd_core.apps.lattice.ground_state` on the energy 6.13, estimates
its energy with the exact Laplacian, and compares it with the exact (free theory) or reference
(exact diagonalisation) ground energy; docs/rg_flows.md has the equations and the measured table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import attrs
import numpy as np
import torch

from pdd_core.apps.cli.data import parse_setting
from pdd_core.apps.cli.main import COMMANDS
from pdd_core.apps.cli.request_costs import check_ground_state, check_ground_state_lattice
from pdd_core.apps.cli.rg_flow.output import save_figure, save_json
from pdd_core.apps.lattice.flow.training import LOG_NAME, FlowTraining, train_flow
from pdd_core.apps.lattice.ground_state.energy import EXACT_LAPLACIAN_SITES, estimate_energy
from pdd_core.apps.lattice.ground_state.hamiltonian import LatticeHamiltonian, free_mode_test, two_point
from pdd_core.apps.lattice.ground_state.objective import StateSettings, VariationalEnergy, ground_state_flow
from pdd_core.apps.lattice.ground_state.plots import convergence_figure
from pdd_core.apps.lattice.ground_state.reconfiguration import Reconfiguration
from pdd_core.apps.lattice.ground_state.reference import MAX_STATES, chain_energy, single_site_energy
from pdd_core.apps.lattice.ground_state.rg_path import RG_TIMES, free_rg_path
from pdd_core.config import to_dict
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.files import locked_directory
from pdd_core.version import __version__

HELP = "learn the ground state of a lattice QFT by reverse exact RG and compare its energy with the exact one (RDM Sec. 6.3)"

# The three ground-truth cases: their Hamiltonian defaults and which keys --set may change.
CASES: dict[str, dict[str, Any]] = {
    "free": {"d": 2, "N": 8, "L": 8.0, "m2": 1.0, "lam": 0.0, "gradient": 1.0},
    "anharmonic": {"d": 1, "N": 2, "L": 2.0, "m2": 1.0, "lam": 1.0, "gradient": 0.0},
    "chain": {"d": 1, "N": 4, "L": 4.0, "m2": 1.0, "lam": 1.0, "gradient": 1.0},
}
FIXED_KEYS = {"free": {"lam"}, "anharmonic": {"d", "N", "L", "gradient"}, "chain": {"d"}}
STATE_KEYS = {field.name for field in attrs.fields(StateSettings)}
OBJECTIVE_KEYS = {"rg_weight", "sr_shift", "sr_max_norm"}
SR_KEYS = {"sr_shift": "shift", "sr_max_norm": "max_norm"}
# Per optimizer: steps, learning rate (for sr the imaginary-time step τ) and its decay per step; measured in docs/rg_flows.md.
OPTIMIZER_DEFAULTS = {"sr": {"steps": 150, "lr": 0.05, "decay": 1.0}, "adam": {"steps": 600, "lr": 5e-3, "decay": 0.998}}
DEFAULT_REFERENCE_STATES = 5e5  # ~30 s of Lanczos here
SAMPLING_STREAM, RG_PATH_STREAM = 3, 4  # random streams of the energy's samples and of the RG path's

EPILOG = """\
cases (H = ε^d (-½Δ + F), F = Σ_n ½κ(∇φ)² + ½m²φ² + λφ⁴, κ = gradient/ε², ε = L/N; RDM 6.3, 6.9):
  free        λ = 0 on an N^d lattice (default d=2, N=8, L=8, m2=1): exact E₀ = ε^d Σ_p ω_p/2 and
              the exact two-point function
  anharmonic  the single-site oscillator -½∂² + ½m²x² + λx⁴ (default m2=1, lam=1), run as two
              decoupled sites (the smallest periodic lattice; E = 2 E₀ per state, reported per
              site too); reference: finite differences on a fine grid (scipy)
  chain       d = 1, N sites (default N=4, L=4, m2=1, lam=1); reference: exact diagonalisation
              in --reference-basis oscillator states per site (an upper bound; also two states
              less, the same parity, to show the truncation error: the ground state is even, so an
              added odd state barely moves it and the next even one can move it 20x more); basis^N
              up to 2e6 states fits

--set takes KEY=VALUE for the Hamiltonian (d, N, L, m2, lam, gradient; N without L keeps ε = 1), the variational state
(prior_mass, ode_steps, hidden, kernel) and the loss (rg_weight: weight of RDM's RG term, adam only;
sr_shift: the diagonal shift of stochastic reconfiguration relative to the metric's mean diagonal, default 1e-5;
sr_max_norm: the cap on its step length in the metric, default 2).

DIR receives ground_state.json (energy, energy_stderr, exact or reference energy, relative error,
settings; for free the learned and exact two-point functions, the χ² test of every mode's width and
how far p_t is from the exact RG flow of the ground state, which only rg_weight asks for),
convergence.png (the energy of every training batch against the step, exact line) and
the resumable run in DIR/run (rerunning the command resumes it; other settings are refused).

examples:
  pdd ground-state free --out runs/gs_free
  pdd ground-state free --set d=1 N=8 L=8 --steps 200 --out runs/gs_free1d
  pdd ground-state anharmonic --set lam=0.1 --out runs/gs_anh
  pdd ground-state chain --set N=6 lam=0.5 --reference-basis 8 --out runs/gs_chain
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("case", choices=tuple(CASES), help="which ground-truth Hamiltonian")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help="override Hamiltonian, state or loss settings (see below)")
    parser.add_argument(
        "--optimizer",
        choices=tuple(OPTIMIZER_DEFAULTS),
        default="sr",
        help="sr: stochastic reconfiguration (imaginary time, plain steps of τ = --lr; default), adam: Adam on the energy's VMC gradient",
    )
    parser.add_argument("--steps", type=int, default=None, metavar="S", help="training steps (default: 150 with sr, 600 with adam)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="B", help="samples per training step (default: 64)")
    parser.add_argument("--lr", type=float, default=None, help="step size: sr τ = 0.05 (constant), adam 0.005 (× 0.998^k) by default")
    parser.add_argument("--eval-samples", type=int, default=1024, metavar="N", help="independent samples of the final energy estimate (default: 1024)")
    parser.add_argument("--reference-basis", type=int, default=None, metavar="K", help="chain: oscillator states per site of the reference (default: the largest odd K with K^N <= 5e5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the network, training batches and evaluation samples (default: 0)")
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="torch threads (default: 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (resumes the run found there)")


def _settings(case: str, pairs: list[str], optimizer: str) -> tuple[LatticeHamiltonian, StateSettings, VariationalEnergy]:
    values = dict(parse_setting(text) for text in pairs)
    allowed = (set(CASES[case]) - FIXED_KEYS[case]) | STATE_KEYS | OBJECTIVE_KEYS
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise bad_argument("--set", unknown[0], f"is not a setting of the {case} case", f"use one of {sorted(allowed)}", kind=ConfigError)
    chosen = {key: value for key, value in values.items() if key in CASES[case]}
    if "N" in chosen and "L" not in chosen:
        chosen["L"] = chosen["N"]  # unit spacing unless L is given, so N alone changes the size, not the couplings
    state = StateSettings(**{key: value for key, value in values.items() if key in STATE_KEYS})
    lattice = {**CASES[case], **chosen}
    if isinstance(lattice["N"], int) and lattice["d"] in (1, 2):  # else the Hamiltonian names the bad value
        shape = (lattice["N"],) * lattice["d"]
        check_ground_state_lattice(shape, state.hidden, state.ode_steps, fourier_basis=builds_fourier_basis(case, math.prod(shape)))
    hamiltonian = LatticeHamiltonian(**lattice)
    rg_weight = values.get("rg_weight", 0.0)
    if not isinstance(rg_weight, (int, float)) or not math.isfinite(rg_weight) or rg_weight < 0:
        raise bad_argument("rg_weight", rg_weight, "must be a finite number >= 0", "pass e.g. --set rg_weight=1")
    chosen_sr = {field: values[key] for key, field in SR_KEYS.items() if key in values}
    if chosen_sr and optimizer != "sr":
        key = next(key for key in SR_KEYS if key in values)
        raise bad_argument(key, values[key], "is a setting of stochastic reconfiguration", "drop it, or pass --optimizer sr", kind=ConfigError)
    reconfiguration = Reconfiguration(**chosen_sr) if optimizer == "sr" else None
    return hamiltonian, state, VariationalEnergy(rg_weight=float(rg_weight), reconfiguration=reconfiguration)


def _check_counts(args: argparse.Namespace) -> None:
    defaults = OPTIMIZER_DEFAULTS[args.optimizer]
    args.steps = defaults["steps"] if args.steps is None else args.steps
    args.lr = defaults["lr"] if args.lr is None else args.lr
    for flag, value, minimum in (("--steps", args.steps, 1), ("--batch-size", args.batch_size, 2), ("--eval-samples", args.eval_samples, 2), ("--threads", args.threads, 1)):
        if value < minimum:
            raise bad_argument(flag, value, f"must be >= {minimum}", f"pass {flag} >= {minimum}", kind=ConfigError)
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise bad_argument("--lr", args.lr, "must be finite and > 0", "pass e.g. --lr 0.005", kind=ConfigError)


def builds_fourier_basis(case: str, sites: int) -> bool:
    """Whether the run builds the lattice's sites x sites real Fourier basis: the free case's mode test does, and so does the Hutchinson Laplacian (above EXACT_LAPLACIAN_SITES sites)."""
    return case == "free" or sites > EXACT_LAPLACIAN_SITES


def default_reference_basis(sites: int, budget: float = DEFAULT_REFERENCE_STATES) -> int:
    """The largest odd number of oscillator states per site (complete even levels, where the even ground state lives) with K^N within ``budget``."""
    basis = max(3, int(math.floor(budget ** (1 / sites) + 1e-9)))
    return basis if basis % 2 == 1 else basis - 1


def reference(case: str, hamiltonian: LatticeHamiltonian, basis: int | None) -> dict[str, Any]:
    """The exact or reference ground energy of ``hamiltonian`` and how it was obtained."""
    if case == "free":
        return {"energy": hamiltonian.free_ground_energy(), "kind": "exact (normal modes)"}
    if case == "anharmonic":
        single = single_site_energy(hamiltonian.m2, hamiltonian.lam)
        return {"energy": 2 * single * hamiltonian.volume, "per_site": single, "kind": "finite differences on a fine grid, h -> h/2 Richardson (scipy eigh_tridiagonal)"}
    if basis is None:
        basis = default_reference_basis(hamiltonian.N)
    if basis**hamiltonian.N > MAX_STATES:
        raise bad_argument("--reference-basis", basis, f"{basis}^{hamiltonian.N} states exceed the {MAX_STATES} that fit in memory here", "lower --reference-basis or N", kind=ConfigError)
    started = time.perf_counter()
    best = chain_energy(hamiltonian, basis)
    coarser = chain_energy(hamiltonian, basis - 2) if basis > 3 else None
    return {
        "energy": best.energy,
        "kind": "exact diagonalisation in a truncated oscillator basis (Lanczos; an upper bound)",
        "basis": best.basis,
        "states": best.states,
        "omega": best.omega,
        "energy_two_states_less": coarser.energy if coarser else None,
        "truncation_change": best.energy - coarser.energy if coarser else None,
        "seconds": time.perf_counter() - started,
    }


def run(args: argparse.Namespace) -> int:
    _check_counts(args)
    hamiltonian, state, objective = _settings(args.case, args.set, args.optimizer)
    check_ground_state(hamiltonian.shape, args.batch_size, args.eval_samples, state.hidden, state.ode_steps, free=args.case == "free", fourier_basis=builds_fourier_basis(args.case, hamiltonian.sites))
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    flow = ground_state_flow(hamiltonian, state)
    known = reference(args.case, hamiltonian, args.reference_basis)
    optimizer = "sgd" if args.optimizer == "sr" else "adam"  # an SR step is plain descent on its surrogate
    training = FlowTraining(steps=args.steps, batch_size=args.batch_size, lr=args.lr, decay=OPTIMIZER_DEFAULTS[args.optimizer]["decay"], seed=args.seed, optimizer=optimizer)
    with locked_directory(args.out) as out:
        print(f"training the {args.case} ground state: {hamiltonian.sites} sites, {training.steps} steps", file=sys.stderr)
        trained = train_flow(flow, objective, hamiltonian, None, training, out / "run", progress=not args.no_progress)
        started = time.perf_counter()
        estimate, samples = estimate_energy(trained.flow, hamiltonian, args.eval_samples, _stream(args.seed, SAMPLING_STREAM), progress=not args.no_progress)
        evaluation_seconds = time.perf_counter() - started
        record = _record(args, hamiltonian, state, objective, training, trained, estimate, known, samples, evaluation_seconds)
        save_json(out / "ground_state.json", record)
        history = [json.loads(line) for line in (out / "run" / LOG_NAME).read_text().splitlines() if line.strip()]
        save_figure(out / "convergence.png", convergence_figure(history, known["energy"], estimate, f"{args.case}: {_describe(hamiltonian)}"))
    print(f"energy {estimate.energy:.6g} ± {estimate.stderr:.2g} against {known['energy']:.6g} ({known['kind']}): relative error {record['relative_error']:+.2e}, {record['sigma']:+.1f}σ")
    if "mode_test" in record:
        test = record["mode_test"]
        print(f"mode widths against the exact ground state: χ² = {test['chi2']:.1f} for {test['dof']} modes, p = {test['p_value']:.3g}, max |z| {test['max_abs_z']:.1f}")
        path = record["rg_path"]
        print("deviation of p_t from the exact RG flow of the ground state (mean over modes): " + ", ".join(f"t={t:g}: {d:.3f}" for t, d in zip(path["t"], path["mean_abs_deviation"])))
    print(f"wrote {(out / 'ground_state.json').resolve()} and {(out / 'convergence.png').resolve()}")
    return 0


def _stream(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, stream]).generate_state(1)[0]))


def _describe(hamiltonian: LatticeHamiltonian) -> str:
    return f"d={hamiltonian.d} N={hamiltonian.N} L={hamiltonian.L:g} m²={hamiltonian.m2:g} λ={hamiltonian.lam:g} g∇={hamiltonian.gradient:g}"


def _record(args, hamiltonian, state, objective, training, trained, estimate, known, samples, evaluation_seconds) -> dict[str, Any]:
    difference = estimate.energy - known["energy"]
    record = {
        "command": f"pdd ground-state {args.case}",
        "version": __version__,
        "arguments": {key: value for key, value in vars(args).items() if key != "run"},
        "case": args.case,
        "hamiltonian": to_dict(hamiltonian),
        "state": to_dict(state),
        "objective": {"name": objective.name, **to_dict(objective)},
        "training": {**to_dict(training), "final_loss": trained.loss, "seconds": trained.seconds},
        **estimate.to_json(),
        "energy_per_site": estimate.energy / hamiltonian.sites,
        "reference": known,
        "relative_error": difference / abs(known["energy"]),
        "sigma": difference / estimate.stderr if estimate.stderr > 0 else math.copysign(math.inf, difference),
        "evaluation_seconds": evaluation_seconds,
    }
    if args.case == "free":
        learned, error = two_point(samples)
        exact = hamiltonian.free_two_point()
        deviation = (learned - exact) / error
        record["two_point"] = {
            "separations": "every r of the lattice, row-major",
            "learned": learned.ravel().tolist(),
            "stderr": error.ravel().tolist(),
            "exact": exact.ravel().tolist(),
            "max_abs_sigma": float(np.abs(deviation).max()),
            "share_within_2_sigma": float((np.abs(deviation) <= 2).mean()),
        }
        record["mode_test"] = free_mode_test(samples, hamiltonian).to_json()
        with torch.no_grad():
            path, _ = trained.flow.sample(len(samples), _stream(args.seed, RG_PATH_STREAM), ts=RG_TIMES)
        record["rg_path"] = free_rg_path({t: path[t] for t in RG_TIMES}, hamiltonian, trained.flow.scheme)
    return record


COMMANDS["ground-state"] = (HELP, add_arguments, run)
