#!/usr/bin/env bash
# Train a list of small-scale runs, two jobs at a time, one thread each; finished runs are skipped and
# interrupted ones resumed. Usage (from the repository root):
#   bash experiments/train_runs.sh EXPERIMENT "CONFIG SEED" ["CONFIG SEED" ...]
# trains experiments/EXPERIMENT/CONFIG.toml into experiments/runs/EXPERIMENT/CONFIG_seedSEED.
set -euo pipefail
cd "$(dirname "$0")/.."
experiment=$1; shift
mkdir -p "experiments/runs/$experiment"
run() {
  set -- $1
  out="experiments/runs/$experiment/$1_seed$2"
  if grep -qs "^trained" "$out.log"; then echo "have $1 seed $2"; return; fi
  if [ -f "$out/checkpoint.pt" ]; then resume=--resume; else resume=; fi
  pdd train "experiments/$experiment/$1.toml" --out "$out" --seed "$2" --threads 1 --no-progress $resume > "$out.log" 2>&1
  echo "done $1 seed $2: $(tail -2 "$out.log" | head -1)"
}
export -f run
export experiment
printf '%s\n' "$@" | xargs -P 2 -I{} bash -c 'run "{}"'
