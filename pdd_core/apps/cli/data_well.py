"""``pdd data import the-well`` and ``pdd data export --format the-well``: The Well's HDF5 layout in and out."""

from __future__ import annotations

import argparse
import sys

from pdd_core.apps.cli.main import add_no_verify_argument
from pdd_core.apps.datasets.well_export import export_the_well
from pdd_core.apps.datasets.well_import import import_the_well
from pdd_core.errors import ConfigError, bad_argument

FORMATS = ("the-well",)

IMPORT_EPILOG = """\
PATH is a Well dataset directory (ROOT/data/{train,valid,test}/*.hdf5: its splits are kept) or
Well .hdf5 files / directories of them (all go to --split). Every axis must be periodic and
uniform (pdd's RG schemes are spectral); constant fields and scalars are not imported (listed).
Each time-varying field becomes channels: t0 one, t1 d (name_x, name_y, ...), t2 d².

examples:
  pdd data import the-well the_well/datasets/shear_flow --out data/shear_flow.h5
  pdd data import the-well run_0.hdf5 run_1.hdf5 --out data/mine.h5 --fields vorticity
  pdd data import the-well well/l96 --out l96_again.h5
"""

EXPORT_EPILOG = """\
Writes DIR/data/<split>/NAME.hdf5 for each non-empty split and DIR/stats.yaml (mean, std, rms and
their one-step-difference versions per field, from train), which the_well.data.WellDataset(path=DIR,
well_split_name=...) reads unmodified. Channels become scalar (t0) fields named after the system's
channels; outputs of pdd generate/simulate/super-resolve are de-standardised to physical units.
Each split is verified against its SHA-256 first and a damaged one is refused; each field then
carries the SHA-256 of its values (pdd_sha256), which `pdd data import` checks. With --no-verify
the fields carry none, and an import of them records no checksum either.

examples:
  pdd data export data/l96_small.h5 --format the-well --out well/l96
  pdd data export samples.h5 --format the-well --out well/kf_generated --name pdd_generated
"""


def add_import(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "import",
        help="turn files of another layout (The Well) into a dataset file",
        description="Convert The Well's HDF5 files into a pdd dataset file, one trajectory at a time.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("format", metavar="FORMAT", help=f"source layout: {', '.join(FORMATS)}")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a Well dataset directory, .hdf5 files, or directories of them")
    parser.add_argument("--out", required=True, metavar="FILE.h5", help="the pdd dataset file to write")
    parser.add_argument("--split", default="train", help="split of files that are not in a Well dataset directory (default: train)")
    parser.add_argument("--fields", metavar="NAME,...", help="Well fields to import (default: every time-varying field)")
    parser.add_argument("--symbol", choices=("continuous", "lattice"), help="wavenumber symbol of the grid (default: continuous, or what a pdd export recorded)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing FILE.h5")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")


def add_export(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "export",
        help="write a dataset file (or a generated/simulated output) in another layout (The Well)",
        description="Write a dataset file in The Well's HDF5 layout, with its normalisation statistics, one path at a time.",
        epilog=EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE.h5", help="a dataset file, or an output of pdd generate/simulate/super-resolve")
    parser.add_argument("--format", required=True, help=f"target layout: {', '.join(FORMATS)}")
    parser.add_argument("--out", required=True, metavar="DIR", help="the Well dataset directory to write")
    parser.add_argument("--name", help="file name inside each split directory (default: FILE's stem)")
    parser.add_argument("--overwrite", action="store_true", help="replace files of an earlier export")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    add_no_verify_argument(parser)


def _check_format(flag: str, value: str) -> None:
    if value not in FORMATS:
        raise bad_argument(flag, value, "unknown layout", f"use one of {', '.join(FORMATS)}", kind=ConfigError)


def run_import(args: argparse.Namespace) -> int:
    _check_format("FORMAT", args.format)
    fields = [name.strip() for name in args.fields.split(",") if name.strip()] if args.fields else None
    report = import_the_well(args.paths, args.out, split=args.split, fields=fields, symbol=args.symbol, overwrite=args.overwrite, progress=not args.no_progress)
    metadata = report.metadata
    for name, files in report.files.items():
        print(f"  {name}: {len(files)} file(s), {metadata.splits[name][0]} paths")
    print(f"  channels: {', '.join(report.channels)}; grid {metadata.grid.shape}, length {tuple(round(x, 6) for x in metadata.grid.lengths)}; dt {metadata.dt:g}")
    if report.skipped:
        print(f"  not imported (pdd paths have no constant inputs): {', '.join(report.skipped)}", file=sys.stderr)
    if report.unverified:
        print(f"  stored without a checksum (exported by pdd without verification): {', '.join(report.unverified)}", file=sys.stderr)
    print(f"wrote {report.path.resolve()}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    _check_format("--format", args.format)
    report = export_the_well(args.file, args.out, name=args.name, overwrite=args.overwrite, progress=not args.no_progress)
    for split, path in report.files.items():
        print(f"  {split}: {report.paths[split]} trajectories -> {path}")
    print(f"  fields (t0): {', '.join(report.fields)}" + ("" if report.physical else " (standardised values: the run's training statistics are unknown)"))
    unverified = [split for split in report.files if split not in report.verified]
    if unverified:
        print(f"  not verified (--no-verify, or no checksum stored): {', '.join(unverified)}; an import records no checksum for them", file=sys.stderr)
    print(f"wrote {report.directory.resolve()} (with stats.yaml)")
    return 0


__all__ = ["FORMATS", "add_export", "add_import", "run_export", "run_import"]
