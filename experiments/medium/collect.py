"""Tabulate the medium-budget runs: python experiments/medium/collect.py OUT_DIR

Reads OUT_DIR/{pdd,ddpm}_sSEED/eval/metrics.json and run/log.jsonl (written by l96.sh) and prints per
run: training steps and seconds, generation's spectral error with its 64-vs-64 floor and the ratio,
the per-channel std ratio and PSD ratio range of the generated paths, and for PDD super-resolution
against its low-resolution input.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def last_log(run: Path) -> dict:
    lines = (run / "log.jsonl").read_text().splitlines()
    return json.loads(lines[-1]) if lines else {}


def row(directory: Path) -> str:
    model, seed = re.match(r"(\w+?)_s(\d+)$", directory.name).groups()
    metrics = json.loads((directory / "eval" / "metrics.json").read_text())
    log = last_log(directory / "run")
    generate = metrics["generate"]
    channels = generate["climate"]["channels"]
    std = ", ".join(f"{record['std_ratio']:.2f}" for record in channels.values())
    psd = "; ".join(f"{record['psd_ratio_min']:.2g}-{record['psd_ratio_max']:.2g}" for record in channels.values())
    floor = generate.get("spectral_error_floor")
    ratio = f"{generate['spectral_error'] / floor:.1f}x" if floor else "-"
    floor_text = f"{floor:.3f}" if floor else "-"
    sr = metrics.get("super_resolve")
    sr_text = f"{sr['spectral_error']:.3f} / {metrics['low_resolution']['spectral_error']:.3f}" if sr and "spectral_error" in sr else "-"
    return f"| {model} | {seed} | {log.get('step', '-')} | {log.get('time', float('nan')):.0f} | {generate['spectral_error']:.3f} ({floor_text}, {ratio}) | {std} | {psd} | {sr_text} |"


def main() -> None:
    root = Path(sys.argv[1])
    print("| model | seed | steps | training s | generation (floor, ratio) | std ratio X, Y | PSD ratio X; Y | SR / LR input |")
    print("|---|---|---|---|---|---|---|---|")
    for directory in sorted(root.glob("*_s*")):
        if (directory / "eval" / "metrics.json").exists():
            print(row(directory))


if __name__ == "__main__":
    main()
