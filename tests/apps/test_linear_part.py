"""The λ-dependent linear part of the neural drifts: zero at start, equivariant, and able to fit
quickly what the normalised trunk learns slowly (a drift proportional to the window's amplitude)."""

import pytest
import torch

from pdd_core.drifts.fno import FNO
from pdd_core.drifts.unet import UNet
from pdd_core.errors import ArgumentError

TINY = {"base": 8, "widths": (8, 8), "attention_heads": 2, "norm_groups": 4, "embedding_dim": 16}


def test_starts_at_zero_and_commutes_with_shifts():
    torch.manual_seed(0)
    network = UNet(2, window=3, linear_part=True, **TINY)
    x, lam = torch.randn(4, 3, 2, 32), torch.rand(4, dtype=torch.float64)
    assert torch.equal(network(x, lam), torch.zeros(4, 2, 32))
    torch.nn.init.normal_(network.linear_part.kernels.weight)
    drift = network(x, lam)
    assert torch.allclose(network(torch.roll(x, 4, -1), lam), torch.roll(drift, 4, -1), atol=1e-5)
    fno = FNO(1, window=2, ndim=2, width=8, layers=1, modes=3, projection_width=8, embedding_dim=16, linear_part=True)
    assert torch.equal(fno(torch.randn(2, 2, 1, 8, 8), 0.3), torch.zeros(2, 1, 8, 8))


def fit(network, steps=100):
    """Adam on f(window) = -a(λ) u_now for random amplitudes: the error left after ``steps``."""
    generator = torch.Generator().manual_seed(1)
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)

    def batch():
        amplitude = 0.3 + 3 * torch.rand(16, 1, 1, 1, generator=generator)
        window = amplitude * torch.randn(16, 2, 1, 32, generator=generator)
        lam = torch.rand(16, generator=generator, dtype=torch.float64)
        return window, lam, -(1 + 2 * lam.float()).reshape(-1, 1, 1) * window[:, -1]

    for _ in range(steps):
        window, lam, target = batch()
        loss = (network(window, lam) - target).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    window, lam, target = batch()
    with torch.no_grad():
        return float((network(window, lam) - target).pow(2).mean() / target.pow(2).mean())


def test_the_linear_part_fits_an_amplitude_proportional_drift_the_trunk_learns_slowly():
    torch.manual_seed(2)
    with_part = fit(UNet(1, window=2, linear_part=True, **TINY))
    torch.manual_seed(2)
    without = fit(UNet(1, window=2, **TINY))
    # 100 Adam steps: 0.003 with the linear part, 0.32 without (GroupNorm hides the amplitude).
    assert with_part < 0.02 and without > 10 * with_part, (with_part, without)


def test_bad_settings():
    with pytest.raises(Exception, match="linear_part"):
        UNet(1, window=2, linear_part="yes", **TINY)
    from pdd_core.drifts.linear_part import LinearPart

    with pytest.raises(ArgumentError, match="kernel"):
        LinearPart(1, 2, 1, 16, kernel=4)


def test_conserve_mean_removes_the_drifts_zero_mode():
    torch.manual_seed(3)
    network = UNet(2, window=2, ndim=2, linear_part=True, conserve_mean=True, **TINY)
    for parameter in (network.drift_head.weight, network.drift_head.bias, network.linear_part.kernels.weight, network.linear_part.kernels.bias):
        torch.nn.init.normal_(parameter)
    drift = network(torch.randn(3, 2, 2, 8, 8) + 2.0, torch.rand(3, dtype=torch.float64))
    assert drift.abs().mean() > 0.1 and drift.mean(dim=(2, 3)).abs().max() < 1e-5
    with pytest.raises(Exception, match="conserve_mean"):
        UNet(1, window=2, conserve_mean=1, **TINY)


def test_the_linear_drifts_conserve_mean_drops_only_its_zero_mode():
    from pdd_core.drifts.linear import LinearDrift
    from pdd_core.grid import Grid

    grid = Grid((6, 8), channels=2)
    coefficients = torch.randn(1, 2, 3, *grid.rfft_shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    history, lam = torch.randn(4, 3, 2, 6, 8, dtype=torch.float64) + 1.5, torch.zeros(4, dtype=torch.float64)
    free = LinearDrift(grid, window=3, coefficients=coefficients)(history, lam)
    kept = LinearDrift(grid, window=3, coefficients=coefficients, conserve_mean=True)(history, lam)
    assert free.mean(dim=(2, 3)).abs().min() > 1e-3 and kept.mean(dim=(2, 3)).abs().max() < 1e-12
    assert torch.allclose(kept, free - free.mean(dim=(2, 3), keepdim=True), atol=1e-12)  # every other mode as it was
    with pytest.raises(Exception, match="conserve_mean"):
        LinearDrift(grid, window=3, conserve_mean=1)


@pytest.mark.parametrize(("system", "conserved"), [("kuramoto-sivashinsky", True), ("lorenz96", False)])
def test_pdd_train_gives_new_networks_the_linear_part_and_conserves_a_conserved_mean(tmp_path, system, conserved):
    import json

    import numpy as np

    from pdd_core.apps.cli.main import main
    from pdd_core.data import write_dataset_file
    from pdd_core.grid import Grid

    grid = Grid((16,), channels=1)
    paths = np.random.default_rng(0).normal(size=(6, 6, 1, 16))
    data = tmp_path / "d.h5"
    write_dataset_file(data, {"train": paths[:4], "valid": paths[4:5], "test": paths[5:]}, system=system, config={"kind": "test"}, dt=0.1, grid=grid)
    argv = ["train", "--data", str(data), "--preset", "tiny", "--steps", "1", "--batch-size", "2", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--set", "model.overrides.base=4"]) == 0
    overrides = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["overrides"]
    assert overrides == {"linear_part": True, "base": 4, **({"conserve_mean": True} if conserved else {})}
    assert main([*argv, "--out", str(tmp_path / "plain"), "--set", "model.overrides.linear_part=false", "model.overrides.conserve_mean=false"]) == 0
    assert json.loads((tmp_path / "plain" / "config.json").read_text())["model"]["overrides"] == {"linear_part": False, "conserve_mean": False}


def test_pdd_train_conserves_a_conserved_mean_with_the_linear_drift(tmp_path):
    import json

    import numpy as np

    from pdd_core.apps.cli.main import main
    from pdd_core.apps.inference.runs import load_run
    from pdd_core.data import write_dataset_file
    from pdd_core.grid import Grid

    grid = Grid((16,), channels=1)
    paths = np.random.default_rng(0).normal(size=(6, 6, 1, 16))
    data = tmp_path / "d.h5"
    write_dataset_file(data, {"train": paths[:4], "valid": paths[4:5], "test": paths[5:]}, system="kuramoto-sivashinsky", config={"kind": "test"}, dt=0.1, grid=grid)
    argv = ["train", "--data", str(data), "--model", "linear", "--steps", "1", "--batch-size", "2", "--no-progress", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["overrides"] == {"conserve_mean": True}
    assert load_run(tmp_path / "run").model.conserve_mean is True
    assert main([*argv[:-1], str(tmp_path / "bad"), "--set", "model.overrides.conserve_mean=1"]) != 0
