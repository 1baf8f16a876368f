"""The registered schemes ``pdd rg-flow`` can flow: those that state RDM's M-modified lattice kernel (``rdm_lattice``)."""

from __future__ import annotations

from typing import Any

from pdd_core.errors import ConfigError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SCHEMES


def lattice_scheme_names() -> list[str]:
    """The registered schemes that state an RDM lattice kernel (a classmethod ``rdm_lattice(spacing, ndim, mass)``)."""
    return [name for name in SCHEMES.names() if callable(getattr(SCHEMES.get(name), "rdm_lattice", None))]


def rdm_scheme(name: str, grid: Grid, mass: float) -> Any:
    """The registered scheme ``name`` as RDM's M-modified kernel in orthonormal site variables, with a = L/N the lattice spacing
    (e.g. :meth:`schemes.carosso.Carosso.rdm_lattice`, RDM 5.20; :meth:`schemes.polchinski.Polchinski.rdm_lattice`, 5.41-5.42)."""
    check_lattice_scheme(name)
    return SCHEMES.get(name).rdm_lattice(grid.spacing[0], grid.ndim, mass)


def check_lattice_scheme(name: str) -> None:
    if name not in lattice_scheme_names():
        raise bad_argument("--scheme", name, "not a registered scheme with an RDM lattice kernel (rdm_lattice)", f"use one of {lattice_scheme_names()}", kind=ConfigError)
