"""The learned forcing field of the neural drifts: zero at start, the one part that does not commute
with shifts, able to fit a fixed forcing pattern that the equivariant trunk cannot, and switched
on by `pdd train` for a forced system (the Kolmogorov flow)."""

import json
import math

import numpy as np
import pytest
import torch

from pdd_core.drifts.fno import FNO
from pdd_core.drifts.forcing_part import FIELD_SCALE
from pdd_core.drifts.unet import UNet
from pdd_core.errors import PDDError

TINY = {"base": 8, "widths": (8, 8), "attention_heads": 2, "norm_groups": 4, "embedding_dim": 16}
SPACE = (16, 16)


def pattern() -> torch.Tensor:
    """A Kolmogorov-like forcing, sin(3y), on SPACE: no spatial mean, no translation invariance along y.

    The U-Net's two stride-2 levels make it commute with shifts by 4 points only, so it can draw
    fixed patterns of period 4 (wavenumbers 4, 8, ... on 16 points) from the grid alone; k = 3 is
    not one of them (nor is the Kolmogorov flow's k = 4 on 40 points for the 3-level presets).
    """
    y = torch.arange(SPACE[0]) * 2 * math.pi / SPACE[0]
    return torch.sin(3 * y)[:, None].expand(*SPACE)


def test_starts_at_zero_and_adds_the_gated_fields():
    torch.manual_seed(0)
    network = UNet(1, window=2, ndim=2, linear_part=True, forcing_part=True, space=SPACE, **TINY)
    x, lam = torch.randn(3, 2, 1, *SPACE), torch.rand(3, dtype=torch.float64)
    assert torch.equal(network(x, lam), torch.zeros(3, 1, *SPACE))
    fields = torch.randn_like(network.forcing_part.fields)
    with torch.no_grad():
        network.forcing_part.fields.copy_(fields)
    gates = network.forcing_part.gates(network.embedding(lam))
    expected = FIELD_SCALE * torch.einsum("bj,jcyx->bcyx", gates, fields)  # the trunk's drift head is still zero
    assert torch.allclose(network(x, lam), expected, atol=1e-6)
    # Unlike the trunk, the forcing does not move with the window.
    assert torch.allclose(network(torch.roll(x, 3, -2), lam), expected, atol=1e-6)
    fno = FNO(1, window=2, ndim=2, width=8, layers=1, modes=3, projection_width=8, embedding_dim=16, forcing_part=True, space=(8, 8))
    assert torch.equal(fno(torch.randn(2, 2, 1, 8, 8), 0.3), torch.zeros(2, 1, 8, 8))


def fit(network, steps=80):
    """Adam at the trainer's learning rate on f(window) = sin(3y) for random windows: the error left after ``steps``, relative to |f|²."""
    generator = torch.Generator().manual_seed(1)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    target = pattern()

    def batch():
        return torch.randn(8, 2, 1, *SPACE, generator=generator), torch.rand(8, generator=generator, dtype=torch.float64)

    for _ in range(steps):
        window, lam = batch()
        loss = (network(window, lam)[:, 0] - target).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    window, lam = batch()
    with torch.no_grad():
        return float((network(window, lam)[:, 0] - target).pow(2).mean() / target.pow(2).mean())


def test_the_forcing_part_fits_a_fixed_pattern_the_equivariant_trunk_cannot():
    torch.manual_seed(2)
    with_part = fit(UNet(1, window=2, ndim=2, forcing_part=True, space=SPACE, **TINY))
    torch.manual_seed(2)
    without = fit(UNet(1, window=2, ndim=2, **TINY))
    # An equivariant map of shift-invariant random windows cannot do better than 0 on average
    # (the error stays near 1); the forcing field learns the pattern itself: 0.002 after 80 steps,
    # where the fields without their scale (FIELD_SCALE = 1) are still at 0.05.
    assert with_part < 0.01 and without > 0.5, (with_part, without)


def test_bad_settings():
    with pytest.raises(Exception, match="forcing_part"):
        UNet(1, window=2, forcing_part="yes", **TINY)
    with pytest.raises(PDDError, match="space"):
        UNet(1, window=2, ndim=2, forcing_part=True, **TINY)
    network = UNet(1, window=2, ndim=2, forcing_part=True, space=SPACE, **TINY)
    with pytest.raises(PDDError, match="grid"):
        network(torch.randn(1, 2, 1, 32, 32), 0.1)
    from pdd_core.training.config import ModelConfig

    with pytest.raises(Exception, match="space"):
        ModelConfig(overrides={"space": [16, 16]})


@pytest.mark.parametrize(("system", "forced"), [("kolmogorov", True), ("lorenz96", False)])
def test_pdd_train_gives_a_forced_systems_network_its_forcing_field(tmp_path, system, forced):
    from pdd_core.apps.cli.main import main
    from pdd_core.apps.inference.runs import load_run
    from pdd_core.data import write_dataset_file
    from pdd_core.grid import Grid

    grid = Grid(SPACE, channels=1) if system == "kolmogorov" else Grid((16,), channels=1)
    paths = np.random.default_rng(0).normal(size=(6, 6, 1, *grid.shape))
    data = tmp_path / "d.h5"
    write_dataset_file(data, {"train": paths[:4], "valid": paths[4:5], "test": paths[5:]}, system=system, config={"kind": "test"}, dt=0.1, grid=grid)
    argv = ["train", "--data", str(data), "--preset", "tiny", "--steps", "2", "--batch-size", "2", "--no-progress", "--set", "model.overrides.base=4"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    overrides = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["overrides"]
    assert overrides.get("forcing_part", False) is forced
    run = load_run(tmp_path / "run")  # the stored run rebuilds the field on its grid and loads it
    assert (run.model.forcing_part is not None) is forced
    if forced:
        assert run.model.forcing_part.fields.abs().max() > 0  # trained: two steps moved it off zero
        assert main([*argv, "--out", str(tmp_path / "plain"), "--set", "model.overrides.forcing_part=false"]) == 0
        assert json.loads((tmp_path / "plain" / "config.json").read_text())["model"]["overrides"]["forcing_part"] is False
