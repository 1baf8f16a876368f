"""What keeping freed memory on the heap saves: ``pdd generate`` of a trained run with and without it.

Each repeat runs the same command in a fresh process twice: as the ``pdd`` command runs it
(:func:`pdd_core.heap.keep_freed_heap` at its start) and, as the reference, with that call
replaced by a no-op (glibc's default: the heap's top is given back to the kernel and faulted
in again). Reported per variant: medians of the user and system CPU seconds, the page faults,
and the reference's total CPU time over the variant's (``cpu_speedup``). Single-threaded.

    python benchmarks/heap.py --run RUN_DIR [--n 8] [--frames 16] [--repeats 3] --json OUT.json
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import os
import resource
import statistics
import subprocess
import tempfile

from benchmarks.output import emit

# The command in a child process; the reference replaces the kept heap with a no-op before main runs.
CHILD = """
import sys
import pdd_core.apps.cli.main as cli
if sys.argv[1] == "reference":
    cli.keep_freed_heap = lambda *args, **kwargs: False
sys.exit(cli.main(sys.argv[2:]))
"""
VARIANTS = ("kept", "reference")


def run_child(variant: str, argv: list[str]) -> dict:
    """CPU seconds and page faults of one child process running ``pdd argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", CHILD, variant, *argv], check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"user_s": after.ru_utime - before.ru_utime, "system_s": after.ru_stime - before.ru_stime, "page_faults": after.ru_minflt - before.ru_minflt}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained run directory (pdd train)")
    parser.add_argument("--n", type=int, default=8, help="generated paths (default: 8)")
    parser.add_argument("--frames", type=int, default=16, help="frames per path (default: 16)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant, interleaved (default: 3)")
    parser.add_argument("--json", default=None, help="write the record here too")
    args = parser.parse_args(argv)
    samples: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for variant in VARIANTS:  # interleaved, so the machine's load falls on both alike
                out = pathlib.Path(scratch) / f"{variant}_{repeat}.h5"
                command = ["generate", args.run, "--n", str(args.n), "--frames", str(args.frames), "--seed", "0", "--out", str(out), "--no-progress"]
                samples[variant].append(run_child(variant, command))
    medians = {variant: {key: statistics.median(sample[key] for sample in runs) for key in runs[0]} for variant, runs in samples.items()}
    reference_cpu = medians["reference"]["user_s"] + medians["reference"]["system_s"]
    for values in medians.values():
        values["cpu_speedup"] = reference_cpu / (values["user_s"] + values["system_s"])
    emit({"benchmark": "heap", "command": f"pdd generate RUN --n {args.n} --frames {args.frames}", "run": args.run, "repeats": args.repeats, "threads": 1, "variants": medians}, args.json)


if __name__ == "__main__":
    main()
