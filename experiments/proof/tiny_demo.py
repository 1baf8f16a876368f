"""The Lorenz-96 demo at a tiny size, run from a given source tree: the bit-for-bit check of a redesign.

    git worktree add /tmp/before COMMIT
    python experiments/proof/tiny_demo.py /tmp/before /tmp/out_before --scheme-entry-points-only
    python experiments/proof/tiny_demo.py . /tmp/out_after
    python experiments/proof/compare.py /tmp/out_before /tmp/out_after

``--scheme-entry-points-only`` hides the installed entry points of the other registries from a
tree that predates them (it registered its samplers and integrators by import).
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the source tree to run")
    parser.add_argument("out", type=Path, help="the demo's output directory")
    parser.add_argument("--scheme-entry-points-only", action="store_true")
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    if args.scheme_entry_points_only:
        every = metadata.entry_points
        metadata.entry_points = lambda **selection: every(**selection) if selection.get("group", "pdd.schemes") == "pdd.schemes" else metadata.EntryPoints(())
    import torch

    torch.set_num_threads(1)
    from pdd_core.apps.cli import demo
    from pdd_core.apps.cli.main import main as pdd

    if not Path(demo.__file__).resolve().is_relative_to(root):
        raise SystemExit(f"imported {demo.__file__}, not the tree {root}: run from a directory without another pdd_core")
    tiny = {**demo.DEMOS["lorenz96"], "data": {"n_train": 8, "n_valid": 2, "n_test": 4}, "settings": {"burn_in": 2.0}}
    tiny["train"] = {**tiny["train"], "batch_size": 4}
    tiny["evaluate"] = {"n_paths": 4, "keep_segments": 1, "n_generate": 4, "n_super_resolve": 4, "discard_segments": 1}
    demo.DEMOS["lorenz96"] = tiny
    raise SystemExit(pdd(["demo", "--out", str(args.out), "--steps", "20", "--no-progress"]))


if __name__ == "__main__":
    main()
