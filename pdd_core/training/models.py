"""Build the network of a run by name, for the grid of its data (the ``MODELS`` registry).

A builder is ``build(grid, window, noise_head, preset, overrides) -> nn.Module``; a plug-in
adds one with ``@MODELS.register("name")`` or an entry point in the group ``pdd.models``.
The network's ``channels`` and ``ndim`` always come from the data's grid, so any dataset
file in the documented layout gets a matching network.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pdd_core.drifts.fno import FNO
from pdd_core.drifts.linear import LinearDrift
from pdd_core.drifts.presets import drift_preset
from pdd_core.drifts.unet import UNet
from pdd_core.errors import ConfigError, PDDError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import Registry

MODELS = Registry("models")
# The size used when a config names no preset: minutes of CPU training (pdd_core.drifts.presets).
DEFAULT_PRESETS = {"unet": "small", "fno": "small"}


def _construct(cls: type[nn.Module], name: str, kwargs: dict[str, Any]) -> nn.Module:
    """Call a constructor; an unknown keyword becomes a ConfigError naming the valid ones."""
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise bad_argument(
            f"model.overrides ({name})", kwargs, f"not accepted by {cls.__name__} ({error})", f"see help({cls.__module__}.{cls.__name__})", kind=ConfigError
        ) from None


def _network(cls: type[nn.Module], architecture: str, grid: Grid, window: int, noise_head: bool, preset: str | None, overrides: dict[str, Any]) -> nn.Module:
    kwargs = {**drift_preset(architecture, grid.ndim, preset or DEFAULT_PRESETS[architecture]), **overrides}
    if kwargs.get("forcing_part") is True:  # a learned forcing field lives on the data's grid
        kwargs["space"] = grid.shape
    network = _construct(cls, architecture, {"channels": grid.channels, "window": window, "noise_head": noise_head, **kwargs})
    # Check the grid against the architecture now, not at the first forward of training.
    network.check_space(grid.shape)
    return network


@MODELS.register("unet")
def build_unet(grid: Grid, window: int, noise_head: bool, preset: str | None, overrides: dict[str, Any]) -> nn.Module:
    """The periodic U-Net of PDD B.2 with the sizes of ``drift_preset("unet", ndim, preset)``."""
    return _network(UNet, "unet", grid, window, noise_head, preset, overrides)


@MODELS.register("fno")
def build_fno(grid: Grid, window: int, noise_head: bool, preset: str | None, overrides: dict[str, Any]) -> nn.Module:
    """The FNO of PDD B.2/D.5 with the sizes of ``drift_preset("fno", ndim, preset)``."""
    return _network(FNO, "fno", grid, window, noise_head, preset, overrides)


@MODELS.register("linear")
def build_linear(grid: Grid, window: int, noise_head: bool, preset: str | None, overrides: dict[str, Any]) -> nn.Module:
    """The Fourier-diagonal :class:`LinearDrift` (verification; no presets, no noise head).

    ``lam_nodes``: an integer n (n equally spaced nodes on [0, 1]; 1 gives a λ-independent
    drift, the default) or an explicit increasing list of λs; ``conserve_mean``: drop the drift's
    k = 0 mode (a system whose spatial mean is conserved).
    """
    if preset is not None:
        raise bad_argument(
            "model.preset", preset, "the linear drift has no size presets", "leave the preset unset; use model.overrides.lam_nodes", kind=ConfigError
        )
    if noise_head:
        raise bad_argument(
            "model.name", "linear", "the linear drift has no noise head, which the 'sa-pdd' objective needs", "use model 'unet' or 'fno'", kind=ConfigError
        )
    unknown = set(overrides) - {"lam_nodes", "conserve_mean"}
    if unknown:
        raise bad_argument("model.overrides", sorted(unknown), "the linear drift accepts only lam_nodes and conserve_mean", "remove the other keys", kind=ConfigError)
    conserve_mean = overrides.get("conserve_mean", False)
    if not isinstance(conserve_mean, bool):
        raise bad_argument("model.overrides.conserve_mean", conserve_mean, "must be true or false", "use conserve_mean = true or false", kind=ConfigError)
    nodes = overrides.get("lam_nodes", 1)
    if isinstance(nodes, int) and not isinstance(nodes, bool):
        if nodes < 1:
            raise bad_argument("model.overrides.lam_nodes", nodes, "needs at least one node", "use lam_nodes = 1 or more", kind=ConfigError)
        nodes = torch.linspace(0.0, 1.0, nodes, dtype=torch.float64) if nodes > 1 else torch.zeros(1, dtype=torch.float64)
    return LinearDrift(grid, window=window, lam_nodes=torch.as_tensor(nodes, dtype=torch.float64), conserve_mean=conserve_mean)


def build_model(
    name: str, grid: Grid, window: int, *, noise_head: bool = False, preset: str | None = None, overrides: dict[str, Any] | None = None
) -> nn.Module:
    """The network ``name`` for data on ``grid`` (``channels``, ``ndim`` from the grid)."""
    builder = MODELS.get(name)
    try:
        return builder(grid, window, noise_head, preset, dict(overrides or {}))
    except PDDError:
        raise
    except (TypeError, ValueError) as error:
        raise bad_argument(
            "model",
            name,
            f"cannot be built for the grid {grid.shape} with {grid.channels} channel(s) ({error})",
            "check model.overrides and the preset",
            kind=ConfigError,
        ) from None


__all__ = ["DEFAULT_PRESETS", "MODELS", "build_fno", "build_linear", "build_model", "build_unet"]
