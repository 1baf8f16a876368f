"""What ``pdd rg-flow`` writes: the record header shared by flows.json and learned_flow.json, and
atomic JSON and PNG writers (temporary file in the same directory, then rename). An undefined number is
written as null by the code that computes it (``Estimate.to_json``); a NaN or inf that still reaches the
JSON writer is refused by name, as JSON has no such numbers."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from pdd_core.config import tagged
from pdd_core.errors import bad_argument
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


def non_finite_number(value: Any, key: str = "") -> tuple[str, float] | None:
    """The key (``a.b[2]``) and value of the first NaN or infinite number in ``value``, None if every number is finite."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (key, value)
    if isinstance(value, dict):
        items = ((f"{key}.{name}" if key else str(name), item) for name, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{key}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    return next((found for found in (non_finite_number(item, name) for name, item in items) if found is not None), None)


def save_json(path: Path, record: dict[str, Any]) -> None:
    """Write ``record`` to ``path`` atomically; a NaN or inf in it is refused in one line naming its key, and nothing is written."""
    found = non_finite_number(record)
    if found is not None:
        key, value = found
        raise bad_argument(f"{path.name}: {key}", value, "is not a finite number (JSON has none), so nothing was written", "check the option or input this number comes from")

    def write(name: Path) -> None:
        with open(name, "w", encoding="utf-8") as file:
            json.dump(record, file, indent=1, allow_nan=False)
            file.write("\n")

    write_atomically(path, write)


def save_figure(path: Path, figure: Any) -> None:
    write_atomically(path, lambda name: figure.savefig(name, format="png", dpi=110))
