"""summary.json of experiments/gpu/check.sh: stages, data, training speed and memory, the tables, and what was scaled down.

Reads what the stages left in the scratch directory (stages.jsonl, notes.txt, train_stats.json),
the run's log.jsonl and the evaluation's metrics.json. Anything missing is reported as missing,
never an error: this runs after every stage, whatever happened to them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pdd_core.apps.trainer.checkpoint import read_log
from pdd_core.data.hdf5_reader import read_metadata

PAPER_STEPS = 30000  # PDD B.3


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def data_summary(path: Path) -> dict:
    if not path.is_file():
        return {"missing": str(path)}
    metadata = read_metadata(path)
    return {"splits": {name: list(shape) for name, shape in metadata.splits.items()}, "preset": metadata.preset, "seed": metadata.seed, "dt": metadata.dt}


def train_summary(run: Path, stats: dict | None, train_args: str) -> dict:
    records = read_log(run / "log.jsonl")
    summary: dict = {"args": train_args, **(stats or {"missing": "train_stats.json (the training stage did not finish)"})}
    if not records:
        return {**summary, "log": "no log records"}
    first, last = records[0], records[-1]
    # Speed between the first and the last record: excludes start-up and the first step's warm-up.
    seconds = last["time"] - first["time"]
    tail = records[-100:]
    return {
        **summary,
        "steps_logged": last["step"],
        "training_seconds": round(last["time"], 1),
        "steps_per_s": round((last["step"] - first["step"]) / seconds, 3) if seconds > 0 else None,
        "loss_first": first["loss"],
        "loss_last": last["loss"],
        "loss_mean_last_100": sum(r["loss"] for r in tail) / len(tail),
    }


def evaluation_summary(metrics: dict | None, device: str) -> dict:
    if metrics is None:
        return {"device": device, "missing": "metrics.json (the evaluation did not finish)"}
    keep = ("l2", "spectral_error", "paths", "failed", "skipped")
    tables = {
        "table1_simulate": metrics.get("simulate"),
        "table2_generate": metrics.get("generate"),
        "table3_super_resolve": metrics.get("super_resolve"),
        "table3_low_resolution_input": metrics.get("low_resolution"),
    }
    return {
        "device": device,
        "reference": metrics.get("reference"),
        "sampling": metrics.get("sampling"),
        **{name: {k: v for k, v in (entry or {}).items() if k in keep} for name, entry in tables.items()},
    }


def scaled_down(data: dict, train: dict, evaluation: dict, notes: list[str]) -> list[str]:
    """One line per departure from the paper's setup, for the issue."""
    lines = list(notes)
    splits = data.get("splits", {})
    if splits and [splits[name][0] for name in ("train", "valid", "test")] != [3000, 100, 100]:
        lines.append(f"data: {splits} instead of 3000/100/100 paths of 64 frames")
    if "steps_logged" in train:
        how = "stopped by the time budget" if train.get("stopped_by_signal") else f"ended (exit code {train.get('exit_code')})"
        kept = f"evaluated the checkpoint of step {train['checkpoint_step']}" if "checkpoint_step" in train else "no checkpoint was written"
        lines.append(f"training: {how} at step {train['steps_logged']} of {PAPER_STEPS}; {kept}")
    paths = (evaluation.get("reference") or {}).get("paths")
    if paths is not None and paths != 100:
        lines.append(f"evaluation: {paths} test paths instead of 100")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("work", "data", "run", "eval", "eval-device", "mode", "train-args", "out", "checks"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    work = Path(args.work)
    stages = json_lines(work / "stages.jsonl")
    notes = (work / "notes.txt").read_text().splitlines() if (work / "notes.txt").is_file() else []
    data = data_summary(Path(args.data))
    train = train_summary(Path(args.run), read_json(work / "train_stats.json"), args.train_args)
    evaluation = evaluation_summary(read_json(Path(args.eval) / "metrics.json"), args.eval_device)
    checks = read_json(Path(args.checks))
    summary = {
        "mode": args.mode,
        "stages": stages,
        "seconds_total": sum(stage["seconds"] for stage in stages),
        "cuda_checks": checks["summary"] if checks else "missing",
        "data": data,
        "train": train,
        "evaluate": evaluation,
        "scaled_down": scaled_down(data, train, evaluation, notes),
    }
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({key: summary[key] for key in ("seconds_total", "cuda_checks", "scaled_down")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
