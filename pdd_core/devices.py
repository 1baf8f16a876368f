"""Device names from the edge (``auto``, ``cpu``, ``cuda``) and the torch device they resolve to."""

from __future__ import annotations

import torch

from pdd_core.errors import ConfigError, bad_argument

DEVICE_NAMES = ("auto", "cpu", "cuda")


def check_device_name(device: str, name: str = "device") -> None:
    """One line naming ``name`` unless ``device`` is one of :data:`DEVICE_NAMES`."""
    if device not in DEVICE_NAMES:
        raise bad_argument(name, device, "unknown device", f"use one of {', '.join(map(repr, DEVICE_NAMES))}", kind=ConfigError)


def device_type(device: str, name: str = "device") -> str:
    """``cuda`` or ``cpu``: ``auto`` is CUDA when available; ``cuda`` without a CUDA device is refused in one line."""
    check_device_name(device, name)
    if device == "cuda" and not torch.cuda.is_available():
        raise bad_argument(name, "cuda", "no CUDA device is available", "use 'cpu' or 'auto'", kind=ConfigError)
    return "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"


def resolve_device(device: str | torch.device = "cpu", name: str = "device") -> torch.device:
    """A ``torch.device`` from a name (:func:`device_type`) or itself."""
    return device if isinstance(device, torch.device) else torch.device(device_type(device, name))


__all__ = ["DEVICE_NAMES", "check_device_name", "device_type", "resolve_device"]
