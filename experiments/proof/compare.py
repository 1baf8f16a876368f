"""Compare two demo outputs number for number: python experiments/proof/compare.py OUT_A OUT_B

Every value of summary.json and evaluation/metrics.json must be equal (==, not close); timings,
figure lists and the paths that name the output directories are skipped. Exit 1 on a difference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SKIPPED = ("seconds", "figures", "file", "run", "data")


def flat(record, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        name = f"{prefix}.{key}" if prefix else key
        out.update(flat(value, name) if isinstance(value, dict) else {name: value})
    return out


def main() -> None:
    a, b = Path(sys.argv[1]), Path(sys.argv[2])
    differences = 0
    for name in ("summary.json", "evaluation/metrics.json"):
        left, right = flat(json.loads((a / name).read_text())), flat(json.loads((b / name).read_text()))
        keys = sorted(set(left) | set(right))
        compared = [key for key in keys if not any(part in SKIPPED or "seconds" in part for part in key.split("."))]
        differing = [key for key in compared if left.get(key) != right.get(key)]
        print(f"{name}: {len(compared)} values compared, {len(differing)} differ")
        for key in differing:
            print(f"  {key}: {left.get(key)!r} != {right.get(key)!r}")
        differences += len(differing)
    raise SystemExit(1 if differences else 0)


if __name__ == "__main__":
    main()
