import attrs
import pytest
import torch

from pdd_core import ArgumentError, Drift, Grid, LambdaSampler, RGScheme, Score, ShapeError, System, TimeIntegrator, Trajectory
from schemes import Carosso, FourierDiagonal, Polchinski, VariancePreserving


def test_path_normalises_lambda_and_is_frozen():
    grid = Grid((8,), channels=2)
    path = Trajectory(u=torch.zeros(3, 5, 2, 8), grid=grid, dt=0.05, lam=0.2)
    assert path.lam.dtype == torch.float64 and path.lam.shape == (3,)
    assert path.batch == 3 and path.n_frames == 5
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        path.dt = 1.0
    moved = attrs.evolve(path, lam=torch.tensor([0.1, 0.2, 0.3]))
    assert moved.lam[2] == pytest.approx(0.3) and path.lam[2] == pytest.approx(0.2)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"u": torch.zeros(3, 5, 1, 8)}, ShapeError, "Trajectory.u.shape"),
        ({"dt": 0.0}, ArgumentError, "Trajectory.dt"),
        ({"lam": torch.tensor([0.1, 0.2])}, ShapeError, "Trajectory.lam.shape"),
        ({"lam": -0.5}, ArgumentError, "Trajectory.lam"),
    ],
)
def test_path_rejects_bad_input(kwargs, error, name):
    base = {"u": torch.zeros(3, 5, 2, 8), "grid": Grid((8,), channels=2), "dt": 0.05, "lam": 0.0}
    with pytest.raises(error, match=f"^{name}=.*Fix:"):
        Trajectory(**{**base, **kwargs})


@pytest.mark.parametrize("scheme", [Carosso(), VariancePreserving(), Polchinski(), FourierDiagonal(rate=lambda k2, lam: k2, noise=lambda k2, lam: 1.0)])
def test_schemes_satisfy_the_protocol(scheme):
    assert isinstance(scheme, RGScheme)


def test_protocols_are_runtime_checkable():
    class ZeroDrift:
        window = 1

        def __call__(self, history, lam):
            return torch.zeros_like(history[:, -1])

    assert isinstance(ZeroDrift(), Drift)
    assert not isinstance(ZeroDrift(), TimeIntegrator)
    for protocol in (System, Score, LambdaSampler):
        assert not isinstance(object(), protocol)
