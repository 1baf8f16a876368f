#!/usr/bin/env bash
# Train every Lorenz-96 small-scale configuration (docs/results.md). Two jobs at a time, one
# thread each. Usage: bash experiments/l96_small/train_all.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p experiments/runs/l96_small experiments/data
[ -f experiments/data/l96_small.h5 ] || pdd data generate lorenz96 --preset small --seed 0 --out experiments/data/l96_small.h5
jobs_list=()
for seed in 0 1; do
  for name in pdd ddpm_simulation ddpm_generation; do jobs_list+=("$name $seed"); done
done
for name in window_1 window_15 noise_free eq67 fno sa_pdd; do jobs_list+=("$name 0"); done
run() {
  set -- $1
  out="experiments/runs/l96_small/$1_seed$2"
  if [ -f "$out/checkpoint.pt" ]; then resume=--resume; else resume=; fi
  pdd train "experiments/l96_small/$1.toml" --out "$out" --seed "$2" --threads 1 --no-progress $resume > "$out.log" 2>&1
  echo "done $1 seed $2: $(tail -2 "$out.log" | head -1)"
}
export -f run
printf '%s\n' "${jobs_list[@]}" | xargs -P 2 -I{} bash -c 'run "{}"'
