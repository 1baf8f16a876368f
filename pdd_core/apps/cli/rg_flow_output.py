"""What ``pdd rg-flow`` writes: the record header shared by flows.json and learned_flow.json, and
atomic JSON and PNG writers (temporary file in the same directory, then rename)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pdd_core.config import tagged
from pdd_core.files import write_atomically
from pdd_core.grid import Grid
from pdd_core.registry import SYSTEMS
from pdd_core.version import __version__


def record_header(command: str, args: argparse.Namespace, system: Any, grid: Grid) -> dict[str, Any]:
    """The command, version, arguments, seed, system and lattice that every rg-flow record starts with."""
    return {
        "command": command,
        "version": __version__,
        "arguments": {key: value for key, value in vars(args).items() if key != "run"},
        "seed": args.seed,
        "system": tagged(system, SYSTEMS),
        "grid": {"N": list(grid.shape), "L": list(grid.lengths), "spacing": list(grid.spacing), "symbol": grid.symbol},
    }


def save_json(path: Path, record: dict[str, Any]) -> None:
    def write(name: Path) -> None:
        with open(name, "w", encoding="utf-8") as file:
            json.dump(record, file, indent=1, allow_nan=False)
            file.write("\n")

    write_atomically(path, write)


def save_figure(path: Path, figure: Any) -> None:
    write_atomically(path, lambda name: figure.savefig(name, format="png", dpi=110))
