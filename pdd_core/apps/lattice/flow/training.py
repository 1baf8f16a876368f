"""Training a lattice flow with one of RDM's objectives (Sec. 7.1), checkpointed and resumable.

RDM 7.1: batch 64, Adam with β = (0.8, 0.9), learning rate 0.005 with exponential decay, 1000
steps, for both objectives. The decay rate is not stated; here lr_k = 0.005 · 0.998^k (a factor
7 over 1000 steps) is the documented choice. ``optimizer="sgd"`` is plain gradient descent at the
same schedule, for objectives whose gradient already is the step (stochastic reconfiguration of
the ground states, :mod:`pdd_core.apps.lattice.ground_state.reconfiguration`). Every random draw of step k comes from a generator
keyed by (seed, k), so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import torch
from tqdm import tqdm

from pdd_core.apps.lattice.flow.base import DataBase
from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, FlowSettings
from pdd_core.apps.trainer.checkpoint import FLOW_RUN, GROUND_STATE_RUN, checkpoint_kind, checkpoint_path, load_checkpoint, save_checkpoint
from pdd_core.config import from_dict, from_tagged, tagged, to_dict
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.files import locked_directory
from pdd_core.registry import SCHEMES, SYSTEMS

LOG_NAME = "log.jsonl"
CHECKPOINT_KEYS = ("record", "model", "optimizer", "scheduler", "step", "loss", "seconds")
# What a resume may change: the total (training continues to it) and the checkpoint cadence (every
# draw is keyed by (seed, step), so where the checkpoints fall does not change the result).
RESUMABLE_TRAINING = ("steps", "checkpoint_every")
# The parts of a flow's record that must match to resume it; "data" is absent from older records.
RESUMED_RECORD = ("data", "system", "scheme", "flow", "objective", "base")
# What a key absent from an older record stood for ("data": unknown, so not compared).
OLDER_RECORD = {"base": None}


@attrs.frozen
class FlowTraining:
    """The optimisation of RDM 7.1 (module docstring); ``optimizer`` "sgd" takes the objective's gradient as the step."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 5e-3
    betas: tuple[float, float] = (0.8, 0.9)
    decay: float = 0.998
    seed: int = 0
    checkpoint_every: int = 50
    optimizer: Literal["adam", "sgd"] = "adam"

    def __attrs_post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise bad_argument("optimizer", self.optimizer, "is not an optimizer of the flows", f"use one of {sorted(OPTIMIZERS)}")

    def make_optimizer(self, parameters) -> torch.optim.Optimizer:
        return OPTIMIZERS[self.optimizer](self, parameters)


OPTIMIZERS = {
    "adam": lambda training, parameters: torch.optim.Adam(parameters, lr=training.lr, betas=training.betas),
    "sgd": lambda training, parameters: torch.optim.SGD(parameters, lr=training.lr),
}


@attrs.frozen
class TrainedFlow:
    """A flow and what it was trained with."""

    flow: ContinuousFlow
    system: Any
    objective: str
    training: FlowTraining
    step: int
    loss: float
    seconds: float


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence((seed, step)).generate_state(1, np.uint64)[0] >> 1))


def _record(flow: ContinuousFlow, system: Any, objective, training: FlowTraining, data: torch.Tensor | None) -> dict[str, Any]:
    return {
        "system": tagged(system, SYSTEMS) if SYSTEMS.has(type(system)) else {"class": type(system).__name__, **to_dict(system)},
        "scheme": tagged(flow.scheme, SCHEMES),
        "flow": to_dict(flow.settings),
        "field_scale": flow.velocity.field_scale,
        "objective": objective.name,
        "training": to_dict(training),
        "data": _data_digest(data),
        "base": None if flow.base is None else flow.base.to_record(),
    }


def _data_digest(data: torch.Tensor | None) -> str | None:
    """The SHA-256 of the training samples (None for an objective without data), so a resume on other samples is refused."""
    return None if data is None else hashlib.sha256(data.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def train_flow(flow: ContinuousFlow, objective, system: Any, data: torch.Tensor | None, training: FlowTraining, run_dir: str | Path, *, progress: bool = True) -> TrainedFlow:
    """Train ``flow`` with ``objective`` into ``run_dir``; resumes a run found there.

    ``objective.loss(flow, system, data, batch, generator)`` returns the loss, or ``(loss, metrics)``
    with a dict of floats that goes into every line of the log (:mod:`~pdd_core.apps.lattice.flow.objectives`,
    :mod:`~pdd_core.apps.lattice.ground_state.objective`). ``system`` is a registered system or any attrs record.
    """
    with locked_directory(run_dir) as out:
        return _train(flow, objective, system, data, training, out, progress)


def _train(flow: ContinuousFlow, objective, system: Any, data, training: FlowTraining, out: Path, progress: bool) -> TrainedFlow:
    record = _record(flow, system, objective, training, data)
    optimizer = training.make_optimizer(flow.parameters())
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=training.decay)
    step, loss, seconds = 0, math.nan, 0.0
    if checkpoint_path(out).exists():
        stored = load_checkpoint(out, required=CHECKPOINT_KEYS, expected=checkpoint_kind({"record": record}))
        _check_resume(stored["record"], record, stored["step"], out)
        flow.load_state_dict(stored["model"])
        optimizer.load_state_dict(stored["optimizer"])
        scheduler.load_state_dict(stored["scheduler"])
        step, loss, seconds = stored["step"], stored["loss"], stored["seconds"]
    started = time.perf_counter()
    with open(out / LOG_NAME, "a", buffering=1) as log, tqdm(total=training.steps, initial=step, desc=f"flow ({objective.name})", file=sys.stderr, disable=not progress) as bar:
        while step < training.steps:
            step += 1
            value = objective.loss(flow, system, data, training.batch_size, _step_generator(training.seed, step))
            value, metrics = value if isinstance(value, tuple) else (value, {})
            if not bool(torch.isfinite(value)):
                raise bad_argument("loss", float(value.detach()), f"became non-finite at step {step}", "lower the learning rate or use more ODE steps (rg-flow: --flow-ode-steps; ground-state: --set ode_steps=)")
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            scheduler.step()
            loss = float(value.detach())
            log.write(json.dumps({"step": step, "loss": loss, **metrics, "lr": scheduler.get_last_lr()[0], "time": seconds + time.perf_counter() - started}) + "\n")
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            if step % training.checkpoint_every == 0 or step == training.steps:
                payload = {"record": record, "model": flow.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
                save_checkpoint(checkpoint_path(out), {**payload, "step": step, "loss": loss, "seconds": seconds + time.perf_counter() - started})
    return TrainedFlow(flow, system, objective.name, training, step, loss, seconds + time.perf_counter() - started)


def _check_resume(stored: dict[str, Any], requested: dict[str, Any], trained_steps: int, out: Path) -> None:
    """Refuse to continue the flow in ``out`` with settings that change its result, or to fewer steps than it holds.

    Otherwise the record written after the resume (ground_state.json, flows.json) would describe settings
    the weights were not trained with.
    """
    stored = {**OLDER_RECORD, **stored}
    different = [key for key in RESUMED_RECORD if key in stored and stored[key] != requested[key]]
    defaults = to_dict(FlowTraining())  # a key missing from an older record had its default
    # Through JSON, so the betas tuple and a list read back compare equal.
    before, after = (json.loads(json.dumps({**defaults, **training})) for training in (stored["training"], requested["training"]))
    different += [f"{key}: {before[key]!r} -> {after[key]!r}" for key in after if key not in RESUMABLE_TRAINING and before[key] != after[key]]
    if different:
        raise bad_argument("--out", str(out), f"holds a flow trained with other settings ({'; '.join(different)})", "pass a new --out, or the same settings to resume", kind=ConfigError)
    if requested["training"]["steps"] < trained_steps:
        problem = f"is fewer than the {trained_steps} steps the flow in {out} has already trained (a resume continues to the new total, it never goes back)"
        raise bad_argument("steps", requested["training"]["steps"], problem, f"pass {trained_steps} or more (rg-flow: --flow-steps; ground-state: --steps), or a new --out", kind=ConfigError)


def load_flow(run_dir: str | Path) -> tuple[ContinuousFlow, Any, dict[str, Any]]:
    """The flow of a run directory written by :func:`train_flow`, its system and its record."""
    stored = load_checkpoint(run_dir, required=CHECKPOINT_KEYS, expected=FLOW_RUN)
    record = stored["record"]
    if checkpoint_kind(stored) != FLOW_RUN:
        # A ground state's flow samples |ψ|² of a Hamiltonian, not a lattice theory with an action to propose for.
        found = GROUND_STATE_RUN if checkpoint_kind(stored) == GROUND_STATE_RUN else "not a flow run (no flow record in its checkpoint)"
        raise bad_argument("RUN_DIR", str(run_dir), f"is {found}, not {FLOW_RUN}", "pass a directory written by `pdd rg-flow phi4 --flow` (DIR/rdm or DIR/reverse-kl)", kind=ConfigError)
    system, scheme = from_tagged(record["system"], SYSTEMS), from_tagged(record["scheme"], SCHEMES)
    base = None if record.get("base") is None else DataBase.of_record(record["base"], system.grid, scheme)
    flow = ContinuousFlow(system.grid, scheme, from_dict(FlowSettings, record["flow"]), field_scale=record["field_scale"], base=base)
    flow.load_state_dict(stored["model"])
    return flow.double().eval(), system, record


__all__ = ["FlowTraining", "TrainedFlow", "load_flow", "train_flow"]
