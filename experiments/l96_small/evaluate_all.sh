#!/usr/bin/env bash
# Evaluate every trained Lorenz-96 small-scale run (docs/results.md). Run after train_all.sh.
# Usage: bash experiments/l96_small/evaluate_all.sh [simulate|sampling|all]   (default: all)
# The two parts are independent, so two shells can run them side by side on 2 cores.
# PDD runs: simulation at five λs (Fig. 7, Table 1), generation and super-resolution with the
# paper's ETD + Langevin sampler at Δλ = 1e-3 (one corrector step instead of three, for CPU time).
# The DDPM simulation baseline samples each increment with the exponential Heun probability-flow
# sampler (20 λ steps: the variance-preserving scheme is not stiff), since 1000 λ steps per
# physical step over a 700-step rollout is out of reach on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
part=${1:-all}
case $part in simulate|sampling|all) ;; *) echo "evaluate_all.sh: part=$part is not simulate, sampling or all" >&2; exit 2 ;; esac
experiment=l96_small
common=(--data experiments/data/l96_small.h5 --n 8 --discard 10 --segments 2 --seed 0 --no-progress)
paper_sampler=(--sampler pc --snr 0.7 --corrector-steps 1 --lambda-steps 1000 --prior noise)
source experiments/evaluate_runs.sh
# Table 1 and Fig. 7 (simulation, λ > 0 included).
evaluate_simulation() {
  local seed=$1
  evaluate "pdd_seed$seed" --tasks simulate --lambdas 0,0.05,0.1,0.15,0.2
  evaluate "ddpm_simulation_seed$seed" --tasks simulate --lambdas 0 --sampler pf --lambda-steps 20
  evaluate "pdd_per_mode_seed$seed" --tasks simulate --lambdas 0,0.05,0.1,0.15,0.2
}
# Tables 2 and 3 (the reverse-λ tasks, the costliest): PDD runs go to NAME_sr.
evaluate_sampling() {
  local seed=$1
  # The per-mode extension (docs/training.md): per-mode loss, reverse-λ score with the Gaussian r_λ.
  evaluate_as "pdd_per_mode_seed$seed" "pdd_per_mode_seed${seed}_sr" --tasks generate,super-resolve --n-generate 4 --n-super-resolve 4 --score path-per-mode-r "${paper_sampler[@]}"
  evaluate "ddpm_generation_seed$seed" --tasks generate --n-generate 4 "${paper_sampler[@]}"
  evaluate_as "pdd_seed$seed" "pdd_seed${seed}_sr" --tasks generate,super-resolve --n-generate 4 --n-super-resolve 4 "${paper_sampler[@]}"
}
# Seed 2 of the reverse-λ comparison only (per-mode PDD against DDPM generation, Tables 2-3).
if [ "$part" != sampling ]; then
  evaluate_simulation 0
  for name in window_1 window_15 noise_free eq67 fno sa_pdd; do
    evaluate "${name}_seed0" --tasks simulate --lambdas 0,0.2
  done
  evaluate_simulation 1
  evaluate pdd_per_mode_seed2 --tasks simulate --lambdas 0,0.05,0.1,0.15,0.2
fi
if [ "$part" != simulate ]; then
  evaluate_sampling 0
  evaluate_sampling 1
  evaluate_as pdd_per_mode_seed2 pdd_per_mode_seed2_sr --tasks generate,super-resolve --n-generate 4 --n-super-resolve 4 --score path-per-mode-r "${paper_sampler[@]}"
  evaluate ddpm_generation_seed2 --tasks generate --n-generate 4 "${paper_sampler[@]}"
fi
