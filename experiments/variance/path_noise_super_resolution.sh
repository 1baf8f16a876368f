#!/usr/bin/env bash
# Super-resolution from λ = 0.2 with the model's and the calibrated (residual) path noise on the lever
# runs, 64 stochastic coarse rollouts refined and compared with 64 fresh truth paths (floor beside).
# Usage: experiments/variance/path_noise_super_resolution.sh LEVERS_DIR TRUTH.h5 OUT_DIR "SEEDS" "NOISES"
set -euo pipefail
levers=${1:?LEVERS_DIR}; truth=${2:?TRUTH.h5}; out=${3:?OUT_DIR}; seeds=${4:-"0 1 2"}; noises=${5:-"residual model"}
config=${CONFIG:-linear}
export OMP_NUM_THREADS=1
for seed in $seeds; do
  for noise in $noises; do
    target=$out/${config}_s${seed}_sr_$noise
    [ -f "$target/metrics.json" ] && continue
    pdd evaluate "$levers/${config}_s$seed/run" --data "$truth" --tasks super-resolve --n 64 --path-noise "$noise" --seed "$seed" --out "$target" --no-progress > "$target.log" 2>&1 || echo "evaluate failed: $target" >&2
  done
done
