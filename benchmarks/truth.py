"""Truth-system benchmark: Lorenz-96 and Kolmogorov flow against their references.

Runs ``benchmarks/truth_lorenz96.py`` and ``benchmarks/truth_kolmogorov.py`` in one process
(single-threaded, medians, ratios against references timed in the same run) and measures the
peak resident memory of generating the Lorenz-96 ``paper`` dataset with ``pdd data generate``
in a child process, relative to the size of the data it stores (target: < 1.5x).

    python benchmarks/truth.py --json OUT.json               # memory on a 1/8 paper set
    python benchmarks/truth.py --json OUT.json --paper-set   # the full 3000/100/100 set (minutes)
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import os
import subprocess
import tempfile
import time

import numba
import torch

from benchmarks import truth_kolmogorov, truth_lorenz96
from benchmarks.output import emit

CHILD = """
import resource, sys, time
from pdd_core.apps.cli.main import main
start = time.perf_counter()
code = main(sys.argv[1:])
print("SECONDS", time.perf_counter() - start)
print("MAXRSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""

BASELINE = "import resource, systems, pdd_core.apps.cli.main; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def _child(arguments: list[str]) -> dict[str, float]:
    environment = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", CHILD, *arguments], capture_output=True, text=True, env=environment, check=True)
    values = dict(line.split() for line in result.stdout.splitlines() if line.startswith(("SECONDS", "MAXRSS_KIB")))
    return {key: float(value) for key, value in values.items()}


def paper_set_memory(fraction: float) -> dict:
    """Peak RSS of generating the L96 paper preset (or ``fraction`` of its paths), minus the
    RSS of merely importing the library, relative to the float32 data written."""
    from systems import Lorenz96

    paper = Lorenz96.presets["paper"]
    sizes = [max(1, round(n * fraction)) for n in (paper.n_train, paper.n_valid, paper.n_test)]
    baseline_kib = float(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "l96.h5")
        arguments = ["data", "generate", "lorenz96", "--preset", "paper", "--out", out, "--seed", "0", "--no-progress"]
        arguments += ["--n-train", str(sizes[0]), "--n-valid", str(sizes[1]), "--n-test", str(sizes[2])]
        measured = _child(arguments)
        file_bytes = os.path.getsize(out)
    data_bytes = sum(sizes) * paper.n_frames * 2 * 128 * 4
    extra_bytes = (measured["MAXRSS_KIB"] - baseline_kib) * 1024
    return {
        "paths": sum(sizes),
        "fraction_of_paper_set": fraction,
        "float32_data_bytes": data_bytes,
        "file_bytes_compressed": file_bytes,
        "peak_rss_bytes": measured["MAXRSS_KIB"] * 1024,
        "import_baseline_rss_bytes": baseline_kib * 1024,
        "generation_rss_over_data": extra_bytes / data_bytes,
        "target_ratio": 1.5,
        "met": extra_bytes / data_bytes < 1.5,
        "seconds": measured["SECONDS"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (median reported)")
    parser.add_argument("--paper-set", action="store_true", help="measure memory on the full L96 paper set instead of 1/8 of it")
    parser.add_argument("--json", metavar="OUT.json", help="also write the results to this file")
    args = parser.parse_args()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    started = time.perf_counter()
    results = {
        "benchmark": "truth",
        "lorenz96": truth_lorenz96.run(args.repeats),
        "kolmogorov": truth_kolmogorov.run(args.repeats),
        "lorenz96_paper_set_memory": paper_set_memory(1.0 if args.paper_set else 0.125),
    }
    results["seconds"] = time.perf_counter() - started
    emit(results, args.json)


if __name__ == "__main__":
    main()
