"""Entry point of the ``pdd`` command.

Sub-commands register themselves in ``COMMANDS`` (name -> ``(help, add_arguments, run)``);
errors the library raises on purpose (:class:`pdd_core.errors.PDDError`), and file-system
errors (``OSError``), end the command with exit code 2 and one line on stderr, never a traceback.
Every command runs in one checksum scope (:func:`pdd_core.data.hdf5_reader.verification`):
each dataset split it reads is verified once, unless it was given ``--no-verify``, and keeps the
memory it frees on its heap (:func:`pdd_core.heap.keep_freed_heap`: sampling spent up to half of
its CPU time faulting freed memory back in).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from pdd_core.data.hdf5_reader import verification
from pdd_core.errors import PDDError
from pdd_core.files import describe_os_error
from pdd_core.heap import keep_freed_heap
from pdd_core.resources import AVAILABLE_FRACTION, MEMORY_ENV, memory_limit_from
from pdd_core.validation import check_seed
from pdd_core.version import __version__

AddArguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, AddArguments, Run]] = {}
SUBCOMMAND_MODULES: tuple[str, ...] = ("data", "train", "simulate", "generate", "super_resolve", "rg_flow.command", "ground_state", "evaluate", "demo")

DESCRIPTION = """\
pdd: renormalization-group diffusion over spatiotemporal fields.

Simulate physical systems, coarse-grain them with RG schemes, train a predictor-driven
diffusion model and use it to simulate, generate and super-resolve.

examples:
  pdd --version
  pdd --help
"""


def _load_commands() -> None:
    """Import the sub-command modules (each adds itself to ``COMMANDS``) and the concrete
    parts packages (each registers its classes), which only the command line may compose."""
    import importlib

    for module in ("systems", "schemes", *(f"pdd_core.apps.cli.{name}" for name in SUBCOMMAND_MODULES)):
        importlib.import_module(module)


def add_no_verify_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-verify``: read dataset splits without checking their SHA-256 first (docs/guarantees.md)."""
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="trust the dataset files read without checking each split's SHA-256 checksum first (it costs one read of the split)",
    )


def add_max_memory_argument(parser: argparse.ArgumentParser) -> None:
    """``--max-memory``: the memory a request may take (docs/guarantees.md); a command with actions (``pdd data``) gets it on each action."""
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if actions:
        for action_parser in actions[0].choices.values():
            add_max_memory_argument(action_parser)
        return
    default = f"{MEMORY_ENV}, else {AVAILABLE_FRACTION * 100:.0f}%% of the memory available"  # %% survives argparse's formatting
    parser.add_argument("--max-memory", metavar="SIZE", help=f"refuse, before any allocation, a request estimated to need more memory than SIZE (e.g. 64GiB, 500MB; default: {default})")


def build_parser() -> argparse.ArgumentParser:
    _load_commands()
    parser = argparse.ArgumentParser(prog="pdd", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pdd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, run) in sorted(COMMANDS.items()):
        sub = subparsers.add_parser(name, help=help_text, description=help_text, formatter_class=argparse.RawDescriptionHelpFormatter)
        add_arguments(sub)
        add_max_memory_argument(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    keep_freed_heap()
    try:
        if getattr(args, "seed", None) is not None:
            check_seed(args.seed, "--seed")  # every command: before any work, not as an overflow at the end
        with verification(not getattr(args, "no_verify", False)), memory_limit_from(args.max_memory):  # each split read is hashed once per command
            return int(args.run(args) or 0)
    except PDDError as error:
        print(f"pdd {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        sys.stderr.close()
        return 141
    except OSError as error:
        # A file-system failure no check closer to its cause anticipated: still one line, no traceback.
        print(f"pdd {args.command}: error: {describe_os_error(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # Run the imported module's ``main`` so sub-commands register into the same COMMANDS
    # dict that ``main`` reads (``python -m`` would otherwise load this file twice).
    from pdd_core.apps.cli.main import main as _main

    sys.exit(_main())
