"""Bad input raises the project's errors with messages that name the argument and the fix."""

import pytest
import torch

from pdd_core import SCHEMES, ArgumentError, ConfigError, DTypeError, Grid, PDDError, ShapeError, from_dict, from_tagged
from schemes import Carosso, FourierDiagonal, Polchinski, VariancePreserving

GRID = Grid((8,), channels=2)
U = torch.zeros(3, 4, 2, 8)
GEN = torch.Generator().manual_seed(0)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: Carosso(alpha=-0.1), "alpha"),
        (lambda: Carosso(beta=0.0), "beta"),
        (lambda: Carosso(beta=float("nan")), "beta"),
        (lambda: Carosso(mass=-1.0), "mass"),
        (lambda: Carosso(gamma=float("inf")), "gamma"),
        (lambda: Carosso(zero_mode="drop"), "zero_mode"),
        (lambda: VariancePreserving(gamma=0.0), "gamma"),
        (lambda: Polchinski(beta=-1.0), "beta"),
        (lambda: Polchinski(m2=float("nan")), "m2"),
        (lambda: FourierDiagonal(rate=1.0, noise=lambda k2, lam: 1.0), "rate"),
        (lambda: FourierDiagonal(rate=lambda k2, lam: k2, noise=lambda k2, lam: 1.0, substeps=0), "substeps"),
    ],
)
def test_bad_parameters(build, name):
    with pytest.raises(PDDError, match=f"^{name}=.*Fix:"):
        build()


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda s: s.transition(GRID, 0.0, -0.1), ArgumentError, "lam_b"),
        (lambda s: s.transition(GRID, 0.5, 0.2), ArgumentError, "lam_b"),
        (lambda s: s.transition(GRID, float("nan"), 0.2), ArgumentError, "lam_a"),
        (lambda s: s.coarse_grain(U, GRID, torch.tensor([0.1, 0.2])), ShapeError, "lam.shape"),
        (lambda s: s.coarse_grain(U, GRID, -1.0), ArgumentError, "lam"),
        (lambda s: s.coarse_grain(U[:, :, :1], GRID, 0.1), ShapeError, "u0.shape"),
        (lambda s: s.coarse_grain(U[0], GRID, 0.1), ShapeError, "u0.shape"),
        (lambda s: s.coarse_grain(U.long(), GRID, 0.1), DTypeError, "u0.dtype"),
        (lambda s: s.coarse_grain(U.numpy(), GRID, 0.1), DTypeError, "u0"),
        (lambda s: s.coarse_grain(U + float("nan"), GRID, 0.1), ArgumentError, "u0"),
        (lambda s: s.forward_sample(U, GRID, 0.1, None), DTypeError, "generator"),
        (lambda s: s.transition_score(U, U, GRID, 0.0), ArgumentError, "lam"),
        (lambda s: s.transition_score(U, U[:1], GRID, 0.1), ShapeError, "u0.shape"),
        (lambda s: s.sigma(GRID, 0.1, 0.0), ArgumentError, "dt"),
        (lambda s: s.sigma(GRID, 0.1, 0.05, delta_lambda=0.0), ArgumentError, "delta_lambda"),
        (lambda s: s.prior_sample((2, 3, 1, 8), GRID, 1.0, GEN), ShapeError, "shape"),
    ],
)
def test_bad_calls(call, error, name):
    with pytest.raises(error, match=f"^{name}=.*Fix:"):
        call(Carosso())


def test_polchinski_rejects_a_kernel_with_negative_denominator():
    with pytest.raises(ArgumentError, match="^m2=-2.0.*Fix:"):
        Polchinski(mass=1.0, m2=-2.0).transition(Grid((8, 8), length=1.0, symbol="lattice"), 0.0, 0.1)


def test_fourier_diagonal_rejects_nan_and_negative_noise():
    grid = Grid((8,))
    with pytest.raises(ArgumentError, match="^rate=.*returned NaN"):
        FourierDiagonal(rate=lambda k2, lam: k2 * float("nan"), noise=lambda k2, lam: 1.0 + 0 * k2).transition(grid, 0.0, 0.1)
    with pytest.raises(ArgumentError, match="^noise=.*negative"):
        FourierDiagonal(rate=lambda k2, lam: k2, noise=lambda k2, lam: -1.0 + 0 * k2).transition(grid, 0.0, 0.1)


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="^alpha=-1.0: .*Fix:"):  # the validator's own message survives cattrs
        from_dict(Carosso, {"alpha": -1.0})
    with pytest.raises(ConfigError, match="^Carosso=.*Fix:"):
        from_dict(Carosso, {"alhpa": 1.0})
    with pytest.raises(ConfigError, match="^scheme='carrosso': unknown scheme.*carosso"):
        from_tagged({"name": "carrosso"}, SCHEMES)
