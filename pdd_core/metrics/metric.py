"""A metric that ``pdd evaluate`` computes by name: the entries of the ``METRICS`` registry.

The evaluation's built-in metrics (PDD Eqs. 63-64 with their floors, The Well's errors, the
ensemble scores, the climate) have fixed places in metrics.json. A registered metric is added
beside them in every task it names, under its registered name, and printed in the command's
summary; one file that registers it is the whole change:

    from pdd_core.metrics.metric import Metric
    from pdd_core.registry import METRICS

    METRICS.register("max_error")(Metric("largest absolute error", lambda reference, prediction: float((reference - prediction).abs().max())))

A plug-in package may instead declare it as an entry point in the group ``pdd.metrics``
(docs/guide.md, "Plug-ins").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch

from pdd_core.errors import ConfigError, bad_argument

# The evaluation tasks a metric may take part in, under their metrics.json keys.
METRIC_TASKS = ("simulate", "generate", "super_resolve", "low_resolution")


def _check_tasks(instance: Any, attribute: attrs.Attribute, tasks: tuple[str, ...]) -> None:
    unknown = [task for task in tasks if task not in METRIC_TASKS]
    if unknown or not tasks:
        raise bad_argument("tasks", tasks, "a metric takes part in one or more evaluation tasks", f"use a subset of {METRIC_TASKS}", kind=ConfigError)


@attrs.frozen
class Metric:
    """How a registered metric compares a task's paths with the reference.

    ``compute(reference, prediction)`` takes standardised tensors ``[B, T, C, *space]`` with the
    same frames and returns a number or a JSON-ready dict. Rows are paired only in ``simulate``
    (row b of the rollout starts from reference path b, initial frames dropped); in ``generate``,
    ``super_resolve`` (the refined paths) and ``low_resolution`` (their coarse inputs) the two are
    sets of paths whose sizes may differ. ``tasks`` names the tasks it takes part in.
    """

    summary: str
    compute: Callable[[torch.Tensor, torch.Tensor], Any]
    tasks: tuple[str, ...] = attrs.field(default=METRIC_TASKS, converter=tuple, validator=_check_tasks)


__all__ = ["METRIC_TASKS", "Metric"]
