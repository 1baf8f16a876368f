#!/usr/bin/env bash
# Generation with the model's and the calibrated (residual) path noise on the lever runs, 64 paths
# against 64 fresh truth paths with the 64-vs-64 floor (docs/results.md, "Where the variance goes").
# Usage: experiments/variance/path_noise_generation.sh LEVERS_DIR TRUTH.h5 OUT_DIR "SEEDS" NOISE
#   e.g. path_noise_generation.sh runs/levers truth.h5 runs/path_noise "0 1 2" residual
# TRUTH.h5: `pdd data generate lorenz96 --preset small --seed 7 --n-train 128 --n-valid 8 --n-test 64`.
set -euo pipefail
levers=${1:?LEVERS_DIR}; truth=${2:?TRUTH.h5}; out=${3:?OUT_DIR}; seeds=${4:-"0 1 2"}; noise=${5:-residual}
config=${CONFIG:-linear}
export OMP_NUM_THREADS=1
for seed in $seeds; do
  target=$out/${config}_s${seed}_$noise
  [ -f "$target/metrics.json" ] && continue
  pdd evaluate "$levers/${config}_s$seed/run" --data "$truth" --tasks generate --n 64 --path-noise "$noise" --seed "$seed" --out "$target" --no-progress > "$target.log" 2>&1 || echo "evaluate failed: $target" >&2
done
