#!/usr/bin/env bash
# Tables 2-3 (generation, super-resolution from λ = 0.2) with the current defaults (gpc, 50 network
# calls, data-informed prior) and floors, for lever runs of train_levers.sh (docs/results.md).
# Usage: experiments/climate/sampling_tables.sh OUT_DIR "SEEDS" "CONFIGS"
set -euo pipefail
out=${1:?OUT_DIR}; seeds=${2:-"0 1 2"}; configs=${3:-"linear"}
export OMP_NUM_THREADS=1
for seed in $seeds; do
  for config in $configs; do
    run=$out/${config}_s$seed
    [ -f "$run/sampling/metrics.json" ] && continue
    pdd evaluate "$run/run" --data "$out/data_s$seed.h5" --tasks generate,super-resolve --n-generate 16 --n-super-resolve 8 \
      --seed "$seed" --out "$run/sampling" --no-progress > "$run/sampling.log" 2>&1 || echo "evaluate failed: $run" >&2
  done
done
