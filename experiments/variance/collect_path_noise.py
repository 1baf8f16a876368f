"""Tabulate path_noise_generation.sh and path_noise_super_resolution.sh: python experiments/variance/collect_path_noise.py OUT_DIR

Per run and path noise: the generation spectral error with its 64-vs-64 floor and ratio, and per
channel the std ratio, the mean offset and the time-averaged PSD ratio range against the truth;
then the super-resolution spectral error beside its low-resolution input's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1])
    print("| run | path noise | spectral error (floor, ratio) | std ratio X, Y | mean offset X, Y | PSD ratio range X; Y |")
    print("|---|---|---|---|---|---|")
    for metrics in sorted(root.glob("*/metrics.json")):
        run, noise = metrics.parent.name.rsplit("_", 1)
        if "generate" not in (record := json.loads(metrics.read_text())):
            continue
        generate = record["generate"]
        channels = generate["climate"]["channels"]
        std = ", ".join(f"{c['std_ratio']:.2f}" for c in channels.values())
        mean = ", ".join(f"{c['mean_offset']:+.2f}" for c in channels.values())
        psd = "; ".join(f"{c['psd_ratio_min']:.2g}-{c['psd_ratio_max']:.2g}" for c in channels.values())
        print(f"| {run} | {noise} | {generate['spectral_error']:.3f} ({generate['spectral_error_floor']:.3f}, {generate['floor_ratio']:.1f}×) | {std} | {mean} | {psd} |")

    print()
    print("| run | path noise | super-resolution (floor, paths) | low-resolution input |")
    print("|---|---|---|---|")
    for metrics in sorted(root.glob("*_sr_*/metrics.json")):
        run, noise = metrics.parent.name.split("_sr_")
        record = json.loads(metrics.read_text())
        sr, lr = record["super_resolve"], record["low_resolution"]
        floor = "no disjoint floor" if sr["spectral_error_floor"] is None else f"{sr['spectral_error_floor']:.3f}"
        print(f"| {run} | {noise} | {sr['spectral_error']:.3f} ({floor}, {sr['paths']} paths) | {lr['spectral_error']:.3f} |")


if __name__ == "__main__":
    main()
