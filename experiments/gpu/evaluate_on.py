"""Run ``pdd evaluate`` with the trained network on a chosen device.

    python3 experiments/gpu/evaluate_on.py DEVICE -- EVALUATE_ARGS...

``pdd evaluate`` has no --device flag: it loads the run with ``load_run``'s default, the CPU
(``pdd generate``, ``simulate`` and ``super-resolve`` do take --device). Everything downstream
follows the network's device (the generator of every draw is made on ``run.device``), so
loading the run on DEVICE is all it takes: this replaces the command's ``load_run`` by one
bound to DEVICE and then runs the command unchanged.
"""

from __future__ import annotations

import functools
import sys

import pdd_core.apps.cli.evaluate as evaluate_command
from pdd_core.apps.cli.main import main
from pdd_core.apps.inference.runs import load_run

if __name__ == "__main__":
    device, separator, *arguments = sys.argv[1:]
    if separator != "--":
        raise SystemExit(__doc__)
    evaluate_command.load_run = functools.partial(load_run, device=device)
    sys.exit(main(["evaluate", *arguments]))
