#!/usr/bin/env bash
# Training levers for the rollout climate at the demo's scale (docs/results.md, "Rollout climate").
# Usage: experiments/climate/train_levers.sh OUT_DIR "SEEDS" "CONFIGS"   e.g. train_levers.sh runs/levers "0 1 2" "base linear"
# Each (config, seed): the demo's data of that seed, `pdd train` with the demo's settings plus the
# lever, then `pdd evaluate --tasks simulate` at λ = 0, 0.1, 0.2 with --long-steps rollouts
# (deterministic and stochastic); the climate blocks land in OUT/CONFIG_sSEED/eval/metrics.json
# (tabulate with collect_levers.py). Finished trainings and evaluations are skipped.
set -euo pipefail
out=${1:?OUT_DIR}; seeds=${2:-"0 1 2"}; configs=${3:-"base linear"}
long_steps=${LONG_STEPS:-2000}
rollout_noise=${ROLLOUT_NOISE:-residual}  # the levers' table was measured with the residual noise, before the climate closure
export OMP_NUM_THREADS=1
demo=(--model unet --preset tiny --frames 16 --batch-size 16 --lr 1e-3 --set ema_decay=0.99 scheme.alpha=0.1 scheme.beta=1.4142135623730951)
without=model.overrides.linear_part=false  # the network before the linear part became the default
lever() {
  case $1 in
    base) echo "--steps 1200 --set $without" ;;
    long) echo "--steps 3600 --set $without" ;;
    noise_free) echo "--steps 1200 --set objective.noise_free=true $without" ;;
    eq67) echo "--steps 1200 --set scheme.gamma=3 $without" ;;
    scalar) echo "--steps 1200 --set objective.noise_model=scalar $without" ;;
    linear) echo "--steps 1200 --set model.overrides.linear_part=true" ;;
    linear_long) echo "--steps 3600 --set model.overrides.linear_part=true" ;;
    linear_window1) echo "--steps 1200 --window 1 --set model.overrides.linear_part=true" ;;
    linear_window15) echo "--steps 1200 --window 15 --set model.overrides.linear_part=true" ;;
    linear_lampow2) echo "--steps 1200 --set lam_power=2 model.overrides.linear_part=true" ;;
    linear_long_cosine) echo "--steps 3600 --set lr_schedule=cosine warmup_steps=100 model.overrides.linear_part=true" ;;
    linear_long_push) echo "--steps 3600 --set objective.pushforward=1 model.overrides.linear_part=true" ;;
    linear_push_equal_time) echo "--steps 1600 --set objective.pushforward=1 model.overrides.linear_part=true" ;;  # ~ the time of 3600 steps without it
    linear_small) echo "--steps 1200 --preset small --set model.overrides.linear_part=true" ;;
    *) echo "unknown config $1" >&2; exit 2 ;;
  esac
}
for seed in $seeds; do
  data=$out/data_s$seed.h5
  [ -f "$data" ] || pdd data generate lorenz96 --preset small --seed "$seed" --n-train 200 --n-valid 8 --n-test 8 --out "$data" --no-progress
  for config in $configs; do
    run=$out/${config}_s$seed
    [ -f "$run/run/checkpoint.pt" ] && resume=--resume || resume=
    # shellcheck disable=SC2046
    pdd train --data "$data" --out "$run/run" --seed "$seed" --threads 1 --checkpoint-every 300 --no-progress "${demo[@]}" $(lever "$config") $resume
    [ -f "$run/eval/metrics.json" ] && continue
    pdd evaluate "$run/run" --data "$data" --tasks simulate --lambdas 0,0.1,0.2 --segments 1 --ensemble 0 \
      --long-steps "$long_steps" --rollout-noise "$rollout_noise" --seed "$seed" --out "$run/eval" --no-progress > "$run/evaluate.log" 2>&1 || echo "evaluate failed: $run" >&2
  done
done
