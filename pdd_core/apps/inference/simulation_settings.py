"""How a trained run is rolled out, as one typed record: the keyword arguments of ``simulate_run``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch

from pdd_core.drifts.mode_correction import ModeCorrection
from pdd_core.errors import ConfigError, bad_argument


@attrs.frozen(eq=False)
class SimulationSettings:
    """The settings of a rollout (:func:`~pdd_core.apps.inference.tasks.simulate_run`).

    A drift run takes a time ``integrator``, with ``noise`` the increment noise of its path law
    (``noise_level(λ)``: another σ_k; None: the run's own; ``drift_correction(λ)``: a
    :class:`~pdd_core.drifts.mode_correction.ModeCorrection`, a per-mode linear term and a
    per-channel constant added to the drift) and optionally a ``thermalizer``; the
    conditional baseline takes a reverse-λ ``sampler`` and its ``lam_schedule`` instead. Every
    stochastic rollout draws from ``generator``.
    """

    integrator: Any = None
    noise: bool = False
    noise_level: Callable[[float], torch.Tensor] | None = None
    drift_correction: Callable[[float], ModeCorrection] | None = None
    generator: torch.Generator | None = None
    sampler: Any = None
    lam_schedule: torch.Tensor | None = None
    thermalizer: Any = None

    @property
    def samples_increments(self) -> bool:
        """Whether each increment is sampled by reverse-λ integration (the conditional baseline)."""
        return self.sampler is not None

    def drawing_from(self, generator: torch.Generator) -> SimulationSettings:
        """The same rollout drawing its noise from ``generator``."""
        return attrs.evolve(self, generator=generator)

    def keywords(self) -> dict[str, Any]:
        """The keyword arguments of ``simulate_run``."""
        return {field.name: getattr(self, field.name) for field in attrs.fields(SimulationSettings)}


def simulation_settings(value: SimulationSettings | dict[str, Any] | None, name: str) -> SimulationSettings | None:
    """``value`` as a record; a dict of ``simulate_run`` keywords is accepted and checked."""
    if value is None or isinstance(value, SimulationSettings):
        return value
    if not isinstance(value, dict):
        raise bad_argument(name, type(value).__name__, "is not rollout settings", "pass SimulationSettings(integrator=...)", kind=ConfigError)
    known = {field.name for field in attrs.fields(SimulationSettings)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise bad_argument(name, unknown, "are not rollout settings", f"use only {sorted(known)}", kind=ConfigError)
    return SimulationSettings(**value)


__all__ = ["SimulationSettings", "simulation_settings"]
