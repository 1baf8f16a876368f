"""The learning rate at each training step: linear warm-up, then constant or cosine decay.

A pure function of the step, so a resumed run continues the schedule exactly where it stopped.
"""

from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def learning_rate(step: int, *, lr: float, steps: int, schedule: str = "constant", warmup_steps: int = 0, final_fraction: float = 0.0) -> float:
    """The rate of optimizer step ``step`` (1-based) of a run of ``steps`` steps.

    Warm-up: lr · step / warmup_steps for step ≤ warmup_steps. Then ``constant`` keeps lr, and
    ``cosine`` decays from lr to lr · final_fraction at the last step,
    lr · (f + (1 - f)(1 + cos(π s)) / 2) with s the fraction of the post-warm-up steps taken.
    """
    if warmup_steps and step <= warmup_steps:
        return lr * step / warmup_steps
    if schedule == "constant":
        return lr
    decay_steps = max(steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
    return lr * (final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress)))
