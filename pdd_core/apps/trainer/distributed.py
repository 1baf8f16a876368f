"""Data-parallel training with ``torch.distributed`` (``torchrun``; ``gloo`` on CPU, ``nccl`` on GPU).

Every rank draws the same global batch (indices, λ and forward noise are keyed by
(seed, step)) and evaluates the loss on a contiguous block of its rows. With n_r of the
N global rows on rank r and R ranks, rank r back-propagates (n_r R / N) · loss_r, so DDP's
gradient average (1/R) Σ_r equals the gradient of the global-batch mean loss
Σ_r (n_r / N) loss_r that a single process computes.
"""

from __future__ import annotations

import os

import attrs
import torch
import torch.distributed as dist

from pdd_core.errors import ConfigError, bad_argument


def process_rank() -> int:
    """This process's rank before :func:`setup`: the caller's process group, else torchrun's RANK, else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


@attrs.frozen
class Context:
    """This process's place in the job: ``rank`` of ``world_size`` (1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the log, the config and the checkpoints."""
        return self.rank == 0

    def rows(self, batch: int) -> slice:
        """This rank's contiguous block of a global batch; the first ``batch % R`` ranks get one more row."""
        base, extra = divmod(batch, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    def loss_weight(self, batch: int) -> float:
        """n_r R / N: makes DDP's gradient average the global-batch gradient (module docstring)."""
        rows = self.rows(batch)
        return (rows.stop - rows.start) * self.world_size / batch

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group if :func:`setup` created it (a caller's group is left alone)."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """Σ over ranks of a tensor (a copy; the identity in a single process)."""
        total = value.detach().clone()
        if self.distributed:
            dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total


def setup(device_type: str) -> Context:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    An already initialised group (e.g. ``init_process_group`` with a ``file://`` store) is
    used as is. Without ``WORLD_SIZE`` > 1 this is a single process.
    """
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Context()
    if not dist.is_available():
        raise bad_argument(
            "WORLD_SIZE",
            world_size,
            "this torch build has no torch.distributed",
            "run a single process or install a torch with distributed support",
            kind=ConfigError,
        )
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns_group=True)


def wrap(model: torch.nn.Module, context: Context, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when distributed (rank 0's weights are broadcast)."""
    if not context.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


__all__ = ["Context", "process_rank", "setup", "wrap"]
