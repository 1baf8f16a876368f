#!/usr/bin/env bash
# Long rollouts at the demo's scale (docs/results.md, "Rollout climate"): 1e4 steps at λ = 0, 0.1
# and 0.2, and 1e5 steps at λ = 0, of a trained run, deterministic (against C_λ u0) and stochastic
# (against the noisy path law), with climate blocks, blow-up steps and running-climate figures;
# the 1e5-step rollouts start from LONG_PATHS (default 4) test paths.
# Usage: experiments/climate/long_rollouts.sh RUN_DIR DATA.h5 OUT_DIR [EXTRA pdd evaluate FLAGS...]
#   e.g. experiments/climate/long_rollouts.sh demo/run demo/data.h5 climate/long --thermalize 20
set -euo pipefail
run=${1:?RUN_DIR}; data=${2:?DATA.h5}; out=${3:?OUT_DIR}; shift 3
export OMP_NUM_THREADS=1
common=(--tasks simulate --segments 1 --ensemble 0 --no-progress)
pdd evaluate "$run" --data "$data" --lambdas 0,0.1,0.2 --long-steps 10000 "${common[@]}" --out "$out/1e4" "$@"
pdd evaluate "$run" --data "$data" --lambdas 0 --long-steps 100000 --n "${LONG_PATHS:-4}" "${common[@]}" --out "$out/1e5" "$@"
