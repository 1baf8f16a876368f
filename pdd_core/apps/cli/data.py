"""``pdd data``: generate dataset files from a registered system, summarise them, import and export other layouts."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

import attrs

from pdd_core.apps.cli.data_well import add_export, add_import, run_export, run_import
from pdd_core.apps.cli.main import COMMANDS
from pdd_core.apps.cli.request_costs import check_data_generation
from pdd_core.apps.datasets.generation import configure_system, generate_dataset, resolve_preset
from pdd_core.config import from_dict
from pdd_core.data.hdf5_layout import DatasetMetadata
from pdd_core.data.hdf5_reader import read_metadata, verify_checksums
from pdd_core.errors import ConfigError, PDDError, bad_argument
from pdd_core.registry import SYSTEMS

HELP = "generate dataset files of a physical system, summarise one, or import/export The Well's layout"

GENERATE_DESCRIPTION = "Simulate a registered system and write a dataset file."

GENERATE_EPILOG = """\
Writes FILE.h5 with splits train/valid/test shaped [N, T, C, *space] (float32) and the
per-channel mean/std of train (layout: docs/data_format.md). Parameters are the system's
defaults, then the preset's overrides, then --set. Progress goes to stderr.

Crash safety: work in progress lives in FILE.h5.partial/; re-running the same command after
an interruption (even kill -9) resumes it and gives the same file, byte for byte.

examples:
  pdd data generate lorenz96 --preset small --out data/l96_small.h5
  pdd data generate kolmogorov --preset paper --out data/kf.h5 --seed 1
  pdd data generate linear --out lin.h5 --n-train 256 --set gamma=0.5 shape=[32,32]
  pdd data generate phi4 --out phi4.h5 --set m2=0.01 leapfrog_steps=500 --overwrite
  pdd data info data/l96_small.h5
"""

INFO_EPILOG = """\
examples:
  pdd data info data/l96_small.h5
  pdd data info data/l96_small.h5 --json
"""


def parse_setting(text: str) -> tuple[str, Any]:
    """``key=value`` -> ``(key, value)``; the value is a JSON literal when it parses as one
    (numbers, true/false, null, lists -> tuples, objects), else the raw string."""
    key, separator, raw = text.partition("=")
    if not separator or not key.strip():
        raise bad_argument("--set", text, "expected key=value", "write e.g. --set F=8 or --set shape=[64,64]", kind=ConfigError)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), _lists_to_tuples(value)


def _lists_to_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_lists_to_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _lists_to_tuples(item) for key, item in value.items()}
    return value


def _add_generate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("system", metavar="SYSTEM", help=f"registered system name ({', '.join(SYSTEMS.names()) or 'none installed'})")
    parser.add_argument("--preset", default="small", help="dataset preset: small (minutes on 2 cores, says what it scaled down) or paper (default: small)")
    parser.add_argument("--out", required=True, metavar="FILE.h5", help="output file (parent directories are created)")
    parser.add_argument("--n-train", type=int, metavar="N", help="number of training paths (default: the preset's)")
    parser.add_argument("--n-valid", type=int, metavar="N", help="number of validation paths (default: the preset's)")
    parser.add_argument("--n-test", type=int, metavar="N", help="number of test paths (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the file is a function of it (default: 0)")
    parser.add_argument(
        "--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help="override system parameters (values are JSON literals, else strings)"
    )
    parser.add_argument("--chunk-paths", type=int, metavar="N", help="paths generated and saved per resumable chunk (default: automatic, ~16 MiB)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing FILE.h5 (and discard a mismatched unfinished one)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")


def _add_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.h5", help="a dataset file")
    parser.add_argument("--json", action="store_true", help="print the metadata as JSON")
    parser.add_argument("--no-verify", action="store_true", help="skip reading every path to check the splits' SHA-256 checksums")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "examples:\n  pdd data generate lorenz96 --preset small --out l96.h5\n  pdd data info l96.h5\n"
        "  pdd data export l96.h5 --format the-well --out well/l96\n  pdd data import the-well well/l96 --out l96_again.h5\n"
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="simulate a system and write a dataset file",
        description=GENERATE_DESCRIPTION,
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_generate(generate)
    info = actions.add_parser(
        "info",
        help="summarise a dataset file",
        description=(
            "Print a summary of a dataset file: system, config, grid, dt, split shapes, mean/std, size on disk. "
            "Each split's stored bytes are checked against its SHA-256 (exit code 2 when damaged)."
        ),
        epilog=INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_info(info)
    add_import(actions)
    add_export(actions)


def run(args: argparse.Namespace) -> int:
    return {"generate": run_generate, "info": run_info, "import": run_import, "export": run_export}[args.data_command](args)


def run_generate(args: argparse.Namespace) -> int:
    system_cls = SYSTEMS.get(args.system)
    preset_name, preset = resolve_preset(system_cls, args.preset)
    settings = dict(parse_setting(text) for text in args.set)
    system = configure_system(system_cls, preset_name, settings)
    setting = ("--set", " ".join(args.set)) if args.set else ("--preset", args.preset)
    check_data_generation(system, preset, (args.n_train, args.n_valid, args.n_test), args.chunk_paths, setting=setting)
    if not args.no_progress:
        print(f"generating {args.system} (preset {preset_name!r}) into {args.out}", file=sys.stderr)
    try:
        report = generate_dataset(
            system,
            preset_name,
            args.out,
            args.seed,
            n_train=args.n_train,
            n_valid=args.n_valid,
            n_test=args.n_test,
            progress=not args.no_progress,
            chunk_paths=args.chunk_paths,
            overwrite=args.overwrite,
        )
    except KeyboardInterrupt:
        print(f"pdd data generate: interrupted; finished chunks are kept in {args.out}.partial/, re-run the same command to resume", file=sys.stderr)
        return 130
    metadata = report.metadata
    print(f"generated {args.system} with preset {preset_name!r}, seed {args.seed}, in {report.seconds:.1f} s")
    if preset.note:
        print(f"  preset: {preset.note}")
    if preset.overrides:
        print(f"  preset overrides: {_json(preset.overrides)}")
    if settings:
        print(f"  --set: {_json(settings)}")
    if report.chunks_resumed:
        print(f"  resumed an interrupted run: {report.chunks_resumed} of {report.chunks_total} chunks were already done")
    print(f"  splits: {_splits(metadata)}")
    print(f"wrote {report.path.resolve()} ({_size(report.bytes_on_disk)})")
    return 0


def run_info(args: argparse.Namespace) -> int:
    metadata = read_metadata(args.file)
    size = os.path.getsize(args.file)
    checksums = None if args.no_verify else verify_checksums(args.file)
    if args.json:
        print(json.dumps({**_metadata_dict(metadata), "bytes_on_disk": size, "checksums": checksums}, indent=2))
        return 0
    grid = metadata.grid
    rows = [
        ("file", f"{args.file} ({_size(size)} on disk, format version {metadata.format_version})"),
        ("system", f"{metadata.system}{_rebuild_note(metadata)}"),
        ("config", _json(metadata.config)),
        ("grid", f"shape {grid.shape}, length {tuple(round(x, 6) for x in grid.lengths)}, channels {grid.channels}, symbol {grid.symbol}"),
        ("dt", f"{metadata.dt:g}"),
        ("splits", _splits(metadata)),
        ("mean", _vector(metadata.mean)),
        ("std", _vector(metadata.std)),
        ("provenance", _provenance(metadata)),
        ("checksums", _checksums(checksums)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _checksums(checksums: dict[str, bool | None] | None) -> str:
    if checksums is None:
        return "not verified (--no-verify)"
    if all(value is None for value in checksums.values()):
        return "none stored (a file written before pdd kept them)"
    return ", ".join(f"{name} {'ok' if value else 'none stored'}" for name, value in checksums.items())


def _provenance(metadata: DatasetMetadata) -> str:
    recorded = {"seed": metadata.seed, "preset": metadata.preset, "chunk_paths": metadata.chunk_paths, "pdd": metadata.pdd_version}
    return ", ".join(f"{key} {value}" for key, value in recorded.items() if value is not None) or "none recorded"


def _rebuild_note(metadata: DatasetMetadata) -> str:
    """Whether the stored config rebuilds a registered system (it should for generated files)."""
    if metadata.system not in SYSTEMS.names():
        return " (not a system registered in this installation)"
    try:
        from_dict(SYSTEMS.get(metadata.system), metadata.config)
    except PDDError as error:
        return f" (config does not rebuild a registered system: {error})"
    return ""


def _metadata_dict(metadata: DatasetMetadata) -> dict[str, Any]:
    values = attrs.asdict(metadata, recurse=False)
    values["grid"] = {
        "shape": list(metadata.grid.shape),
        "length": list(metadata.grid.lengths),
        "channels": metadata.grid.channels,
        "symbol": metadata.grid.symbol,
    }
    return values


def _splits(metadata: DatasetMetadata) -> str:
    return ", ".join(f"{name} {list(shape)}" for name, shape in metadata.splits.items())


def _vector(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{value:.6g}" for value in values) + "]"


def _json(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


def _size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} B"
    exponent = min(3, int(math.log(n_bytes, 1024)))
    return f"{n_bytes / 1024**exponent:.1f} {('B', 'KiB', 'MiB', 'GiB')[exponent]}"


COMMANDS["data"] = (HELP, add_arguments, run)

__all__ = ["parse_setting", "run_generate", "run_info"]
