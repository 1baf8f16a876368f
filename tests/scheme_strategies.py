"""Hypothesis strategies shared by the scheme tests: random grids, schemes and λs."""

import math

import torch
from hypothesis import strategies as st

from pdd_core import Grid
from schemes import Carosso, FourierDiagonal, Polchinski, VariancePreserving

grids = st.builds(
    Grid,
    shape=st.lists(st.integers(2, 7), min_size=1, max_size=2).map(tuple),
    length=st.floats(0.5, 8.0),
    channels=st.integers(1, 2),
    symbol=st.sampled_from(["continuous", "lattice"]),
)

carosso = st.builds(
    Carosso,
    alpha=st.floats(0.0, 2.0),
    beta=st.floats(0.1, 3.0),
    mass=st.floats(0.0, 2.0) | st.just(0.0),
    gamma=st.floats(0.0, 3.0) | st.just(0.0),
)
variance_preserving = st.builds(VariancePreserving, gamma=st.floats(0.05, 5.0))
polchinski = st.builds(Polchinski, mass=st.floats(0.0, 2.0), beta=st.floats(0.1, 3.0))


def _decaying_noise_scheme(alpha: float, beta: float) -> FourierDiagonal:
    """Constant rate, noise β² e^{-λ}: λ-dependent, integrated numerically."""
    return FourierDiagonal(rate=lambda k2, lam: alpha * k2 + 0.0 * lam, noise=lambda k2, lam: beta**2 * torch.exp(-lam), substeps=64)


fourier_diagonal = st.builds(_decaying_noise_scheme, st.floats(0.05, 1.0), st.floats(0.5, 2.0))
exact_schemes = carosso | variance_preserving | polchinski
all_schemes = exact_schemes | fourier_diagonal
lambdas = st.floats(0.0, 2.0)


def sorted_lambdas(count: int):
    return st.lists(lambdas, min_size=count, max_size=count).map(sorted)


def is_numerical(scheme) -> bool:
    return isinstance(scheme, FourierDiagonal) and scheme.variance_fn is None


__all__ = ["all_schemes", "exact_schemes", "grids", "is_numerical", "lambdas", "math", "sorted_lambdas"]
