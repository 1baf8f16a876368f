"""Which score a trained network provides: the path score of its drift or its noise prediction.

The objective a run was trained with names its kind (``score_kind`` of the objective records in
:mod:`pdd_core.training.objective_config`); a caller may choose another where both exist.
"""

from __future__ import annotations

import attrs

from pdd_core.score.path_density import PerModeNoise, ScalarNoise


@attrs.frozen
class PathScoreKind:
    """The autograd path score of a run's drift (:class:`~pdd_core.score.PathScore`, PDD Eq. 36) with ``noise_model``
    (:class:`ScalarNoise`: Eq. 58's σ_λ²Δt; :class:`PerModeNoise`: Σ̃_λ(k), an extension with which the
    reverse flow is stable, docs/results.md) and, with ``initial_density``, the Gaussian density r_λ
    of u(t0) (:class:`~pdd_core.score.GaussianInitial`, which B.6 leaves out; no t0 rule is then needed)."""

    noise_model: object
    initial_density: bool = False


@attrs.frozen
class NoiseHeadKind:
    """The network's noise prediction: the SA-PDD noise head or the denoiser (:class:`~pdd_core.score.SAPDDScore`, :class:`~pdd_core.score.DenoisingScore`)."""


PATH_SCORE = PathScoreKind(ScalarNoise())
PATH_SCORE_PER_MODE = PathScoreKind(PerModeNoise())
PATH_SCORE_PER_MODE_WITH_INITIAL = PathScoreKind(PerModeNoise(), initial_density=True)
NOISE_HEAD = NoiseHeadKind()

__all__ = ["NOISE_HEAD", "PATH_SCORE", "PATH_SCORE_PER_MODE", "PATH_SCORE_PER_MODE_WITH_INITIAL", "NoiseHeadKind", "PathScoreKind"]
