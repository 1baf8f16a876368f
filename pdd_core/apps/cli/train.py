"""``pdd train``: train a drift (PDD) or a denoiser (DDPM baselines) on a dataset file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import attrs
import torch

from pdd_core.apps.cli.data import parse_setting
from pdd_core.apps.cli.main import COMMANDS, add_no_verify_argument
from pdd_core.apps.cli.request_costs import check_training
from pdd_core.apps.trainer.checkpoint import checkpoint_path, load_checkpoint
from pdd_core.apps.trainer.loop import train
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.devices import DEVICE_NAMES
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.registry import OBJECTIVES, SCHEMES, SYSTEMS
from pdd_core.training.config import (
    FILE_DEFAULT_SCHEME,
    FORCING_FIELD_MODELS,
    MEAN_CONSERVING_MODELS,
    TrainConfig,
    config_from_dict,
    default_overrides,
    read_toml,
    set_dotted,
)
from pdd_core.training.models import MODELS

HELP = "train a PDD drift or a denoising baseline on a dataset file"

EPILOG = """\
Settings come from CONFIG.toml (if given), then the flags, then --set (dotted keys, values
are JSON literals, else strings). RUN_DIR receives checkpoint.pt (model, EMA, optimizer,
RNG states, step, config), config.json (the resolved config) and log.jsonl (one record per
step: step, loss, lr, grad_norm, time). --steps is the total: after an interruption,
`--resume` continues from the last checkpoint and gives the same loss curve as an
uninterrupted run. Progress goes to stderr. Layout and TOML keys: docs/training.md.

examples:
  pdd train --data l96.h5 --model unet --out runs/l96 --steps 2000 --seed 0
  pdd train --data l96.h5 --model unet --out runs/l96 --steps 4000 --resume
  pdd train --data kf.h5 --model fno --preset paper --out runs/kf --set scheme.alpha=0.3 scheme.beta=2.449
  pdd train --data lin.h5 --model linear --out runs/lin --objective pdd --set lam_max=0.5 lr=1e-2
  pdd train --data l96.h5 --model unet --out runs/ddpm --objective denoising --scheme variance-preserving --set scheme.gamma=3
  pdd train config.toml --out runs/from_toml
  torchrun --nproc_per_node 2 -m pdd_core.apps.cli.main train --data l96.h5 --model unet --out runs/ddp
"""

# Flag -> dotted config key, for the flags that set a config field directly.
FLAG_KEYS: dict[str, str] = {
    "data": "data",
    "split": "split",
    "model": "model.name",
    "preset": "model.preset",
    "objective": "objective.name",
    "steps": "steps",
    "seed": "seed",
    "batch_size": "batch_size",
    "lr": "lr",
    "window": "window",
    "frames": "frames",
    "device": "device",
    "num_workers": "num_workers",
    "log_every": "log_every",
    "checkpoint_every": "checkpoint_every",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "config", nargs="?", metavar="CONFIG.toml", help="a TOML training config (keys of TrainConfig, plus out = 'RUN_DIR'; paths relative to the file)"
    )
    parser.add_argument("--data", metavar="FILE.h5", help="dataset file in the layout of docs/data_format.md")
    parser.add_argument("--split", choices=("train", "valid", "test"), help="split to train on (default: train)")
    parser.add_argument("--model", metavar="NAME", help=f"network: {', '.join(MODELS.names())} (default: unet)")
    parser.add_argument("--preset", choices=("tiny", "small", "paper"), help="network size (default: small; linear has none)")
    parser.add_argument("--objective", choices=OBJECTIVES.names(), help="loss (default: pdd; a registered objective, docs/guide.md)")
    parser.add_argument("--out", metavar="RUN_DIR", help="run directory (checkpoint.pt, config.json, log.jsonl)")
    parser.add_argument(
        "--scheme",
        metavar="NAME",
        help=f"RG scheme with its default parameters, refined by --set scheme.KEY=VALUE ({', '.join(SCHEMES.names())}; default: carosso)",
    )
    parser.add_argument("--steps", type=int, metavar="N", help="total number of optimizer steps (default: 1000)")
    parser.add_argument("--seed", type=int, metavar="S", help="seed of the initialisation, batches, λ and noise (default: 0)")
    parser.add_argument("--batch-size", type=int, metavar="B", help="global batch size, split across DDP ranks (default: 32)")
    parser.add_argument("--lr", type=float, metavar="LR", help="Adam learning rate (default: 2e-4, PDD B.3)")
    parser.add_argument("--window", type=int, metavar="W", help="history window (default: 5; 6 for conditional-denoising)")
    parser.add_argument("--frames", type=int, metavar="T", help="train on random sub-paths of T frames (default: whole paths)")
    parser.add_argument("--bf16", action="store_true", default=None, help="bfloat16 autocast around the network forward")
    parser.add_argument("--device", choices=DEVICE_NAMES, help="default: auto (CUDA when available)")
    parser.add_argument("--num-workers", type=int, metavar="N", help="data-loading worker processes (default: 0)")
    parser.add_argument("--log-every", type=int, metavar="N", help="write a log record every N steps (default: 1)")
    parser.add_argument("--checkpoint-every", type=int, metavar="N", help="save the checkpoint every N steps (default: 100)")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads per process (torch.set_num_threads; default: torch's choice)")
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="any config key, dotted: lam_max=0.5 model.overrides.base=16 objective.noise_free=true",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR up to --steps in total")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    add_no_verify_argument(parser)


def run_directory(args: argparse.Namespace, settings: dict[str, Any]) -> Path:
    """RUN_DIR from --out, else from ``out`` in the TOML file (relative to the file)."""
    out = settings.pop("out", None)
    if args.out is not None:
        if not args.out.strip():
            raise bad_argument("--out", args.out, "must name a run directory", "pass --out runs/NAME", kind=ConfigError)
        return Path(args.out)
    if out is None:
        raise bad_argument("--out", None, "no run directory given", "pass --out RUN_DIR (or set out = 'RUN_DIR' in the TOML config)", kind=ConfigError)
    if not isinstance(out, str) or not out.strip():
        raise bad_argument("out", out, "must name a run directory (a non-empty string)", "set out = 'runs/NAME' in the TOML config", kind=ConfigError)
    return Path(args.config).parent / out


def build_config(args: argparse.Namespace) -> tuple[TrainConfig, Path]:
    """Config file, then flags, then --set; on --resume without a file, the stored config is the base."""
    settings: dict[str, Any] = read_toml(args.config) if args.config else {}
    if isinstance(settings.get("data"), str):
        # Paths in a config file are relative to the file, like its ``out``.
        settings["data"] = str(Path(args.config).parent / settings["data"])
    run_dir = run_directory(args, settings)
    if args.resume and not args.config:
        settings = load_checkpoint(checkpoint_path(run_dir))["config"] if checkpoint_path(run_dir).exists() else {}
    if args.scheme is not None:
        settings["scheme"] = {"name": args.scheme}
    # --set scheme.alpha=... refines the default scheme when the config names none.
    settings.setdefault("scheme", dict(FILE_DEFAULT_SCHEME))
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag)
        if value is not None:
            set_dotted(settings, key, value)
    if args.bf16:
        settings["bf16"] = True
    for text in args.set:
        set_dotted(settings, *parse_setting(text))
    model = settings.get("model")
    if not (args.resume and not args.config) and isinstance(model, dict) and isinstance(model.get("overrides"), dict):
        # Overrides given here refine the network's defaults (e.g. its linear part) instead of replacing them;
        # a stored run's config (a plain --resume) keeps exactly what it was trained with.
        model["overrides"] = {**default_overrides(model.get("name", "unet")), **model["overrides"]}
    config = config_from_dict(settings)
    if not (args.resume and not args.config):
        config = with_system_defaults(config)
    return config, run_dir


# Network switches a system asks for by a class attribute, and the networks that have them: a
# conserved spatial mean (``conserves_mean``: the drift gets no k = 0 part) and a fixed forcing
# pattern (``forced``: the drift gets a learned forcing field, which an equivariant trunk lacks).
SYSTEM_SWITCHES = {"conserve_mean": ("conserves_mean", MEAN_CONSERVING_MODELS), "forcing_part": ("forced", FORCING_FIELD_MODELS)}


def with_system_defaults(config: TrainConfig) -> TrainConfig:
    """Switch on each of ``SYSTEM_SWITCHES`` that the data's system asks for, unless the config sets it."""
    if config.data is None or not Path(config.data).is_file():
        return config
    system = read_metadata(config.data).system
    if system not in SYSTEMS.names():
        return config
    wanted = {
        switch: True
        for switch, (attribute, models) in SYSTEM_SWITCHES.items()
        if config.model.name in models and switch not in config.model.overrides and getattr(SYSTEMS.get(system), attribute, False)
    }
    return attrs.evolve(config, model=attrs.evolve(config.model, overrides={**config.model.overrides, **wanted})) if wanted else config


def check_training_memory(config: TrainConfig) -> None:
    """Refuse a training step too large to hold, from the data file's grid and path length, before the network is built.

    A config without a readable data file is left to the trainer, which names what is wrong with it.
    """
    if config.data is None or not Path(config.data).is_file():
        return
    metadata = read_metadata(config.data)
    if config.split in metadata.splits:
        check_training(config, metadata.grid, metadata.splits[config.split][1])


def run(args: argparse.Namespace) -> int:
    config, run_dir = build_config(args)
    check_training_memory(config)
    if args.threads is not None:
        if args.threads < 1:
            raise bad_argument("--threads", args.threads, "must be >= 1", "pass e.g. --threads 1", kind=ConfigError)
        torch.set_num_threads(args.threads)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    try:
        result = train(config, run_dir, resume=args.resume, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"pdd train: interrupted; continue from the last checkpoint with: pdd train --out {run_dir} --steps {config.steps} --resume", file=sys.stderr)
        return 130
    if main_rank:
        if result.steps_taken:
            speed = f"{result.steps_taken} steps in {result.seconds:.1f} s ({result.steps_per_second:.2f} steps/s)"
            print(f"trained {config.model.name} ({config.objective.name}) to step {result.step}: {speed}, final loss {result.loss:.6g}")
        else:
            print(f"nothing to do: the run is already at step {result.step} >= --steps {config.steps}")
        print(f"wrote {run_dir.resolve()}/ (checkpoint.pt, config.json, log.jsonl)")
    return 0


COMMANDS["train"] = (HELP, add_arguments, run)

__all__ = ["build_config", "check_training_memory", "run"]
