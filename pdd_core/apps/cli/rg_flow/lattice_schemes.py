"""The schemes ``pdd rg-flow`` can flow: the registered ones that state RDM's M-modified lattice kernel (``rdm_lattice``),
and the position-space processes that have no per-mode kernel (RDM 5.51, :data:`POSITION_SPACE_PROCESSES`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pdd_core.apps.lattice.dilated_carosso import DilatedCarosso
from pdd_core.config import tagged, to_dict
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SCHEMES

# Flowed by ``pdd rg-flow`` alone: not SCHEMES entries, since training and sampling need Fourier-diagonal kernels.
POSITION_SPACE_PROCESSES: dict[str, type] = {"carosso-dilated": DilatedCarosso}


def lattice_scheme_names() -> list[str]:
    """The registered schemes that state an RDM lattice kernel (a classmethod ``rdm_lattice(spacing, ndim, mass)``),
    then the position-space processes."""
    registered = [name for name in SCHEMES.names() if callable(getattr(SCHEMES.get(name), "rdm_lattice", None))]
    return registered + sorted(POSITION_SPACE_PROCESSES)


def rdm_scheme(name: str, grid: Grid, mass: float) -> Any:
    """The scheme ``name`` as RDM's M-modified kernel in orthonormal site variables, with a = L/N the lattice spacing
    (e.g. :meth:`schemes.carosso.Carosso.rdm_lattice`, RDM 5.20; :meth:`schemes.polchinski.Polchinski.rdm_lattice`, 5.41-5.42;
    :meth:`~pdd_core.apps.lattice.dilated_carosso.DilatedCarosso.rdm_lattice`, 5.51)."""
    check_lattice_scheme(name)
    kind = POSITION_SPACE_PROCESSES.get(name) or SCHEMES.get(name)
    return kind.rdm_lattice(grid.spacing[0], grid.ndim, mass)


def check_lattice_scheme(name: str) -> None:
    if name not in lattice_scheme_names():
        raise bad_argument("--scheme", name, "not a registered scheme with an RDM lattice kernel (rdm_lattice)", f"use one of {lattice_scheme_names()}", kind=ConfigError)


def check_scheme_flows(schemes: dict[str, Any], grid: Grid, ts: Sequence[float]) -> None:
    """Let every scheme that bounds its lattice or its flow times (``check_flow``, RDM 5.51) refuse them before any sampling."""
    for scheme in schemes.values():
        if callable(getattr(scheme, "check_flow", None)):
            scheme.check_flow(grid, ts)


def scheme_config(name: str, scheme: Any) -> dict[str, Any]:
    """The record of a flowed scheme: tagged with its SCHEMES name, or with its position-space name."""
    return {"name": name, **to_dict(scheme)} if name in POSITION_SPACE_PROCESSES else tagged(scheme, SCHEMES)
