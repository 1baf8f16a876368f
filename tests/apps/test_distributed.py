"""Two DDP processes (gloo, CPU) give the parameters of one process with the same global batch."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pdd_core.apps.trainer import train
from pdd_core.apps.trainer.checkpoint import load_checkpoint, read_log
from pdd_core.apps.trainer.distributed import Context
from pdd_core.training import ModelConfig, SAPDDObjectiveConfig, TrainConfig, config_from_dict, config_to_dict
from schemes import Carosso
from tests.apps.test_trainer import random_paths

CONFIGS = {
    # An odd global batch: rank 0 gets 3 rows, rank 1 gets 2, so the loss weights n_r R / N matter.
    "linear": TrainConfig(model=ModelConfig(name="linear", overrides={"lam_nodes": 3}), scheme=Carosso(), steps=5, batch_size=5, lr=1e-2, dtype="float64", ema_decay=0.5),
    # A neural network with both heads through DDP's forward (SA-PDD), in float64.
    "fno": TrainConfig(model=ModelConfig(name="fno", preset="tiny"), scheme=Carosso(), objective=SAPDDObjectiveConfig(), steps=3, batch_size=4, lr=1e-3, dtype="float64"),
}


def train_all(root: str) -> None:
    data = random_paths(n=12, frames=5)
    for name, config in CONFIGS.items():
        train(config_from_dict(config_to_dict(config)), f"{root}/{name}", data=data, progress=False)


def worker(rank: int, world_size: int, init_file: str, root: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        train_all(root)
    finally:
        dist.destroy_process_group()


def test_rows_and_weights_partition_the_global_batch():
    for batch, world in ((5, 2), (8, 3), (4, 4)):
        contexts = [Context(rank, world) for rank in range(world)]
        rows = [c.rows(batch) for c in contexts]
        assert [i for r in rows for i in range(r.start, r.stop)] == list(range(batch))
        # (1/R) Σ_r weight_r · mean(ℓ over rank r's rows) = mean(ℓ): DDP's average is the global-batch loss.
        per_row = torch.randn(batch, dtype=torch.float64, generator=torch.Generator().manual_seed(batch))
        averaged = sum(c.loss_weight(batch) * per_row[r].mean() for c, r in zip(contexts, rows)) / world
        # Round-off is relative to the rows' size, not to their mean (which may be near 0): atol at that scale.
        torch.testing.assert_close(averaged, per_row.mean(), rtol=1e-14, atol=1e-15)


def test_two_ddp_processes_equal_one_process(tmp_path):
    train_all(str(tmp_path / "single"))
    mp.spawn(worker, args=(2, str(tmp_path / "store"), str(tmp_path / "ddp")), nprocs=2, join=True)
    for name, config in CONFIGS.items():
        single, ddp = load_checkpoint(tmp_path / "single" / name), load_checkpoint(tmp_path / "ddp" / name)
        assert ddp["step"] == single["step"] == config.steps
        for key in ("model", "ema"):
            for parameter, value in single[key].items():
                torch.testing.assert_close(ddp[key][parameter], value, rtol=0, atol=1e-10)
        single_losses = [r["loss"] for r in read_log(tmp_path / "single" / name / "log.jsonl")]
        ddp_losses = [r["loss"] for r in read_log(tmp_path / "ddp" / name / "log.jsonl")]
        torch.testing.assert_close(torch.tensor(ddp_losses), torch.tensor(single_losses), rtol=1e-12, atol=0)
    # The linear drift starts at 0, so equal non-zero coefficients mean both runs really trained.
    assert torch.count_nonzero(load_checkpoint(tmp_path / "single" / "linear")["model"]["coefficients"]) > 0
