"""Collect experiments/evaluations/*/metrics.json into the tables of docs/results.md.

    python experiments/collect_results.py > docs/results_tables.md

Numbers are read from the metrics files that `pdd evaluate` wrote, never typed by hand; a run
that has not been evaluated shows as "not run".
"""

from __future__ import annotations

import json
import math
import pathlib
import re
import statistics
import sys

ROOT = pathlib.Path(__file__).resolve().parent / "evaluations"

# PDD paper (Yasuda & Bischoff 2026), Tables 1-3: mean (std) over five runs, per system.
PAPER = {
    "l96": {
        "table1_l2": ("0.503 (±0.011)", "0.557 (±0.031)"),
        "table1_spectral": ("0.120 (±0.014)", "0.226 (±0.077)"),
        "table2_spectral": ("0.343 (±0.028)", "0.267 (±0.020)"),
        "table3": ("0.345 (±0.027)", "0.873 (±0.005)"),
    },
    "kf": {
        "table1_l2": ("0.691 (±0.057)", "0.861 (±0.023)"),
        "table1_spectral": ("0.182 (±0.029)", "0.139 (±0.021)"),
        "table2_spectral": ("0.457 (±0.025)", "0.615 (±0.121)"),
        "table3": ("0.303 (±0.011)", "0.743 (±0.005)"),
    },
}
# The λs of Fig. 7 each experiment's evaluate_all.sh simulates at.
# PDD runs with their reverse-λ score: the paper's (scalar σ_λ of Eq. 58, no r_λ) and the
# per-mode extension (per-mode loss, score path-per-mode-r; docs/training.md).
PDD_VARIANTS = {
    "pdd": "PDD (ours, paper's loss and score)",
    "pdd_per_mode": "PDD (ours, per-mode loss + Gaussian r_λ)",
}
SHORT_LABELS = {"pdd": "paper's", "pdd_per_mode": "per-mode"}
ABLATIONS = {
    "pdd": "PDD, U-Net, W = 5 (reference)",
    "window_1": "window 1 (D.2)",
    "window_15": "window 15 (D.2)",
    "noise_free": "noise-free training (D.4)",
    "eq67": "Eq. 67 scheme, γ = 3 (D.3)",
    "fno": "FNO (D.5)",
    "sa_pdd": "SA-PDD (drift head)",
}
FIG7_LAMBDAS = {"l96": ("0", "0.05", "0.1", "0.15", "0.2"), "kf": ("0", "0.1", "0.2")}


def load(experiment: str, name: str) -> dict | None:
    path = ROOT / experiment / name / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def over_seeds(experiment: str, stem: str, task: str, pick, suffix: str = "") -> str:
    """mean (± std, n) of ``pick(metrics[task])`` over the seeds of ``stem`` (``suffix``: a separate evaluation, e.g. ``_sr``).

    A task that ``pdd evaluate`` recorded as failed (a sampler that diverged) shows as
    "diverged (λ = ...)", one that has no metrics file as "not run".
    """
    values, failures = [], []
    for seed in range(10):
        metrics = load(experiment, f"{stem}_seed{seed}{suffix}") or load(experiment, f"{stem}_seed{seed}")
        if metrics is None or task not in metrics:
            continue
        if "failed" in metrics[task]:
            failures.append(_failure_point(metrics[task]["failed"]))
            continue
        try:
            value = pick(metrics[task])
        except KeyError:  # evaluated without this λ
            continue
        if value is not None and math.isfinite(value):
            values.append(value)
    if not values:
        return f"diverged ({', '.join(failures)})" if failures else "not run"
    # With 2-3 seeds a mean can hide one diverged rollout: the per-seed values are listed too.
    cell = f"{_number(values[0])} (1 seed)" if len(values) == 1 else f"{_number(statistics.mean(values))} (±{_number(statistics.stdev(values))}; seeds: {', '.join(map(_number, values))})"
    return cell + (f"; diverged: {', '.join(failures)}" if failures else "")


def _number(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1e3 else f"{value:.3g}"


def _failure_point(message: str) -> str:
    """The λ at which a reverse-λ sampler stopped, from the message of ``check_finite_sample``."""
    found = re.search(r"λ = ([-+0-9.e]+)", message)
    return f"λ = {found.group(1)}" if found else "failed"


def simulate(lam: str, metric: str):
    return lambda task: task["by_lambda"][lam][metric]


def spectral(task: dict) -> float:
    return task["spectral_error"]


def main() -> None:
    experiment = sys.argv[1] if len(sys.argv) > 1 else "l96_small"
    system = experiment.split("_")[0]
    if system not in PAPER:
        sys.exit(f"experiment={experiment!r}: unknown system {system!r}. Fix: use an experiment named after {sorted(PAPER)}, e.g. l96_small or kf_small")
    paper = PAPER[system]
    rows = []
    rows.append("### Table 1: simulation at λ = 0 (L2 at the sixth step, spectral error)\n")
    rows.append("| model | L2 error | spectral error |\n|---|---|---|")
    for stem, label in PDD_VARIANTS.items():
        rows.append(f"| {label} | {over_seeds(experiment, stem, 'simulate', simulate('0', 'l2'))} | {over_seeds(experiment, stem, 'simulate', simulate('0', 'spectral_error'))} |")
    rows.append(f"| DDPM baseline (ours) | {over_seeds(experiment, 'ddpm_simulation', 'simulate', simulate('0', 'l2'))} | {over_seeds(experiment, 'ddpm_simulation', 'simulate', simulate('0', 'spectral_error'))} |")
    rows.append(f"| PDD (paper) | {paper['table1_l2'][0]} | {paper['table1_spectral'][0]} |")
    rows.append(f"| DDPM (paper) | {paper['table1_l2'][1]} | {paper['table1_spectral'][1]} |")
    rows.append("\n### Fig. 7: simulation errors against λ (L2 at step 6, spectral error)\n")
    rows.append("| λ | " + " | ".join(f"L2, {SHORT_LABELS[stem]} | spectral, {SHORT_LABELS[stem]}" for stem in PDD_VARIANTS) + " |")
    rows.append("|---|" + "---|---|" * len(PDD_VARIANTS))
    for lam in FIG7_LAMBDAS[system]:
        cells = [over_seeds(experiment, stem, "simulate", simulate(lam, metric)) for stem in PDD_VARIANTS for metric in ("l2", "spectral_error")]
        rows.append(f"| {lam} | " + " | ".join(cells) + " |")
    rows.append("\n### Table 2: unconditional generation (spectral error)\n")
    rows.append("| model | spectral error |\n|---|---|")
    for stem, label in PDD_VARIANTS.items():
        rows.append(f"| {label} | {over_seeds(experiment, stem, 'generate', spectral, '_sr')} |")
    rows.append(f"| DDPM baseline (ours) | {over_seeds(experiment, 'ddpm_generation', 'generate', spectral)} |")
    rows.append(f"| PDD (paper) | {paper['table2_spectral'][0]} |\n| DDPM (paper) | {paper['table2_spectral'][1]} |")
    rows.append("\n### Table 3: super-resolution from λ = 0.2 (spectral error against λ = 0)\n")
    rows.append("| model | SR | LR |\n|---|---|---|")
    for stem, label in PDD_VARIANTS.items():
        rows.append(f"| {label} | {over_seeds(experiment, stem, 'super_resolve', spectral, '_sr')} | {over_seeds(experiment, stem, 'low_resolution', spectral, '_sr')} |")
    rows.append(f"| PDD (paper) | {paper['table3'][0]} | {paper['table3'][1]} |")
    ablations = [stem for stem in ABLATIONS if load(experiment, f"{stem}_seed0")]
    if not set(ablations) - {"pdd"}:
        print("\n".join(rows))
        return
    rows.append("\n### Ablations (simulation; one seed)\n")
    rows.append("| variant | L2 λ=0 | spectral λ=0 | L2 λ=0.2 | spectral λ=0.2 |\n|---|---|---|---|---|")
    for stem, label in ABLATIONS.items():
        cells = [over_seeds(experiment, stem, 'simulate', simulate(lam, metric)) if load(experiment, f"{stem}_seed0") else "not run" for lam, metric in (("0", "l2"), ("0", "spectral_error"), ("0.2", "l2"), ("0.2", "spectral_error"))]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
