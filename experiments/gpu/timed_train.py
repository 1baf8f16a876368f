"""Run ``pdd train`` until SIGTERM (e.g. from ``timeout``), stop it as Ctrl-C would, and report.

    timeout -s TERM BUDGET python3 experiments/gpu/timed_train.py --stats STATS.json -- TRAIN_ARGS...

``pdd train`` has no wall-clock limit, but it treats KeyboardInterrupt as a clean stop (the
checkpoint of the last ``--checkpoint-every`` step is kept, exit code 130). SIGTERM is turned
into that KeyboardInterrupt here, because SIGINT cannot be relied on: a non-interactive shell
starts background jobs with SIGINT ignored, and Python then never installs its handler.

STATS.json records the exit code, wall time, the step of the checkpoint left behind (loaded back
with the run's own model builder, to confirm it is usable) and, on CUDA, the peak GPU memory of
this process (the trainer does not log it).
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from pathlib import Path

import torch

from pdd_core.apps.cli.main import main
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.trainer.checkpoint import load_checkpoint


def interrupt(signum, frame):
    raise KeyboardInterrupt


def run_dir_of(train_args: list[str]) -> Path:
    return Path(train_args[train_args.index("--out") + 1])


def main_timed() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", required=True, help="JSON file to write")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the arguments of `pdd train` (must include --out RUN_DIR)")
    args = parser.parse_args()
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    signal.signal(signal.SIGTERM, interrupt)
    started = time.perf_counter()
    try:
        code = main(["train", *train_args])
    except KeyboardInterrupt:  # stopped before the trainer's own handler was reached (startup)
        code = 130
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # from here on, a second TERM just ends the process
    stats = {"exit_code": code, "stopped_by_signal": code == 130, "wall_s": round(time.perf_counter() - started, 1)}
    run_dir = run_dir_of(train_args)
    try:
        stats["checkpoint_step"] = int(load_checkpoint(run_dir)["step"])
        load_run(run_dir)  # rebuilds the network from the checkpoint alone, as evaluate will
        stats["checkpoint_usable"] = True
    except Exception as error:
        stats["checkpoint_usable"] = False
        stats["checkpoint_error"] = f"{type(error).__name__}: {error}"
    if torch.cuda.is_available():
        stats["gpu"] = torch.cuda.get_device_name(0)
        stats["max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        stats["max_memory_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 3)
    Path(args.stats).write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats))
    return 0 if stats["checkpoint_usable"] else 1


if __name__ == "__main__":
    raise SystemExit(main_timed())
