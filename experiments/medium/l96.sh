#!/usr/bin/env bash
# Lorenz-96 at a medium CPU budget: PDD against the DDPM baseline trained for the same wall time
# (docs/results.md, "A medium CPU budget"). One thread per job; run from anywhere.
# Usage: experiments/medium/l96.sh OUT_DIR "SEEDS" PDD_STEPS DDPM_STEPS
#   PDD_STEPS and DDPM_STEPS are chosen so that both trainings take the same time (pilot: the
#   `time` field of each run's log.jsonl); finished trainings and evaluations are skipped.
# Each seed: 400 training paths, 64 test paths (the evaluation's >= 64 paths; the floors' disjoint
# 64-vs-64 splits come from the training split), both models evaluated on generation against the
# 64 test paths with 64 generated paths (gpc, 50 network calls, the defaults), PDD also on
# super-resolution from λ = 0.2 (64 refined segments).
set -euo pipefail
out=${1:?OUT_DIR}; seeds=${2:-"0 1 2"}; pdd_steps=${3:?PDD_STEPS}; ddpm_steps=${4:?DDPM_STEPS}
export OMP_NUM_THREADS=1
mkdir -p "$out"
# shellcheck source=train_and_evaluate.sh
source "$(dirname "$0")/train_and_evaluate.sh"
recipe=(--frames 16 --batch-size 16 --lr 1e-3)
for seed in $seeds; do
  data=$out/data_s$seed.h5
  [ -f "$data" ] || pdd data generate lorenz96 --preset small --seed "$seed" --n-train 400 --n-valid 8 --n-test 64 --out "$data" --no-progress
  for model in pdd ddpm; do
    run=$out/${model}_s$seed
    case $model in
      pdd) train=(--model unet --preset tiny --steps "$pdd_steps" --set ema_decay=0.99 scheme.alpha=0.1 scheme.beta=1.4142135623730951) ;;  # the demo's network and recipe, per-mode loss, linear part
      ddpm) train=(--model unet --preset tiny --steps "$ddpm_steps" --scheme variance-preserving --objective denoising --set ema_decay=0.99 scheme.gamma=3.0) ;;  # PDD B.4's baseline
    esac
    train_and_evaluate "$run" "$data" "$seed" "$model" 64 500 "${train[@]}" "${recipe[@]}"
  done
done
