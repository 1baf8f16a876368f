"""Generated fields as warm starts for HMC chains, measured against plain HMC at equal cost (RDM Sec. 1.2, 5.4).

Chains start from generated fields ``[n, N, N]`` (any source; their generation cost in seconds is
charged to the chains) instead of the system's ``initial_state`` followed by its thermalisation.
Needs only samples, no density, so it fits a learned reverse-SDE sampler. Plain HMC runs first
(burn-in + production); the warm chains then get the same total wall time, generation included,
so both runs cost the same. The system protocol and what is measured are those of
:mod:`pdd_core.apps.lattice.hmc_comparison`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import attrs
import numpy as np

from pdd_core.apps.lattice.estimators import field_array
from pdd_core.apps.lattice.hmc_comparison import (
    MIN_MEASURED,
    OBSERVABLES,
    ChainReport,
    burn_in_default,
    chain_report,
    check_count,
    check_rng,
    check_system,
    efficiency_ratios,
    force_evaluations,
    observables,
    timed_hmc,
    trajectories_per_frame,
)
from pdd_core.errors import DTypeError, bad_argument
from pdd_core.metrics.chain_statistics import DEFAULT_HOLD, DEFAULT_WINDOW_CONSTANT, DEFAULT_Z_MAX, Cost, ObservableStats, measure_burn_in
from pdd_core.metrics.resampling import Estimate


@attrs.frozen
class WarmStartStudy:
    """Warm starts against plain HMC at equal wall time (module docstring).

    Attributes:
        plain, warm: the two runs; plain discards its configured burn-in, warm discards its
            measured burn-in (none when the generated fields are in equilibrium).
        reference: equilibrium ⟨|M|⟩ and ⟨S⟩ the burn-in is measured against (plain HMC's
            production, unless given).
        generation_seconds: the cost of the generated fields, charged to ``warm``.
        seconds_per_trajectory: wall seconds of one chain's HMC trajectory, from plain HMC.
        equal_cost: False when generating the fields alone cost more than the whole plain run,
            so the warm chains ran as long as plain production instead.
        ratios: warm over plain effective samples per second and per trajectory equivalent.
    """

    plain: ChainReport
    warm: ChainReport
    reference: dict[str, Estimate]
    generation_seconds: float
    seconds_per_trajectory: float
    equal_cost: bool

    @property
    def ratios(self) -> dict[str, dict[str, float | None]]:
        return efficiency_ratios(self.warm, self.plain)

    def to_json(self) -> dict[str, Any]:
        return {
            "plain": self.plain.to_json(), "warm": self.warm.to_json(),
            "reference": {name: value.to_json() for name, value in self.reference.items()},
            "generation_seconds": self.generation_seconds, "seconds_per_trajectory": self.seconds_per_trajectory,
            "equal_cost": self.equal_cost, "ratios": self.ratios,
        }  # fmt: skip


def _with_start(start: Mapping[str, np.ndarray], series: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Series ``[C, 1 + T]`` whose column 0 is the start fields' value (burn-in step 0)."""
    return {name: np.concatenate([start[name][:, None], series[name]], axis=1) for name in OBSERVABLES}


def _check_reference(reference: Any) -> dict[str, Estimate] | None:
    if reference is None:
        return None
    if not isinstance(reference, Mapping) or set(reference) != set(OBSERVABLES) or not all(isinstance(value, Estimate) for value in reference.values()):
        raise bad_argument("reference", reference, f"expected a mapping of {OBSERVABLES} to Estimate", "pass e.g. {'abs_magnetisation': Estimate(v, e), 'action': Estimate(v, e)}", kind=DTypeError)
    return dict(reference)


def warm_start_study(
    system: Any,
    fields: Any,
    generation_seconds: float,
    rng: np.random.Generator,
    *,
    production_trajectories: int = 1000,
    burn_in_trajectories: int | None = None,
    reference: Mapping[str, Estimate] | None = None,
    z_max: float = DEFAULT_Z_MAX,
    hold: int = DEFAULT_HOLD,
    window_constant: float = DEFAULT_WINDOW_CONSTANT,
) -> WarmStartStudy:
    """Compare HMC chains started from generated ``fields`` with plain HMC at equal cost (module docstring).

    Args:
        system: the HMC system (duck-typed, :mod:`pdd_core.apps.lattice.hmc_comparison`).
        fields: generated fields ``[n, N, N]`` or ``[n, 1, N, N]`` (NumPy or torch), n >= 2 chains.
        generation_seconds: wall seconds it took to generate ``fields``, >= 0.
        rng: NumPy generator for plain HMC's start, then both runs' HMC.
        production_trajectories: plain HMC's trajectories per chain after its burn-in.
        burn_in_trajectories: plain HMC's discarded trajectories (default: the system's
            ``thermalisation_trajectories``).
        reference: equilibrium ⟨|M|⟩, ⟨S⟩ as Estimates (e.g. exact values); default: plain
            HMC's production means.
        z_max, hold: burn-in rule of :func:`~pdd_core.metrics.chain_statistics.measure_burn_in`.
        window_constant: Madras-Sokal c.
    """
    check_system(system)
    starts = field_array(fields, system.grid, "fields")
    if not (isinstance(generation_seconds, (int, float, np.floating)) and not isinstance(generation_seconds, bool) and math.isfinite(generation_seconds) and generation_seconds >= 0):
        raise bad_argument("generation_seconds", generation_seconds, "must be a finite number >= 0", "pass the wall seconds the generator took for these fields")
    check_rng(rng)
    production = check_count("production_trajectories", production_trajectories, max(MIN_MEASURED, hold))
    burn = burn_in_default(system, burn_in_trajectories)
    given = _check_reference(reference)
    chains = len(starts)

    cold = np.asarray(system.initial_state(chains, rng), dtype=np.float64)[:, 0]
    plain_run = timed_hmc(system, cold, burn + production, rng)
    plain_trajectories = plain_run.series["action"].shape[1]
    seconds_per_trajectory = plain_run.seconds / (chains * plain_trajectories)
    discarded = plain_trajectories - production  # the burn-in, plus any rounding up to whole frames
    plain_cost = Cost(plain_run.seconds, chains * plain_trajectories, force_evaluations(system, chains * plain_trajectories), 0.0, float(chains * plain_trajectories))
    if given is None:
        given = {name: ObservableStats.measure(values[:, discarded:], plain_cost, window_constant).mean for name, values in plain_run.series.items()}
    plain_burn = {name: measure_burn_in(values, given[name], z_max, hold) for name, values in _with_start(observables(system, cold), plain_run.series).items()}
    plain = chain_report("plain_hmc", "trajectory", plain_run.series, discarded, plain_cost, window_constant, burn_in=plain_burn, hmc_acceptance=plain_run.acceptance)

    per_frame = trajectories_per_frame(system)
    affordable = int((plain_run.seconds - generation_seconds) / (seconds_per_trajectory * chains)) // per_frame * per_frame
    equal_cost = affordable >= max(MIN_MEASURED, hold) + 1
    warm_run = timed_hmc(system, starts, affordable if equal_cost else production, rng)
    warm_burn = {name: measure_burn_in(values, given[name], z_max, hold) for name, values in _with_start(observables(system, starts), warm_run.series).items()}
    # Burn-in step t is after t trajectories (step 0: the start fields), i.e. index t - 1 of the run's
    # series; drop the steps before the later of the two measured burn-ins, keeping MIN_MEASURED.
    settled = max((burn_in.steps or 0) for burn_in in warm_burn.values())
    warm_trajectories = warm_run.series["action"].shape[1]
    warm_discarded = min(max(settled - 1, 0), warm_trajectories - MIN_MEASURED)
    warm_cost = Cost(
        warm_run.seconds + generation_seconds, chains * warm_trajectories, force_evaluations(system, chains * warm_trajectories),
        float(generation_seconds), chains * warm_trajectories + generation_seconds / seconds_per_trajectory,
    )  # fmt: skip
    warm = chain_report("warm_start", "trajectory", warm_run.series, warm_discarded, warm_cost, window_constant, burn_in=warm_burn, hmc_acceptance=warm_run.acceptance)
    return WarmStartStudy(plain=plain, warm=warm, reference=given, generation_seconds=float(generation_seconds), seconds_per_trajectory=seconds_per_trajectory, equal_cost=equal_cost)


__all__ = ["WarmStartStudy", "warm_start_study"]
