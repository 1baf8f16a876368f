"""RDM 5.50, 5.53 and 5.55 side by side on one lattice φ⁴ theory (docs/rg_flows.md, "Field rescalings").

For the theory of ``--set`` (the defaults of `pdd rg-flow phi4`) and times t* < t* + δt' < 1/M²:

* 5.53, the within-scheme heuristic: b between samples of the Carosso flow at t* + δt' and samples
  at t* of the theory with couplings rescaled by r^{d+δ_i}, r = Λ_{t*+δt'}/Λ_{t*} (two HMC runs);
* 5.50, the a-priori c_t = e^{M² t} of the scheme ``carosso-rescaled``, and 5.55, the c fitted
  between the Carosso and the carosso-rescaled flows of the same samples, at t* and t* + δt'.

    OMP_NUM_THREADS=1 python experiments/rg/within_scheme.py --t-star 0.1 --dt 0.2 --out /tmp/within.json
    OMP_NUM_THREADS=1 python experiments/rg/within_scheme.py --set m2=0.01 leapfrog_steps=700 trajectories_per_frame=2 --out /tmp/within7.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from pdd_core.apps.cli.data import parse_setting
from pdd_core.apps.cli.rg_flow.lattice_schemes import rdm_scheme
from pdd_core.apps.cli.rg_flow.uv_samples import lattice_system, sample_uv
from pdd_core.apps.lattice import Jackknife, compare_flows, flow_samples
from pdd_core.apps.lattice.rg_flow import cutoff_ratio, within_scheme_rescaling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="settings of phi4 (as pdd rg-flow --set)")
    parser.add_argument("--t-star", type=float, default=0.1)
    parser.add_argument("--dt", type=float, default=0.2)
    parser.add_argument("--mass", type=float, default=1.0)
    parser.add_argument("--n-samples", type=int, default=512)
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    system = lattice_system("phi4", dict(parse_setting(text) for text in args.set))
    grid, resampler, later = system.grid, Jackknife(n_blocks=args.blocks), args.t_star + args.dt
    ratio = cutoff_ratio(args.t_star, args.dt, args.mass, grid)
    rescaled_system = system.with_couplings_rescaled(ratio)
    samples, hmc = sample_uv(system, args.n_samples, args.chains, np.random.default_rng([args.seed, 0]), progress=False)
    rescaled_samples, rescaled_hmc = sample_uv(rescaled_system, args.n_samples, args.chains, np.random.default_rng([args.seed, 1]), progress=False)
    carosso, rescaled_scheme = rdm_scheme("carosso", grid, args.mass), rdm_scheme("carosso-rescaled", grid, args.mass)
    ts = [args.t_star, later]
    flowed = flow_samples(samples, carosso, grid, ts, torch.Generator().manual_seed(args.seed))
    earlier = flow_samples(rescaled_samples, carosso, grid, [args.t_star], torch.Generator().manual_seed(args.seed + 1))[args.t_star]
    heuristic = within_scheme_rescaling(flowed[later], earlier, grid, later, args.mass, resampler)
    modified = flow_samples(samples, rescaled_scheme, grid, ts, torch.Generator().manual_seed(args.seed))
    fitted = compare_flows(flowed, modified, grid, args.mass, resampler)
    record = {
        "system": {"m2": system.m2, "lam": system.lam, "a": system.a, "L": system.L, "N": system.N},
        "rescaled_system": {"m2": rescaled_system.m2, "lam": rescaled_system.lam, "a": rescaled_system.a},
        "t_star": args.t_star,
        "dt": args.dt,
        "cutoff_ratio": ratio,
        "hmc_acceptance": [hmc["acceptance_rate"], rescaled_hmc["acceptance_rate"]],
        "within_scheme_b_5_53": {"b": heuristic.c.to_json(), "residual": heuristic.residual},
        "a_priori_c_5_50": {f"{t:g}": rescaled_scheme.field_rescaling(t) for t in ts},
        "fitted_c_5_55": {f"{point.t:g}": {"c": point.c.to_json(), "residual": point.residual} for point in fitted},
        "seconds": time.perf_counter() - started,
    }
    with open(args.out, "w") as handle:
        json.dump(record, handle, indent=1)
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
