"""How the command line builds a named λ-sampler: the entries of the ``SAMPLERS`` registry.

A λ-sampler is an object (``init`` / ``step``, :mod:`pdd_core.protocols`); a recipe says how
``pdd generate --sampler NAME`` builds one from the options a user can set, whether it needs the
Gaussian marginal of the run's data (then it takes 25 steps on the power grid by default, as
measured in docs/results.md) and what it records as provenance. Registering a recipe makes a
plug-in's sampler available to every command:

    SAMPLERS.register("mine")(SamplerRecipe("my sampler, 1 call per step", lambda options: Mine()))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

# The command-line flag of each option a recipe may read (SamplerOptions' fields but the reference).
OPTION_FLAGS = {"snr": "--snr", "corrector_steps": "--corrector-steps", "step_size": "--step-size"}


@attrs.frozen
class SamplerOptions:
    """What a command passes to a recipe: the data's Gaussian marginal, the user's options (None: the recipe's default) and the kind of score sampled."""

    reference: Any = None
    snr: float | None = None
    corrector_steps: int | None = None
    step_size: float | None = None
    path_score: bool = False  # the score is a drift's path score (PDD), not a denoiser's: gpc's corrector takes a longer step


@attrs.frozen
class SamplerRecipe:
    """A named λ-sampler as the command line builds it.

    ``build(options)`` returns the sampler; ``options`` names the :class:`SamplerOptions` fields
    it reads (any other one given is refused); ``marginal`` says it is built around the data's
    Gaussian marginal (``options.reference``); ``provenance(sampler)`` returns the settings
    recorded in output files and metrics.
    """

    summary: str
    build: Callable[[SamplerOptions], Any]
    options: tuple[str, ...] = ()
    marginal: bool = False
    provenance: Callable[[Any], dict[str, Any]] = attrs.field(default=lambda sampler: {})


__all__ = ["OPTION_FLAGS", "SamplerOptions", "SamplerRecipe"]
