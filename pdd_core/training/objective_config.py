"""The loss of a run as a settings record, one class per objective, registered by name.

In a config file the objective is a table tagged by ``name``::

    objective = {name = "sa-pdd", w_drift = 0.5, w_score = 2.0}

and the converter structures it into the class registered under that name in
:data:`~pdd_core.registry.OBJECTIVES`, which refuses the settings of the other objectives. Inside
the library the record is the object: ``config.objective.build(scheme, grid, dt)`` is the loss, and
what an objective trains, which score and rollout it implies and its window are its properties
(:class:`ObjectiveConfig`), never comparisons of names or types. A new objective is one file: a
subclass registered with ``OBJECTIVES.register(name)`` or the entry-point group ``pdd.objectives``
(docs/guide.md, "Adding an objective").
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from pdd_core.config import converter
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.registry import OBJECTIVES
from pdd_core.score.kinds import NOISE_HEAD, PATH_SCORE, PATH_SCORE_PER_MODE_WITH_INITIAL, NoiseHeadKind, PathScoreKind
from pdd_core.score.path_density import DEFAULT_DELTA_LAMBDA, NOISE_MODELS
from pdd_core.training.checks import check_real, config_error
from pdd_core.training.objectives import ConditionalDenoisingObjective, DenoisingObjective, PDDObjective, SAPDDObjective

DEFAULT_WINDOW = 5
# PDD B.4: the conditional baseline sees the 5 most recent clean states plus the noisy increment.
CONDITIONAL_DEFAULT_WINDOW = 6


def _delta_lambda(instance, attribute, value) -> None:
    check_real(f"objective.{attribute.name}", value, positive=True)


def _noise_model(instance, attribute, value) -> None:
    if value not in NOISE_MODELS:
        raise config_error("objective.noise_model", value, "unknown noise model of the increments", f"use one of {list(NOISE_MODELS)}")


def _weight(instance, attribute, value) -> None:
    check_real(f"objective.{attribute.name}", value)


def _noise_free(instance, attribute, value) -> None:
    if not isinstance(value, bool):
        raise config_error("objective.noise_free", value, "must be true or false", "set noise_free = true for the PDD D.4 ablation")


def _increment_scale(instance, attribute, value) -> None:
    if value is not None and (not value or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and 0 < s < float("inf") for s in value)):
        raise config_error("objective.increment_scale", value, "needs one finite scale > 0 per channel", "remove it to measure it on the training data")


# The path score a drift run samples with, by the noise model it was trained with: a per-mode
# run gets the Gaussian r_λ of u(t0) too, since without it its first frame diverges.
_PATH_SCORES = {"scalar": PATH_SCORE, "per-mode": PATH_SCORE_PER_MODE_WITH_INITIAL}


@attrs.frozen
class ObjectiveConfig:
    """What every objective record answers (the defaults are those of a drift objective).

    * ``trains_drift``: the network is a drift f_λ (it has a path score and simulates by a time
      integrator); ``noise_head``: it also predicts the forward noise; ``regresses_increments``:
      its loss fits increments of paths.
    * ``samples_increments``: a rollout samples every increment by reverse-λ integration given the
      clean states before it (the conditional baseline), rather than integrating a drift.

    A subclass is an ``attrs.frozen`` record of its settings with a ``name`` and
    ``build(scheme, grid, dt)``, the loss: an object with ``corrupt(u0, λ, generator)`` (the forward
    noise of the whole batch) and ``loss(network, corrupted, λ)``
    (:mod:`pdd_core.training.objectives`).
    """

    name: ClassVar[str]
    trains_drift: ClassVar[bool] = True
    noise_head: ClassVar[bool] = False
    regresses_increments: ClassVar[bool] = True
    samples_increments: ClassVar[bool] = False
    default_window: ClassVar[int] = DEFAULT_WINDOW
    # The floor scale Δλ of σ_λ (PDD Eq. 58, A.7) that sampling and rollouts use; the built-in
    # objectives make it a setting.
    delta_lambda: ClassVar[float] = DEFAULT_DELTA_LAMBDA

    def context_frames(self, window: int) -> int:
        """The clean frames a rollout starts from: the whole history window, less the noisy increment's slot where increments are sampled."""
        return window - 1 if self.samples_increments else window

    def score_kind(self) -> PathScoreKind | NoiseHeadKind | None:
        """The score the run samples with by default: its noise prediction where it has one, else the path score of its drift (Eq. 58's σ_λ); None where it models no whole paths."""
        return PATH_SCORE if self.trains_drift and not self.noise_head else NOISE_HEAD

    def with_data_defaults(self, measure_increment_scale, stored=None):
        """The record with the settings that are measured on the training data filled in (none here)."""
        return self

    @property
    def increment_noise(self):
        """The noise model of the increments: the paper's σ_λ (:class:`~pdd_core.score.ScalarNoise`) unless the objective fits another."""
        return NOISE_MODELS["scalar"]


@attrs.frozen
class PDDObjectiveConfig(ObjectiveConfig):
    """``pdd``: the drift regression of PDD Algorithm 1 / Eq. 9.

    * ``noise_free``: the ε = 0 ablation of PDD D.4.
    * ``delta_lambda``: the floor scale Δλ of σ_λ (PDD Eq. 58, A.7).
    * ``noise_model``: how the increment residuals are weighted: ``per-mode`` 1/Σ̃_λ(k) (the
      default: an extension that fits the noise-dominated modes too, so the reverse-λ flow of the
      learned path density is stable; :func:`~pdd_core.training.objectives.increment_loss`) or
      ``scalar`` 1/(σ_λ²Δt) (Eq. 9, the paper's setting, whose generation diverges on the grids of
      docs/results.md).
    * ``pushforward``: the weight of the pushforward term (0: off, the paper's loss), Eq. 9 on
      the network's own one-step states (:func:`~pdd_core.training.objectives.pushforward_loss`).
    """

    name: ClassVar[str] = "pdd"

    noise_free: bool = attrs.field(default=False, validator=_noise_free)
    delta_lambda: float = attrs.field(default=DEFAULT_DELTA_LAMBDA, validator=_delta_lambda)
    noise_model: str = attrs.field(default="per-mode", validator=_noise_model)
    pushforward: float = attrs.field(default=0.0, validator=_weight)

    @property
    def increment_noise(self):
        """The noise model object of the increments (:data:`~pdd_core.score.NOISE_MODELS`)."""
        return NOISE_MODELS[self.noise_model]

    def score_kind(self) -> PathScoreKind:
        return _PATH_SCORES[self.noise_model]

    def build(self, scheme, grid, dt: float) -> PDDObjective:
        options = {"noise_free": self.noise_free, "delta_lambda": self.delta_lambda, "noise_model": NOISE_MODELS[self.noise_model]}
        return PDDObjective(scheme, grid, dt, pushforward=self.pushforward, **options)


@attrs.frozen
class SAPDDObjectiveConfig(ObjectiveConfig):
    """``sa-pdd``: drift plus noise head, the loss ``w_drift`` x drift + ``w_score`` x score; ``delta_lambda``, ``noise_model`` as for ``pdd``."""

    name: ClassVar[str] = "sa-pdd"
    noise_head: ClassVar[bool] = True

    w_drift: float = attrs.field(default=1.0, validator=_weight)
    w_score: float = attrs.field(default=1.0, validator=_weight)
    delta_lambda: float = attrs.field(default=DEFAULT_DELTA_LAMBDA, validator=_delta_lambda)
    noise_model: str = attrs.field(default="per-mode", validator=_noise_model)

    @property
    def increment_noise(self):
        """The noise model object of the increments (:data:`~pdd_core.score.NOISE_MODELS`)."""
        return NOISE_MODELS[self.noise_model]

    def build(self, scheme, grid, dt: float) -> SAPDDObjective:
        options = {"w_drift": self.w_drift, "w_score": self.w_score, "delta_lambda": self.delta_lambda, "noise_model": NOISE_MODELS[self.noise_model]}
        return SAPDDObjective(scheme, grid, dt, **options)


@attrs.frozen
class DenoisingObjectiveConfig(ObjectiveConfig):
    """``denoising``: denoising score matching of whole fields (PDD B.4's DDPM); ``delta_lambda`` floors Σ_λ at sampling (A.7)."""

    name: ClassVar[str] = "denoising"
    trains_drift: ClassVar[bool] = False
    regresses_increments: ClassVar[bool] = False

    delta_lambda: float = attrs.field(default=DEFAULT_DELTA_LAMBDA, validator=_delta_lambda)

    def build(self, scheme, grid, dt: float) -> DenoisingObjective:
        return DenoisingObjective(scheme, grid)


@attrs.frozen
class ConditionalDenoisingObjectiveConfig(ObjectiveConfig):
    """``conditional-denoising``: the GenCast-style baseline of PDD B.4 (increments given clean states).

    ``increment_scale``: s per channel; None: measured on the training split when the run starts
    (then recorded in the resolved config).
    """

    name: ClassVar[str] = "conditional-denoising"
    trains_drift: ClassVar[bool] = False
    samples_increments: ClassVar[bool] = True
    default_window: ClassVar[int] = CONDITIONAL_DEFAULT_WINDOW

    delta_lambda: float = attrs.field(default=DEFAULT_DELTA_LAMBDA, validator=_delta_lambda)
    increment_scale: tuple[float, ...] | None = attrs.field(default=None, validator=_increment_scale)

    def score_kind(self) -> None:
        return None

    def with_data_defaults(self, measure_increment_scale, stored=None):
        """``increment_scale`` from a stored run's record, else ``measure_increment_scale()`` on the training data."""
        if self.increment_scale is not None:
            return self
        known = getattr(stored, "increment_scale", None)
        return attrs.evolve(self, increment_scale=known or measure_increment_scale())

    def build(self, scheme, grid, dt: float) -> ConditionalDenoisingObjective:
        if self.increment_scale is None or len(self.increment_scale) != grid.channels:
            raise bad_argument(
                "objective.increment_scale", self.increment_scale, f"needs one scale per channel ({grid.channels})", "remove it to measure it on the data", kind=ConfigError
            )
        return ConditionalDenoisingObjective(scheme, grid, tuple(self.increment_scale))


# Before the union, config.json held every objective's settings; an unused one at its old default
# is dropped when such a file is read, a used one is refused by the class it does not belong to.
_LEGACY_DEFAULTS = {"noise_free": False, "w_drift": 1.0, "w_score": 1.0, "noise_model": "scalar", "increment_scale": None}


def _without_legacy_defaults(data: dict[str, Any], cls: type) -> dict[str, Any]:
    fields = attrs.fields_dict(cls)
    for key, value in list(data.items()):
        if key != "name" and key not in fields:
            if key in _LEGACY_DEFAULTS and value == _LEGACY_DEFAULTS[key]:
                data = {k: v for k, v in data.items() if k != key}
                continue
            owners = [name for name in OBJECTIVES.names() if key in attrs.fields_dict(OBJECTIVES.get(name))]
            raise config_error(f"objective.{key}", value, f"applies to {' / '.join(map(repr, owners)) or 'no objective'} only, not {cls.name!r}", f"remove {key} or use objective {owners[0]!r}" if owners else f"remove {key}")
    return data


def _structure_objective(data: Any, _: type) -> ObjectiveConfig:
    """A tagged table ``{name = ..., settings}`` into the registered record of that name (default ``pdd``)."""
    if isinstance(data, ObjectiveConfig):
        return data
    if not isinstance(data, dict):
        raise config_error("objective", data, "an objective is a table tagged by its name", "write e.g. objective = {name = 'pdd'}")
    name = data.get("name", PDDObjectiveConfig.name)
    if name not in OBJECTIVES.names():
        raise config_error("objective.name", name, "unknown objective", f"use one of {OBJECTIVES.names()}")
    cls = OBJECTIVES.get(name)
    settings = _without_legacy_defaults(data, cls)
    return converter.structure({key: value for key, value in settings.items() if key != "name"}, cls)


def _unstructure_objective(record: ObjectiveConfig) -> dict[str, Any]:
    """The record as its tagged table: ``name`` first, then its settings."""
    return {"name": record.name, **{field.name: converter.unstructure(getattr(record, field.name)) for field in attrs.fields(type(record))}}


converter.register_structure_hook_func(lambda cls: cls is ObjectiveConfig, _structure_objective)
converter.register_unstructure_hook_func(lambda cls: isinstance(cls, type) and issubclass(cls, ObjectiveConfig), _unstructure_objective)


def objective_from(value: Any) -> Any:
    """An objective record from itself or its tagged table (the :class:`~pdd_core.training.config.TrainConfig` field converter)."""
    return value if isinstance(value, ObjectiveConfig) else converter.structure(value, ObjectiveConfig)


__all__ = [
    "CONDITIONAL_DEFAULT_WINDOW",
    "DEFAULT_WINDOW",
    "ConditionalDenoisingObjectiveConfig",
    "DenoisingObjectiveConfig",
    "ObjectiveConfig",
    "PDDObjectiveConfig",
    "SAPDDObjectiveConfig",
    "objective_from",
]
