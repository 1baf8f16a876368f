"""``pdd rg-flow phi4`` (the default study): exact forward RG flows of HMC samples by scheme (RDM Sec. 7.3, Fig. 6).

Every sample is flowed along one exact stochastic path of each scheme (M-modified kernels in the project's orthonormal
site variables, :mod:`~pdd_core.apps.cli.rg_flow.lattice_schemes`), RDM 7.3-7.11 are estimated at every t with
resampling errors, and with ``--compare`` the flows of two schemes are compared after rescaling (RDM 5.53-5.55).
Conventions and formulas: docs/rg_flows.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pdd_core.apps.cli.rg_flow.lattice_schemes import check_lattice_scheme, scheme_config
from pdd_core.apps.cli.rg_flow.output import record_header, save_figure, save_json
from pdd_core.apps.lattice import compare_flows, flow_estimators, iter_flow, mean_estimate, rdm_fourier
from pdd_core.apps.lattice.plots import comparison_figure, fields_figure, flow_figure
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.metrics.resampling import Resampler, estimate_all

# The schemes flowed without --scheme, alone and with --compare.
DEFAULT_SCHEMES: tuple[str, ...] = ("carosso",)
COMPARED_SCHEMES: tuple[str, ...] = ("carosso", "polchinski")
# Fixed per-scheme stream ids, so a scheme's flow depends on --seed only, not on which others run;
# any other registered scheme takes a stream from its name (scheme_stream).
SCHEME_STREAMS: dict[str, int] = {"carosso": 1, "polchinski": 2}


def scheme_stream(name: str) -> int:
    """The random stream of a scheme's flow under --seed: fixed for the built-in ones, from the name's CRC-32 for the others."""
    return SCHEME_STREAMS.get(name, zlib.crc32(name.encode()))


def chosen_schemes(args: argparse.Namespace) -> list[str]:
    """The schemes of the exact flows: --scheme, else carosso (with --compare: carosso polchinski), checked before any HMC sampling."""
    names = list(dict.fromkeys(args.scheme or (COMPARED_SCHEMES if args.compare else DEFAULT_SCHEMES)))
    for name in names:  # before any HMC sampling
        check_lattice_scheme(name)
    if args.compare and len(names) < 2:
        raise bad_argument("--scheme", names, "--compare needs two schemes", "pass --compare alone, or --scheme carosso polchinski --compare", kind=ConfigError)
    return names


def uv_observables(samples: np.ndarray, resampler: Resampler) -> dict[str, Any]:
    """⟨|M|⟩ and χ = V (⟨M²⟩ - ⟨|M|⟩²), M = φ̃(0) the lattice mean, V = N^d sites (docs/rg_flows.md)."""
    sites = samples.shape[-1] * samples.shape[-2]
    magnetisation = rdm_fourier(samples)[:, 0, 0].real
    primaries = np.stack([np.abs(magnetisation), magnetisation**2], axis=1)
    susceptibility = estimate_all(primaries, lambda means: sites * (means[..., 1] - means[..., 0] ** 2), ("chi",), resampler)["chi"]
    return {"abs_magnetisation": mean_estimate(np.abs(magnetisation), resampler).to_json(), "susceptibility": susceptibility.to_json()}


def a_priori_rescaling(reference: Any, other: Any, comparison: list) -> dict[str, Any]:
    """The a-priori c_t of schemes with a field rescaling (RDM 5.50; ``field_rescaling(t)``, 1 without), other over
    reference, beside the sample-based c(t) of 5.55: empty when neither scheme rescales."""
    if not any(hasattr(scheme, "field_rescaling") for scheme in (reference, other)):
        return {}

    def rescaling(scheme: Any, t: float) -> float:
        return scheme.field_rescaling(t) if hasattr(scheme, "field_rescaling") else 1.0

    ts = [point.t for point in comparison]
    return {"ts": ts, "a_priori_c": [rescaling(other, t) / rescaling(reference, t) for t in ts]}


def summary_line(point: Any) -> str:
    """One t of a flow: the cutoff ratio and the four estimators with their errors."""
    def show(name: str) -> str:
        estimate = point.estimates[name]
        return f"{estimate.value:.4g}±{estimate.error:.2g}" if math.isfinite(estimate.value) else "undefined"

    columns = f"m_R={show('m_R'):<20} Z={show('Z'):<20} r_t²λ_R={show('r2_lambda_R'):<20} max|φ|={show('max_abs_phi')}"
    return f"  t={point.t:<8g} r_t={point.cutoff.ratio:<8.3g} {columns}"


def run_exact(args: argparse.Namespace, names: list[str], ts: list[float], snapshots: list[float], system: Any, schemes: dict[str, Any],
              samples: np.ndarray, hmc: dict[str, Any], resampler: Resampler, out: Path) -> int:
    """Flow every HMC sample along one exact path of each scheme through ``ts``, estimate RDM 7.3-7.11 at every t
    (with --compare, the rescaling c(t) of 5.55 between the first two); write flows.json and the plots, print a summary."""
    grid, progress = system.grid, not args.no_progress
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
                "config": scheme_config(name, scheme),
                "rdm_kernel": getattr(scheme, "rdm_kernel", None),
                "flow": [point.to_json() for point in estimators[name]],
            }
            for name, scheme in schemes.items()
        },
    }
    if comparison is not None:
        record["comparison"] = {"reference": names[0], "other": names[1], "equations": "RDM 5.54-5.55", "points": [point.to_json() for point in comparison]}
        record["comparison"].update(a_priori_rescaling(schemes[names[0]], schemes[names[1]], comparison))
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
            print(summary_line(point))
    if comparison is not None:
        values = ", ".join(f"t={point.t:g}: {point.c.value:.4g}±{point.c.error:.2g}" for point in comparison)
        print(f"rescaling c(t) of {names[1]} onto {names[0]} (RDM 5.55): {values}")
        if "a_priori_c" in record["comparison"]:
            print(f"a-priori c_t of {names[1]} over {names[0]} (RDM 5.50): " + ", ".join(f"t={t:g}: {c:.4g}" for t, c in zip(record["comparison"]["ts"], record["comparison"]["a_priori_c"])))
    print(f"wrote {(out / 'flows.json').resolve()} and the plots in {out.resolve()}")
    return 0
