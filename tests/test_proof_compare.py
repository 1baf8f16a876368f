"""experiments/proof/compare.py: two demo outputs agree number for number, paths and timings aside."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "proof" / "compare.py"


def write_demo(out: pathlib.Path, l2: float, seconds: float) -> pathlib.Path:
    (out / "evaluation").mkdir(parents=True)
    (out / "summary.json").write_text(json.dumps({"metrics": {"l2": l2}, "seconds": {"train": seconds}, "total_seconds": seconds}))
    (out / "evaluation" / "metrics.json").write_text(json.dumps({"run": str(out / "run"), "simulate": {"l2": l2}, "figures": [str(out)]}))
    return out


def compare(a: pathlib.Path, b: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True)


def test_equal_numbers_pass_and_one_bit_of_difference_fails(tmp_path):
    same = compare(write_demo(tmp_path / "a", 0.5, 1.0), write_demo(tmp_path / "b", 0.5, 2.0))
    assert same.returncode == 0 and "0 differ" in same.stdout
    other = compare(tmp_path / "a", write_demo(tmp_path / "c", 0.5 + 2**-53, 1.0))
    assert other.returncode == 1 and "metrics.l2" in other.stdout and "simulate.l2" in other.stdout
