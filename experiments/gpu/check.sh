#!/usr/bin/env bash
# Issue 18: the CUDA code paths, and Lorenz-96 at the paper's scale, in one run of at most 500 s.
#
#   bash experiments/gpu/check.sh OUT                            # on the GPU machine, repo root
#   PDD_GPU_DRY_RUN=1 bash experiments/gpu/check.sh /tmp/gpu_dry # tiny sizes on the CPU, to test this script
#
# Needs pdd importable (PYTHONPATH=REPO or an install) and installs nothing. Stages, each under
# `timeout` and within one overall deadline; a failing stage is logged and the next still runs:
#   1. experiments/gpu/cuda_checks.py: CUDA against CPU (networks, scores, samplers, bf16, checkpoints)
#   2. pdd data generate lorenz96 --preset paper (3000/100/100 paths of 64 frames; scaled down on failure)
#   3. pdd train with the paper's U-Net and B.3 settings on CUDA, for the time left before the
#      evaluation's reserve (30000 steps do not fit: it is stopped, the last checkpoint is used)
#   4. pdd evaluate (Tables 1-3: simulate at λ = 0, generate, super-resolve from λ = 0.2) with the
#      default sampler, the network on CUDA; on the CPU with fewer paths if that fails
# OUT receives 7 files: check.log (everything printed), cuda_checks.json, summary.json (stages,
# steps, steps/s, GPU memory, what was scaled down), and the run's config.json, log.jsonl,
# metrics.json and generate_psd.png. Scratch data and runs live in a temporary directory.
set -u

OUT=${1:?usage: bash experiments/gpu/check.sh OUT}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
HERE=experiments/gpu
PY=${PYTHON:-python3}
PDD=("$PY" -m pdd_core.apps.cli.main)  # the `pdd` console script is not installed on the GPU machine
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pdd_gpu.XXXXXX")
DATA=$WORK/l96_paper.h5
RUN=$WORK/run
EVAL=$WORK/eval
trap 'rm -rf "$WORK"' EXIT  # what matters is copied to OUT at the end
exec > >(tee -a "$OUT/check.log") 2>&1
TEE_PID=$!

if [ "${PDD_GPU_DRY_RUN:-0}" = 1 ]; then
    MODE=dry-run
    TOTAL_S=540        # whole script
    CHECKS_S=240       # stage 1, CPU against CPU: ~10 s with one thread, minutes on oversubscribed cores
    DATA_S=60
    TRAIN_MAX_S=30     # long enough for a few checkpoints, so the stop-and-keep path is exercised
    EVAL_RESERVE_S=150 # kept free for stage 4 when stage 3's budget is set
    DEVICE=cpu
    DATA_ARGS=(--preset paper --n-train 8 --n-valid 2 --n-test 2)
    DATA_FALLBACK_ARGS=(--preset paper --n-train 4 --n-valid 2 --n-test 2)
    # The tiny U-Net and batch 4 (8 training paths); everything else as on the GPU.
    TRAIN_ARGS=(--preset tiny --steps 30000 --batch-size 4 --set lr=2e-4 frames=null --checkpoint-every 10)
    EVAL_ARGS=(--n 2 --discard 1 --segments 1)
    # One torch thread per process: on 2 busy cores two threads made a tiny training step 45x slower.
    export OMP_NUM_THREADS=1
else
    MODE=gpu
    TOTAL_S=500        # the caller allows ~9 minutes, including its own setup
    CHECKS_S=90
    DATA_S=120         # measured ~0.06-0.09 s per path and core plus a ~15-30 s numba compile: ~45 s on 16 cores
    TRAIN_MAX_S=400
    EVAL_RESERVE_S=180 # CUDA evaluation (~1 min expected) plus time for the CPU fallback
    DEVICE=cuda
    DATA_ARGS=(--preset paper)
    DATA_FALLBACK_ARGS=(--preset paper --n-train 500 --n-valid 20 --n-test 100)
    # PDD B.3 (experiments/README.md, "Paper scale"): paper U-Net, batch 50 of whole 64-frame
    # paths, Adam lr 2e-4, float32 (bf16 is checked in stage 1). Checkpoints every 100 steps (a
    # ~64 MB file each), so stopping loses at most 100 steps of the evaluated model (the log keeps
    # every step) and even a slow run leaves one to evaluate.
    TRAIN_ARGS=(--preset paper --steps 30000 --batch-size 50 --set lr=2e-4 frames=null --checkpoint-every 100)
    EVAL_ARGS=(--n 100)
    EVAL_FALLBACK_ARGS=(--n 10)  # the paper U-Net's path score on 16 CPU cores: estimated ~2 s per call for 20 paths
fi
DEADLINE=$((SECONDS + TOTAL_S))

echo "== pdd GPU check ($MODE) $(date -u +%FT%TZ), deadline in ${TOTAL_S}s"
left() { echo $((DEADLINE - SECONDS)); }
note() { echo "NOTE: $*"; echo "$*" >> "$WORK/notes.txt"; }

# stage NAME BUDGET_S COMMAND...: run COMMAND under `timeout` (TERM, then KILL 15 s later), never
# past the deadline, and append {stage, rc, seconds, budget_s} to stages.jsonl. Sets STAGE_RC.
stage() {
    local name=$1 budget=$2
    shift 2
    local cap=$(($(left) - 5))
    [ "$budget" -gt "$cap" ] && budget=$cap
    if [ "$budget" -lt 10 ]; then
        echo "== $name: skipped, a budget of ${budget}s ($(left)s to the deadline)"
        STAGE_RC=125
        printf '{"stage": "%s", "rc": null, "seconds": 0, "budget_s": %d, "skipped": "no time left"}\n' "$name" "$budget" >> "$WORK/stages.jsonl"
        return
    fi
    echo "== $name (budget ${budget}s, $(left)s to the deadline): $*"
    local started=$SECONDS
    timeout -s TERM -k 15 "$budget" "$@"
    STAGE_RC=$?
    echo "== $name: exit code $STAGE_RC after $((SECONDS - started))s$([ $STAGE_RC = 124 ] && echo ' (timed out)')"
    printf '{"stage": "%s", "rc": %d, "seconds": %d, "budget_s": %d}\n' "$name" "$STAGE_RC" $((SECONDS - started)) "$budget" >> "$WORK/stages.jsonl"
}

# 1. CUDA against CPU. Its JSON is rewritten after every check, so a timeout keeps what finished.
stage cuda-checks "$CHECKS_S" "$PY" "$HERE/cuda_checks.py" --out "$OUT/cuda_checks.json" --work "$WORK/cuda_checks"

# 2. Paper-scale data; a failed or slow generation is replaced by a smaller one.
stage data "$DATA_S" "${PDD[@]}" data generate lorenz96 "${DATA_ARGS[@]}" --seed 0 --out "$DATA" --no-progress
if [ "$STAGE_RC" != 0 ]; then
    note "data: '${DATA_ARGS[*]}' failed or ran out of time (exit $STAGE_RC); falling back to '${DATA_FALLBACK_ARGS[*]}'"
    stage data-fallback "$DATA_S" "${PDD[@]}" data generate lorenz96 "${DATA_FALLBACK_ARGS[@]}" --seed 0 --out "$DATA" --overwrite --no-progress
fi

# 3. Train for the time left before the evaluation's reserve; timeout's TERM stops it cleanly.
TRAIN_S=$(($(left) - EVAL_RESERVE_S - 15))
[ "$TRAIN_S" -gt "$TRAIN_MAX_S" ] && TRAIN_S=$TRAIN_MAX_S
[ "$TRAIN_S" -lt 30 ] && TRAIN_S=30
stage train "$TRAIN_S" "$PY" "$HERE/timed_train.py" --stats "$WORK/train_stats.json" -- \
    --data "$DATA" --model unet --out "$RUN" --device "$DEVICE" --log-every 1 --no-progress "${TRAIN_ARGS[@]}"

# 4. Evaluate Tables 1-3 with the default sampler. `pdd evaluate` has no --device flag
# (evaluate_on.py loads the run on DEVICE); a CUDA failure falls back to fewer paths on the CPU.
EVAL_COMMON=(--data "$DATA" --tasks simulate,generate,super-resolve --lambdas 0 --no-progress)
EVAL_DEVICE=$DEVICE
reserve=$([ "$DEVICE" = cuda ] && echo 75 || echo 0)  # left for the CPU fallback
stage "evaluate-$DEVICE" $(($(left) - reserve)) "$PY" "$HERE/evaluate_on.py" "$DEVICE" -- "$RUN" --out "$EVAL" "${EVAL_ARGS[@]}" "${EVAL_COMMON[@]}"
if [ "$STAGE_RC" != 0 ] && [ "$DEVICE" = cuda ]; then
    note "evaluate: on CUDA with '${EVAL_ARGS[*]}' failed (exit $STAGE_RC); falling back to the CPU with '${EVAL_FALLBACK_ARGS[*]}'"
    EVAL_DEVICE=cpu
    rm -rf "$EVAL"
    stage evaluate-cpu $(($(left) - 5)) "$PY" "$HERE/evaluate_on.py" cpu -- "$RUN" --out "$EVAL" "${EVAL_FALLBACK_ARGS[@]}" "${EVAL_COMMON[@]}"
fi

# Collect: the summary, then the run's files (missing ones are reported in the summary).
"$PY" "$HERE/summarize.py" --work "$WORK" --data "$DATA" --run "$RUN" --eval "$EVAL" --eval-device "$EVAL_DEVICE" --mode "$MODE" \
    --checks "$OUT/cuda_checks.json" --train-args="${TRAIN_ARGS[*]}" --out "$OUT/summary.json"
for file in "$RUN/config.json" "$RUN/log.jsonl" "$EVAL/metrics.json" "$EVAL/generate_psd.png"; do
    [ -f "$file" ] && cp "$file" "$OUT/"
done
echo "== done in ${SECONDS}s; OUT: $(ls "$OUT" | tr '\n' ' ')"
exec >&- 2>&-
wait "$TEE_PID"  # check.log is complete before the caller collects OUT
