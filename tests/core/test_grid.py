import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pdd_core import ArgumentError, Grid, from_dict, to_dict


def test_continuous_symbol_is_integer_wavenumbers_on_two_pi():
    grid = Grid((8,))
    assert torch.equal(grid.k2(), torch.tensor([0.0, 1, 4, 9, 16], dtype=torch.float64))


def test_continuous_symbol_scales_with_length():
    grid = Grid((8,), length=1.0)
    expected = (2 * math.pi * torch.arange(5, dtype=torch.float64)) ** 2
    torch.testing.assert_close(grid.k2(), expected)


def test_lattice_symbol_is_rdm_5_13():
    n, length = 6, 3.0
    grid = Grid((n, n), length=length, symbol="lattice")
    spacing = length / n
    p = torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64)
    q = torch.fft.rfftfreq(n, 1.0 / n, dtype=torch.float64)
    hat = lambda i: (2 * n / length * torch.sin(2 * math.pi / n * i / 2)) ** 2  # noqa: E731  (RDM 5.13)
    expected = hat(p)[:, None] + hat(q)[None, :]
    torch.testing.assert_close(grid.k2(), expected)
    assert grid.spacing == (spacing, spacing)


def test_lattice_symbol_approaches_continuous_for_small_wavenumbers():
    grid_l, grid_c = Grid((256,), symbol="lattice"), Grid((256,))
    torch.testing.assert_close(grid_l.k2()[:4], grid_c.k2()[:4], rtol=1e-3, atol=0)


@given(st.lists(st.integers(2, 9), min_size=1, max_size=3))
def test_multiplicity_counts_every_full_fft_mode_once(shape):
    grid = Grid(tuple(shape))
    assert grid.mode_multiplicity().sum().item() == grid.n_points
    assert grid.k2().shape == grid.rfft_shape


def test_k2_is_cached_per_dtype():
    grid = Grid((16, 16))
    assert grid.k2() is grid.k2()
    assert grid.k2(torch.float32).dtype == torch.float32


@given(
    st.lists(st.integers(2, 64), min_size=1, max_size=3),
    st.floats(0.1, 100.0),
    st.integers(1, 4),
    st.sampled_from(["continuous", "lattice"]),
)
def test_grid_round_trips_through_cattrs(shape, length, channels, symbol):
    grid = Grid(tuple(shape), length=length, channels=channels, symbol=symbol)
    assert from_dict(Grid, to_dict(grid)) == grid


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"shape": ()}, "shape"),
        ({"shape": (1,)}, "shape"),
        ({"shape": (4, 4, 4, 4)}, "shape"),
        ({"shape": (8,), "length": -1.0}, "length"),
        ({"shape": (8,), "length": float("nan")}, "length"),
        ({"shape": (8, 8), "length": (1.0, 2.0, 3.0)}, "length"),
        ({"shape": (8,), "channels": 0}, "channels"),
        ({"shape": (8,), "symbol": "spectral"}, "symbol"),
    ],
)
def test_bad_grids_name_the_argument(kwargs, name):
    with pytest.raises(ArgumentError, match=f"^{name}=.*Fix:"):
        Grid(**kwargs)
