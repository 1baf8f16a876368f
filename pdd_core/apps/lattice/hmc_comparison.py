"""What comparing an HMC helper with plain HMC at equal cost shares (RDM Sec. 1.2, 5.4): argument
checks, the observables, timed HMC runs and the per-run report.

RDM (Sec. 1.2, 5.4) suggests using a learned (inverse-RG) model to speed up Monte Carlo. Two ways,
each compared with plain HMC run with the same kernel: warm starts (:mod:`pdd_core.apps.lattice.warm_start`)
and independence Metropolis cycles (:mod:`pdd_core.apps.lattice.independence_mh`).

Measured for each run (:mod:`pdd_core.metrics.chain_statistics`): τ_int of |M| (M the mean field,
RDM Eq. 4.26's φ̃(0)) and of the action S, per HMC trajectory for plain HMC and warm starts and per
cycle for independence Metropolis; the effective samples per wall second and per trajectory
equivalent of the whole cost; and for warm starts the burn-in of the ensemble means of |M| and S
against the equilibrium value.

The system is duck-typed, like :meth:`systems.phi4.LatticePhi4`: ``grid`` (lattice shape),
``action(fields [..., N, N]) -> [...]``, ``initial_state(batch, rng) -> [B, 1, N, N]`` and
``run_chain(state [B, 1, N, N], n_frames, rng)`` returning an object with ``state``,
``magnetisation`` and ``action`` per trajectory ``[B, T]`` and ``stats.acceptance_rate``; optional
``trajectories_per_frame`` (default 1), ``thermalisation_trajectories`` (the plain burn-in) and
``leapfrog_steps`` (force evaluations per trajectory = steps + 1, the cost of the phi4 kernel).
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

import attrs
import numpy as np

from pdd_core.errors import DTypeError, bad_argument
from pdd_core.metrics.chain_statistics import BurnIn, Cost, ObservableStats

OBSERVABLES = ("abs_magnetisation", "action")
MIN_MEASURED = 8  # steps per chain below which τ_int is not worth estimating


def _is_count(value: Any, minimum: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


def check_count(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int; raises ArgumentError unless it is an integer (not a bool) >= ``minimum``."""
    if not _is_count(value, minimum):
        raise bad_argument(name, value, f"must be an integer >= {minimum}", f"pass {name} >= {minimum}")
    return int(value)


def check_system(system: Any) -> None:
    """Reject an object that lacks the duck-typed HMC system protocol (module docstring)."""
    missing = [name for name in ("action", "run_chain", "initial_state") if not callable(getattr(system, name, None))]
    if missing or not hasattr(system, "grid"):
        problem = f"expected an HMC system with grid, action(), run_chain() and initial_state(); missing {missing or ['grid']}"
        raise bad_argument("system", type(system).__name__, problem, "pass e.g. systems.phi4.LatticePhi4()", kind=DTypeError)


def check_rng(rng: Any) -> None:
    """Reject randomness that is not an explicit ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise bad_argument("rng", rng, "randomness must come from an explicit numpy.random.Generator", "pass rng=np.random.default_rng(seed)", kind=DTypeError)


def trajectories_per_frame(system: Any) -> int:
    """HMC trajectories per ``run_chain`` frame (default 1)."""
    return check_count("system.trajectories_per_frame", getattr(system, "trajectories_per_frame", 1), 1)


def force_evaluations(system: Any, trajectories: int) -> int | None:
    """Force evaluations of ``trajectories`` trajectories (leapfrog steps + 1 each); None if the system has no ``leapfrog_steps``."""
    steps = getattr(system, "leapfrog_steps", None)
    return trajectories * (int(steps) + 1) if _is_count(steps, 1) else None


def burn_in_default(system: Any, burn_in_trajectories: int | None) -> int:
    """Plain HMC's burn-in: ``burn_in_trajectories``, else the system's ``thermalisation_trajectories``."""
    if burn_in_trajectories is None:
        burn_in_trajectories = getattr(system, "thermalisation_trajectories", None)
        if burn_in_trajectories is None:
            raise bad_argument("burn_in_trajectories", None, "the system has no thermalisation_trajectories", "pass burn_in_trajectories for plain HMC")
    return check_count("burn_in_trajectories", burn_in_trajectories, 0)


def observables(system: Any, fields: np.ndarray) -> dict[str, np.ndarray]:
    """|M| (the mean field) and S of fields ``[..., N, N]``."""
    return {"abs_magnetisation": np.abs(fields.mean(axis=(-2, -1))), "action": np.asarray(system.action(fields), dtype=np.float64)}


@attrs.frozen(eq=False)
class TimedRun:
    """Per-trajectory observables ``[chains, trajectories]`` of one ``run_chain`` call, its final fields and wall time."""

    series: dict[str, np.ndarray]
    state: np.ndarray
    seconds: float
    acceptance: float


def timed_hmc(system: Any, fields: np.ndarray, trajectories: int, rng: np.random.Generator) -> TimedRun:
    """Run at least ``trajectories`` HMC trajectories (whole frames) of every chain from ``fields [C, N, N]``."""
    frames = math.ceil(trajectories / trajectories_per_frame(system))
    start = time.perf_counter()
    run = system.run_chain(fields[:, None], frames, rng)
    seconds = time.perf_counter() - start
    series = {"abs_magnetisation": np.abs(np.asarray(run.magnetisation, dtype=np.float64)), "action": np.asarray(run.action, dtype=np.float64)}
    return TimedRun(series=series, state=np.asarray(run.state)[:, 0], seconds=seconds, acceptance=float(run.stats.acceptance_rate))


@attrs.frozen
class ChainReport:
    """One sampler's run in a study.

    Attributes:
        label: e.g. ``"plain_hmc"``, ``"warm_start"``, ``"independence_mh"``.
        n_chains: independent chains.
        step: what one step of the series is: ``"trajectory"`` or ``"cycle"`` (frame + MH step).
        measured_steps: steps per chain that enter the statistics.
        discarded_steps: steps per chain dropped first as burn-in.
        cost: the whole run's :class:`Cost` (discarded steps and generation included).
        observables: :class:`ObservableStats` of |M| and S.
        burn_in: measured :class:`BurnIn` of |M| and S (warm-start study only).
        hmc_acceptance: HMC Metropolis acceptance; mh_acceptance: independence-MH acceptance.
    """

    label: str
    n_chains: int
    step: str
    measured_steps: int
    discarded_steps: int
    cost: Cost
    observables: dict[str, ObservableStats]
    burn_in: dict[str, BurnIn] = attrs.field(factory=dict)
    hmc_acceptance: float | None = None
    mh_acceptance: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label, "n_chains": self.n_chains, "step": self.step, "measured_steps": self.measured_steps,
            "discarded_steps": self.discarded_steps, "cost": self.cost.to_json(),
            "observables": {name: stats.to_json() for name, stats in self.observables.items()},
            "burn_in": {name: burn.to_json() for name, burn in self.burn_in.items()},
            "hmc_acceptance": self.hmc_acceptance, "mh_acceptance": self.mh_acceptance,
        }  # fmt: skip


def efficiency_ratios(candidate: ChainReport, plain: ChainReport) -> dict[str, dict[str, float | None]]:
    """Effective samples per cost of ``candidate`` over plain HMC's (> 1: the candidate is better)."""
    def ratio(a: float, b: float) -> float | None:
        return a / b if b > 0 and math.isfinite(a / b) else None

    return {
        name: {
            "per_second": ratio(candidate.observables[name].per_second, plain.observables[name].per_second),
            "per_trajectory": ratio(candidate.observables[name].per_trajectory, plain.observables[name].per_trajectory),
        }
        for name in OBSERVABLES
    }


def chain_report(label: str, step: str, series: Mapping[str, np.ndarray], discarded: int, cost: Cost, window_constant: float, **extra: Any) -> ChainReport:
    """The :class:`ChainReport` of ``series`` ``[chains, steps]`` after dropping the first ``discarded`` steps."""
    measured = {name: values[:, discarded:] for name, values in series.items()}
    return ChainReport(
        label=label,
        n_chains=int(next(iter(series.values())).shape[0]),
        step=step,
        measured_steps=int(next(iter(measured.values())).shape[1]),
        discarded_steps=int(discarded),
        cost=cost,
        observables={name: ObservableStats.measure(measured[name], cost, window_constant) for name in OBSERVABLES},
        **extra,
    )


__all__ = [
    "ChainReport",
    "MIN_MEASURED",
    "OBSERVABLES",
    "TimedRun",
    "burn_in_default",
    "chain_report",
    "check_count",
    "check_rng",
    "check_system",
    "efficiency_ratios",
    "force_evaluations",
    "observables",
    "timed_hmc",
    "trajectories_per_frame",
]
