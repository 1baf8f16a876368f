#!/usr/bin/env bash
# Kolmogorov flow at the paper's 40² at a medium CPU budget: PDD against the DDPM baseline trained
# for the same CPU time (docs/results.md, "A medium CPU budget"). One thread per job.
# Usage: experiments/medium/kolmogorov.sh OUT_DIR "SEEDS" PDD_STEPS DDPM_STEPS [N_SUPER_RESOLVE] [PDD_SETTINGS]
#   PDD_STEPS and DDPM_STEPS are chosen so that both trainings take the same CPU time (a pilot);
#   DDPM_STEPS = 0 trains no baseline; PDD_SETTINGS are extra `--set` pairs of the PDD training
#   (for example "lr_schedule=cosine");
#   finished trainings and evaluations are skipped, an interrupted training resumes.
# Each seed: 200 training paths simulated on 64² and stored on 40² (the demo's settings), 64 test
# paths; both models generate 64 paths (gpc, 50 network calls, the defaults) against the 64 test
# paths, PDD also super-resolves N_SUPER_RESOLVE (default 16) segments from λ = 0.2: at 40² every
# path-score call is a forward and a backward pass over every frame, ~0.4 s of CPU per path.
set -euo pipefail
out=${1:?OUT_DIR}; seeds=${2:-"0 1 2"}; pdd_steps=${3:?PDD_STEPS}; ddpm_steps=${4:?DDPM_STEPS}; n_sr=${5:-16}; read -r -a pdd_settings <<< "${6:-}"
export OMP_NUM_THREADS=1
mkdir -p "$out"
# shellcheck source=train_and_evaluate.sh
source "$(dirname "$0")/train_and_evaluate.sh"
recipe=(--frames 12 --batch-size 8 --lr 1e-3)  # the Kolmogorov demo's recipe
for seed in $seeds; do
  data=$out/data_s$seed.h5
  [ -f "$data" ] || pdd data generate kolmogorov --preset small --set n_sim=64 n_out=40 burn_in=10.0 --seed "$seed" --n-train 200 --n-valid 4 --n-test 64 --out "$data" --no-progress
  models=(pdd); [ "$ddpm_steps" -gt 0 ] && models+=(ddpm)
  for model in "${models[@]}"; do
    run=$out/${model}_s$seed
    case $model in
      pdd) train=(--model unet --preset tiny --steps "$pdd_steps" --set ema_decay=0.99 scheme.alpha=0.3 scheme.beta=2.449489742783178 model.overrides.linear_part=true model.overrides.conserve_mean=true "${pdd_settings[@]}") ;;  # the demo's network and recipe
      ddpm) train=(--model unet --preset tiny --steps "$ddpm_steps" --scheme variance-preserving --objective denoising --set ema_decay=0.99 scheme.gamma=3.0) ;;  # PDD B.4's baseline
    esac
    train_and_evaluate "$run" "$data" "$seed" "$model" "$n_sr" 200 "${train[@]}" "${recipe[@]}"
  done
done
