# Sourced by the evaluate_all.sh scripts: `evaluate NAME ARGS...` runs pdd evaluate on
# experiments/runs/$experiment/NAME with the shared settings in $common (set by the caller),
# writing experiments/evaluations/$experiment/NAME/; finished evaluations are kept, unfinished
# trainings skipped, failures reported with their log.
evaluate() {
  local name=$1; shift
  evaluate_as "$name" "$name" "$@"
}
# `evaluate_as RUN NAME ARGS...`: evaluate run RUN into evaluations/$experiment/NAME.
evaluate_as() {
  local run=$1 name=$2; shift 2
  local runs=experiments/runs/$experiment out=experiments/evaluations/$experiment
  mkdir -p "$out"
  grep -qs "^trained" "$runs/$run.log" || { echo "skip $run (training not finished)"; return; }
  [ -f "$out/$name/metrics.json" ] && { echo "have $name"; return; }
  pdd evaluate "$runs/$run" "${common[@]}" --out "$out/$name" "$@" > "$out/$name.log" 2>&1 && echo "evaluated $name" || echo "FAILED $name (see $out/$name.log)"
}
