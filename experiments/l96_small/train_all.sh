#!/usr/bin/env bash
# Train every Lorenz-96 small-scale configuration (docs/results.md), two jobs at a time.
# Usage: bash experiments/l96_small/train_all.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p experiments/data
[ -f experiments/data/l96_small.h5 ] || pdd data generate lorenz96 --preset small --seed 0 --out experiments/data/l96_small.h5
jobs_list=()
for seed in 0 1; do
  for name in pdd pdd_per_mode ddpm_simulation ddpm_generation; do jobs_list+=("$name $seed"); done
done
jobs_list+=("pdd_per_mode 2" "ddpm_generation 2")  # a third seed for the reverse-λ tables (2 and 3)
for name in window_1 window_15 noise_free eq67 fno sa_pdd; do jobs_list+=("$name 0"); done
bash experiments/train_runs.sh l96_small "${jobs_list[@]}"
