# Sourced by l96.sh and kolmogorov.sh: one model of one seed, trained (resumed if interrupted) and
# evaluated on 64 generated paths (PDD also on N_SR super-resolved segments); finished work is skipped.
# Usage: train_and_evaluate RUN DATA SEED MODEL N_SR CHECKPOINT_EVERY TRAIN_ARGS...
train_and_evaluate() {
  local run=$1 data=$2 seed=$3 model=$4 n_sr=$5 every=$6; shift 6
  local resume=; [ -f "$run/run/checkpoint.pt" ] && resume=--resume
  pdd train --data "$data" --out "$run/run" --seed "$seed" --threads 1 --checkpoint-every "$every" --no-progress "$@" $resume > "$run.train.log" 2>&1
  [ -f "$run/eval/metrics.json" ] && return 0
  local tasks=generate; [ "$model" = pdd ] && tasks=generate,super-resolve
  pdd evaluate "$run/run" --data "$data" --tasks "$tasks" --n-generate 64 --n-super-resolve "$n_sr" --seed "$seed" --out "$run/eval" --no-progress > "$run/evaluate.log" 2>&1 || echo "evaluate failed: $run" >&2
}
