"""Tabulate the climate of the lever runs: python experiments/climate/collect_levers.py OUT_DIR [--markdown]

Reads OUT_DIR/CONFIG_sSEED/eval/metrics.json (written by train_levers.sh) and prints, per config and λ,
for the deterministic (det, against C_λ u0) and the stochastic (sto, against C_λ u0 + noise) rollouts,
the worst per-channel mean offset, std error, speed error, PSD ratio range, the spectral error
with its floor, and the long rollout's blow-up step and collapse, per seed and as the median.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path


def rows(root: Path):
    for metrics in sorted(root.glob("*_s*/eval/metrics.json")):
        config, seed = re.match(r"(.+)_s(\d+)$", metrics.parent.parent.name).groups()
        data = json.loads(metrics.read_text())
        for lam, entry in data.get("simulate", {}).get("by_lambda", {}).items():
            for kind, long_key, short_key in (("det", "long_rollout", "climate"), ("sto", "long_rollout_stochastic", "climate_stochastic")):
                if short_key not in entry:
                    continue
                values = record(entry, entry.get(long_key) or {}, entry[short_key])
                if kind == "sto":  # the stochastic rollout's own spatiotemporal spectrum against the noisy truth
                    values.update(spectral=entry[short_key].get("spectral_error", float("nan")), floor=entry[short_key].get("spectral_error_floor"))
                    kind += "-" + data.get("sampling", {}).get("rollout_noise", {}).get("kind", "model")
                yield config, int(seed), f"{lam} {kind}", values


def record(entry, long, short):
    block = long.get("climate") or short
    if "max_abs_mean_offset" not in block:  # a stochastic rollout that blew up
        return {key: None for key in ("mean", "std", "speed", "psd_min", "psd_max", "collapsed")} | {"spectral": entry["spectral_error"], "floor": entry.get("spectral_error_floor"), "l2": entry["l2"], "blow_up": block.get("blow_up_step") or long.get("blow_up_step")}
    return {
        "mean": block["max_abs_mean_offset"],
        "std": block["max_std_error"],
        "speed": block["max_speed_error"],
        "psd_min": block["psd_ratio_min"],
        "psd_max": block["psd_ratio_max"],
        "spectral": entry["spectral_error"],
        "floor": entry.get("spectral_error_floor"),
        "l2": entry["l2"],
        "blow_up": long.get("blow_up_step"),
        "collapsed": long.get("collapsed", block.get("collapsed")),
    }


def main() -> None:
    root = Path(sys.argv[1])
    table = defaultdict(list)
    for config, seed, lam, values in rows(root):
        table[(config, lam)].append((seed, values))
    print("| config | λ | seeds | max mean offset | max std error | max speed error | PSD ratio range | spectral (floor) | L2 step 6 | blow-up / collapse |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (config, lam), entries in sorted(table.items()):
        entries.sort()
        def cell(key, fmt="{:.2f}"):
            return ", ".join(fmt.format(v[key]) if v[key] is not None else "-" for _, v in entries)
        psd = ", ".join(f"{v['psd_min']:.2g}-{v['psd_max']:.2g}" if v["psd_min"] is not None else "-" for _, v in entries)
        spectral = ", ".join("-" if v["spectral"] != v["spectral"] else f"{v['spectral']:.2f} ({v['floor']:.2f})" if v["floor"] else f"{v['spectral']:.2f}" for _, v in entries)
        events = ", ".join(("blow-up " + str(v["blow_up"])) if v["blow_up"] else ("collapse" if v["collapsed"] else "ok") for _, v in entries)
        seeds = ",".join(str(s) for s, _ in entries)
        print(f"| {config} | {lam} | {seeds} | {cell('mean')} | {cell('std')} | {cell('speed')} | {psd} | {spectral} | {cell('l2')} | {events} |")


if __name__ == "__main__":
    main()
