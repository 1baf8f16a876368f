#!/usr/bin/env bash
# Evaluate the trained Kolmogorov-flow small-scale runs (docs/results.md). Run after train_all.sh.
# Usage: bash experiments/kf_small/evaluate_all.sh [simulate|sampling|all]   (default: all)
# Same protocol as l96_small/evaluate_all.sh with the paper's Kolmogorov corrector SNR (0.3) and
# fewer test paths and λs, since every 2D score evaluation costs ~10x a Lorenz-96 one.
set -euo pipefail
cd "$(dirname "$0")/../.."
part=${1:-all}
case $part in simulate|sampling|all) ;; *) echo "evaluate_all.sh: part=$part is not simulate, sampling or all" >&2; exit 2 ;; esac
experiment=kf_small
common=(--data experiments/data/kf_small.h5 --n 4 --discard 10 --segments 1 --seed 0 --no-progress)
paper_sampler=(--sampler pc --snr 0.3 --corrector-steps 1 --lambda-steps 1000 --prior noise)
source experiments/evaluate_runs.sh
if [ "$part" != sampling ]; then
  evaluate pdd_seed0 --tasks simulate --lambdas 0,0.1,0.2
  evaluate ddpm_simulation_seed0 --tasks simulate --lambdas 0 --sampler pf --lambda-steps 20
  evaluate pdd_per_mode_seed0 --tasks simulate --lambdas 0,0.1,0.2
fi
if [ "$part" != simulate ]; then
  # The per-mode extension (docs/training.md): per-mode loss, reverse-λ score with the Gaussian r_λ.
  evaluate_as pdd_per_mode_seed0 pdd_per_mode_seed0_sr --tasks generate,super-resolve --n-generate 2 --n-super-resolve 2 --score path-per-mode-r "${paper_sampler[@]}"
  evaluate ddpm_generation_seed0 --tasks generate --n-generate 2 "${paper_sampler[@]}"
  evaluate_as pdd_seed0 pdd_seed0_sr --tasks generate,super-resolve --n-generate 2 --n-super-resolve 2 "${paper_sampler[@]}"
fi
