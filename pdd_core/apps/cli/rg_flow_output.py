"""What ``pdd rg-flow`` writes: the record header shared by flows.json and learned_flow.json, and
atomic JSON and PNG writers (temporary file in the same directory, then rename)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Callable

from pdd_core.config import tagged
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


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """Write through a temporary file in the same directory and rename it into place."""
    temporary = str(path.with_name(f".{path.name}.{os.getpid()}.tmp"))
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def save_json(path: Path, record: dict[str, Any]) -> None:
    def write(name: str) -> None:
        with open(name, "w", encoding="utf-8") as file:
            json.dump(record, file, indent=1, allow_nan=False)
            file.write("\n")

    write_atomically(path, write)


def save_figure(path: Path, figure: Any) -> None:
    write_atomically(path, lambda name: figure.savefig(name, format="png", dpi=110))
