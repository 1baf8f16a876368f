#!/usr/bin/env bash
# Train the Kolmogorov-flow small-scale configurations (docs/results.md), two jobs at a time.
# Usage: bash experiments/kf_small/train_all.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p experiments/data
[ -f experiments/data/kf_small.h5 ] || pdd data generate kolmogorov --preset small --seed 0 --out experiments/data/kf_small.h5
bash experiments/train_runs.sh kf_small "pdd 0" "ddpm_simulation 0" "ddpm_generation 0" "pdd_per_mode 0"
