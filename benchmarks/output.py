"""Shared output helper of the benchmark scripts."""

from __future__ import annotations

import json
import os


def emit(results: dict, path: str | None) -> None:
    """Print ``results`` as JSON and, if ``path`` is given, write it there atomically."""
    text = json.dumps(results, indent=2)
    print(text)
    if path:
        with open(path + ".tmp", "w") as handle:
            handle.write(text + "\n")
        os.replace(path + ".tmp", path)
