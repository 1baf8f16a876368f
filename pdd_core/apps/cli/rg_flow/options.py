"""Which options each mode of ``pdd rg-flow`` reads, and their defaults.

``pdd rg-flow`` runs one of four modes: the exact flows by scheme (the default), ``--learn``,
``--flow`` and ``--flow-sampler``. An option the chosen mode does not read is refused in one line
instead of being ignored (docs/guarantees.md, "What a failure looks like"). The options are
therefore declared without argparse defaults (a value equal to the default still counts as given)
and receive their defaults here, once the mode is known.
"""

from __future__ import annotations

import argparse
from typing import Any

from pdd_core.errors import ConfigError, bad_argument

EXACT, LEARN, FLOW, SAMPLER = "the exact flows", "--learn", "--flow", "--flow-sampler"
# The flags that choose a mode other than the exact flows, by attribute.
MODE_FLAGS = {"learn": LEARN, "flow": FLOW, "flow_sampler": SAMPLER}
HMC_MODES = (EXACT, LEARN, FLOW)  # the modes that sample the UV theory by HMC and measure its flow

# attribute -> (flag, default, the modes that read it). A mode refuses every other option given.
OPTIONS: dict[str, tuple[str, Any, tuple[str, ...]]] = {
    "scheme": ("--scheme", None, HMC_MODES),  # --learn and --flow accept carosso alone (checked there)
    "compare": ("--compare", False, HMC_MODES),
    "set": ("--set", [], HMC_MODES),
    "n_samples": ("--n-samples", 512, HMC_MODES),
    "chains": ("--chains", 16, HMC_MODES),
    "ts": ("--ts", None, HMC_MODES),
    "snapshot_ts": ("--snapshot-ts", None, (EXACT, LEARN)),  # the panels of fields.png
    "mass": ("--mass", 1.0, HMC_MODES),
    "resampling": ("--resampling", "jackknife", HMC_MODES),
    "blocks": ("--blocks", 32, HMC_MODES),
    "bootstrap_resamples": ("--bootstrap-resamples", 200, HMC_MODES),
    "train_steps": ("--train-steps", 1000, (LEARN,)),
    "zero_mode_train_steps": ("--zero-mode-train-steps", 1000, (LEARN,)),
    "batch_size": ("--batch-size", 32, (LEARN,)),
    "lr": ("--lr", 1e-3, (LEARN,)),
    "preset": ("--preset", "tiny", (LEARN,)),
    "n_learned": ("--n-learned", 128, (LEARN,)),
    "sampler": ("--sampler", "etd", (LEARN,)),
    "stiffness": ("--stiffness", 0.2, (LEARN,)),
    "zero_mode_sampler_steps": ("--zero-mode-sampler-steps", 200, (LEARN,)),
    "split_tolerance": ("--split-tolerance", 0.02, (LEARN,)),
    "prior_tolerance": ("--prior-tolerance", 0.05, (LEARN,)),
    "hmc_study": ("--hmc-study", False, (LEARN,)),
    "hmc_trajectories": ("--hmc-trajectories", 1000, (LEARN,)),
    "threads": ("--threads", 1, (LEARN, FLOW, SAMPLER)),
    "flow_steps": ("--flow-steps", 1000, (FLOW,)),
    "flow_ode_steps": ("--flow-ode-steps", 24, (FLOW,)),
    "flow_base": ("--flow-base", "data", (FLOW,)),  # measured better than RDM's base on both theories (docs/rg_flows.md)
    "flow_lr": ("--flow-lr", None, (FLOW,)),  # None: the base's own rate (flows.BASE_LEARNING_RATES)
    "flow_samples": ("--flow-samples", 512, (FLOW, SAMPLER)),
    "mh_chains": ("--mh-chains", 16, (SAMPLER,)),
    "mh_cycles": ("--mh-cycles", 200, (SAMPLER,)),
    "mh_hmc": ("--mh-hmc", False, (SAMPLER,)),
}
# Options read only when another option is given: attribute -> (the attribute, its value that reads it).
ONLY_WITH: dict[str, tuple[str, Any]] = {"bootstrap_resamples": ("resampling", "bootstrap"), "hmc_trajectories": ("hmc_study", True)}


def default(name: str) -> Any:
    """The default of the option stored in ``args.<name>``."""
    return OPTIONS[name][1]


def _given(value: Any) -> bool:
    """Whether an option was given: flags are False and lists empty when not, every other option None."""
    return value is not None and value is not False and value != []


def resolve_mode(args: argparse.Namespace) -> str:
    """The mode ``args`` asks for; refuses two modes at once and options the mode does not read, then fills in the defaults."""
    mode = _chosen_mode(args)
    _refuse_unread(args, mode)
    _refuse_without_their_switch(args)
    for name, (_, value, _) in OPTIONS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return mode


def _chosen_mode(args: argparse.Namespace) -> str:
    chosen = [name for name in MODE_FLAGS if _given(getattr(args, name))]
    if len(chosen) > 1:
        first, second = (MODE_FLAGS[name] for name in chosen[:2])
        raise bad_argument(second, getattr(args, chosen[1]), f"is a mode of its own, as {first} is", "pass one of --learn, --flow, --flow-sampler per command", kind=ConfigError)
    return MODE_FLAGS[chosen[0]] if chosen else EXACT


def _refuse_unread(args: argparse.Namespace, mode: str) -> None:
    for name, (flag, _, modes) in OPTIONS.items():
        if _given(getattr(args, name)) and mode not in modes:
            readers = " and ".join(modes)
            raise bad_argument(flag, getattr(args, name), f"is not read by {mode} (only by {readers})", f"drop {flag}, or run {readers}", kind=ConfigError)


def _refuse_without_their_switch(args: argparse.Namespace) -> None:
    for name, (switch, reading) in ONLY_WITH.items():
        chosen = default(switch) if getattr(args, switch) is None else getattr(args, switch)
        if _given(getattr(args, name)) and chosen != reading:
            flag, switch_flag = OPTIONS[name][0], OPTIONS[switch][0]
            shown = switch_flag if reading is True else f"{switch_flag} {reading}"
            raise bad_argument(flag, getattr(args, name), f"is read only with {shown}", f"drop {flag}, or pass {shown}", kind=ConfigError)


__all__ = ["EXACT", "FLOW", "LEARN", "OPTIONS", "SAMPLER", "default", "resolve_mode"]
