"""Figure creation on the Agg backend and atomic PNG output.

Figures are built with ``matplotlib.figure.Figure`` and an explicit Agg canvas, never through
pyplot: no display is needed, no global figure state leaks between calls, and threads or a
headless server are safe.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pdd_core.errors import ArgumentError, DTypeError, ShapeError, bad_argument

DPI = 150
PANEL_SIZE = (3.2, 2.6)


def check_output_path(out: Any) -> Path:
    """Require ``out`` to name a ``.png`` file inside an existing directory; return it as a Path."""
    if not isinstance(out, (str, os.PathLike)):
        raise bad_argument("out", out, "expected a file path", "pass e.g. out='figures/simulate.png'", kind=DTypeError)
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise bad_argument("out", str(path), "plots are written as PNG", "give the output file a .png suffix")
    if not path.parent.is_dir():
        raise bad_argument("out", str(path), f"the directory {str(path.parent)!r} does not exist", "create it first (os.makedirs(dirname, exist_ok=True))")
    if path.is_dir():
        raise bad_argument("out", str(path), "is a directory", "pass a file name inside it, e.g. out/psd.png")
    return path


def new_figure(rows: int, cols: int, *, panel_size: tuple[float, float] = PANEL_SIZE) -> tuple[Figure, list[list[Any]]]:
    """A constrained-layout figure with a ``rows x cols`` grid of axes (always a nested list)."""
    figure = Figure(figsize=(panel_size[0] * cols, panel_size[1] * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, [list(row) for row in axes]


def save_figure(figure: Figure, out: Any) -> Path:
    """Write ``figure`` as PNG to ``out`` atomically and return the path.

    The image goes to a temporary file in the same directory first and is then renamed over
    ``out`` (``os.replace``), so a reader never sees a half-written PNG and a failure leaves no
    partial file behind.
    """
    path = check_output_path(out)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise bad_argument("out", str(path), f"cannot create a file in its directory ({error.strerror})", "choose a writable directory") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format="png", dpi=DPI)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a figure is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def channel_labels(channel_names: Sequence[str] | None, channels: int) -> list[str]:
    """Names for ``channels`` channels: the given ones (checked) or ``u`` / ``channel c``."""
    if channel_names is None:
        return ["u"] if channels == 1 else [f"channel {c}" for c in range(channels)]
    names = list(channel_names) if not isinstance(channel_names, str) else [channel_names]
    if len(names) != channels or not all(isinstance(name, str) for name in names):
        raise bad_argument(
            "channel_names",
            channel_names,
            f"expected {channels} strings, one per channel",
            f"pass a list of {channels} names, e.g. ['X', 'Y'] for two channels",
            kind=ShapeError,
        )
    return names


def check_labels(mapping: Any, name: str) -> list[str]:
    """Require a non-empty dict with string keys (the legend / column labels)."""
    if not isinstance(mapping, dict) or not mapping:
        raise bad_argument(
            name,
            mapping if isinstance(mapping, dict) else type(mapping).__name__,
            "expected a non-empty dict {label: array}",
            f"pass e.g. {name}={{'reference': ..., 'surrogate': ...}}",
            kind=DTypeError,
        )
    labels = list(mapping)
    if not all(isinstance(label, str) for label in labels):
        raise bad_argument(name, labels, "labels must be strings", "use labels such as 'reference', 'surrogate', 'DDPM'", kind=ArgumentError)
    return labels
