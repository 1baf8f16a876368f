"""Generated fields as help for an HMC chain, measured against plain HMC at equal cost (RDM Sec. 1.2, 5.4).

RDM (Sec. 1.2, 5.4) suggests using a learned (inverse-RG) model to speed up Monte Carlo. Two ways,
each compared with plain HMC run with the same kernel:

(a) Warm starts, :func:`warm_start_study`. Chains start from generated fields ``[n, N, N]`` (any
    source; their generation cost in seconds is charged to the chains) instead of the system's
    ``initial_state`` followed by its thermalisation. Needs only samples, no density, so it
    fits a learned reverse-SDE sampler. Plain HMC runs first (burn-in + production); the warm
    chains then get the same total wall time, generation included, so both runs cost the same.
(b) Independence Metropolis, :func:`independence_mh_study`. Each cycle is one HMC frame of the
    system (``trajectories_per_frame`` trajectories) followed by an independence
    Metropolis-Hastings step with a proposal q whose log density is exact
    (:mod:`pdd_core.lattice.gaussian_proposal`). Both kernels leave exp(-S) invariant, so their
    composition does. Both chains start from the same equilibrated states; plain HMC gets as
    many trajectories as the proposal chain's wall time buys.

Measured for each run (:mod:`pdd_core.lattice.chain_statistics`): τ_int of |M| (M the mean field,
RDM Eq. 4.26's φ̃(0)) and of the action S, per HMC trajectory for plain HMC and warm starts and per
cycle for (b); the effective samples per wall second and per trajectory equivalent of the whole
cost; and for (a) the burn-in of the ensemble means of |M| and S against the equilibrium value.

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
from tqdm.auto import tqdm

from pdd_core.errors import DTypeError, bad_argument
from pdd_core.lattice.chain_statistics import (
    DEFAULT_HOLD,
    DEFAULT_WINDOW_CONSTANT,
    DEFAULT_Z_MAX,
    BurnIn,
    Cost,
    ObservableStats,
    measure_burn_in,
)
from pdd_core.lattice.estimators import field_array
from pdd_core.lattice.gaussian_proposal import independence_metropolis_step
from pdd_core.lattice.resampling import Estimate

OBSERVABLES = ("abs_magnetisation", "action")
MIN_MEASURED = 8  # steps per chain below which τ_int is not worth estimating


def _is_count(value: Any, minimum: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


def _check_count(name: str, value: Any, minimum: int) -> int:
    if not _is_count(value, minimum):
        raise bad_argument(name, value, f"must be an integer >= {minimum}", f"pass {name} >= {minimum}")
    return int(value)


def _check_system(system: Any) -> None:
    missing = [name for name in ("action", "run_chain", "initial_state") if not callable(getattr(system, name, None))]
    if missing or not hasattr(system, "grid"):
        problem = f"expected an HMC system with grid, action(), run_chain() and initial_state(); missing {missing or ['grid']}"
        raise bad_argument("system", type(system).__name__, problem, "pass e.g. systems.phi4.LatticePhi4()", kind=DTypeError)


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, np.random.Generator):
        raise bad_argument("rng", rng, "randomness must come from an explicit numpy.random.Generator", "pass rng=np.random.default_rng(seed)", kind=DTypeError)


def _check_proposal(proposal: Any) -> None:
    if not (callable(getattr(proposal, "sample", None)) and callable(getattr(proposal, "log_density", None))):
        problem = "expected an object with sample(n, rng) and an exact log_density(fields)"
        raise bad_argument("proposal", type(proposal).__name__, problem, "pass e.g. fit_fourier_gaussian(samples); a sampler without a density can only give warm starts", kind=DTypeError)


def _trajectories_per_frame(system: Any) -> int:
    return _check_count("system.trajectories_per_frame", getattr(system, "trajectories_per_frame", 1), 1)


def _force_evaluations(system: Any, trajectories: int) -> int | None:
    steps = getattr(system, "leapfrog_steps", None)
    return trajectories * (int(steps) + 1) if _is_count(steps, 1) else None


def _burn_in_default(system: Any, burn_in_trajectories: int | None) -> int:
    if burn_in_trajectories is None:
        burn_in_trajectories = getattr(system, "thermalisation_trajectories", None)
        if burn_in_trajectories is None:
            raise bad_argument("burn_in_trajectories", None, "the system has no thermalisation_trajectories", "pass burn_in_trajectories for plain HMC")
    return _check_count("burn_in_trajectories", burn_in_trajectories, 0)


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
    frames = math.ceil(trajectories / _trajectories_per_frame(system))
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


def _ratios(candidate: ChainReport, plain: ChainReport) -> dict[str, dict[str, float | None]]:
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


def _report(label: str, step: str, series: Mapping[str, np.ndarray], discarded: int, cost: Cost, window_constant: float, **extra: Any) -> ChainReport:
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


@attrs.frozen
class WarmStartStudy:
    """Warm starts against plain HMC at equal wall time (module docstring, (a)).

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
        return _ratios(self.warm, self.plain)

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
    """Compare HMC chains started from generated ``fields`` with plain HMC at equal cost (module docstring, (a)).

    Args:
        system: the HMC system (duck-typed, module docstring).
        fields: generated fields ``[n, N, N]`` or ``[n, 1, N, N]`` (NumPy or torch), n >= 2 chains.
        generation_seconds: wall seconds it took to generate ``fields``, >= 0.
        rng: NumPy generator for plain HMC's start, then both runs' HMC.
        production_trajectories: plain HMC's trajectories per chain after its burn-in.
        burn_in_trajectories: plain HMC's discarded trajectories (default: the system's
            ``thermalisation_trajectories``).
        reference: equilibrium ⟨|M|⟩, ⟨S⟩ as Estimates (e.g. exact values); default: plain
            HMC's production means.
        z_max, hold: burn-in rule of :func:`~pdd_core.lattice.chain_statistics.measure_burn_in`.
        window_constant: Madras-Sokal c.
    """
    _check_system(system)
    starts = field_array(fields, system.grid, "fields")
    if not (isinstance(generation_seconds, (int, float, np.floating)) and not isinstance(generation_seconds, bool) and math.isfinite(generation_seconds) and generation_seconds >= 0):
        raise bad_argument("generation_seconds", generation_seconds, "must be a finite number >= 0", "pass the wall seconds the generator took for these fields")
    _check_rng(rng)
    production = _check_count("production_trajectories", production_trajectories, max(MIN_MEASURED, hold))
    burn = _burn_in_default(system, burn_in_trajectories)
    given = _check_reference(reference)
    chains = len(starts)

    cold = np.asarray(system.initial_state(chains, rng), dtype=np.float64)[:, 0]
    plain_run = timed_hmc(system, cold, burn + production, rng)
    plain_trajectories = plain_run.series["action"].shape[1]
    seconds_per_trajectory = plain_run.seconds / (chains * plain_trajectories)
    discarded = plain_trajectories - production  # the burn-in, plus any rounding up to whole frames
    plain_cost = Cost(plain_run.seconds, chains * plain_trajectories, _force_evaluations(system, chains * plain_trajectories), 0.0, float(chains * plain_trajectories))
    if given is None:
        given = {name: ObservableStats.measure(values[:, discarded:], plain_cost, window_constant).mean for name, values in plain_run.series.items()}
    plain_burn = {name: measure_burn_in(values, given[name], z_max, hold) for name, values in _with_start(observables(system, cold), plain_run.series).items()}
    plain = _report("plain_hmc", "trajectory", plain_run.series, discarded, plain_cost, window_constant, burn_in=plain_burn, hmc_acceptance=plain_run.acceptance)

    per_frame = _trajectories_per_frame(system)
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
        warm_run.seconds + generation_seconds, chains * warm_trajectories, _force_evaluations(system, chains * warm_trajectories),
        float(generation_seconds), chains * warm_trajectories + generation_seconds / seconds_per_trajectory,
    )  # fmt: skip
    warm = _report("warm_start", "trajectory", warm_run.series, warm_discarded, warm_cost, window_constant, burn_in=warm_burn, hmc_acceptance=warm_run.acceptance)
    return WarmStartStudy(plain=plain, warm=warm, reference=given, generation_seconds=float(generation_seconds), seconds_per_trajectory=seconds_per_trajectory, equal_cost=equal_cost)


@attrs.frozen(eq=False)
class ProposalChain:
    """Raw output of :func:`proposal_chain`: |M| and S after every cycle ``[C, cycles]``, acceptances and timings."""

    series: dict[str, np.ndarray]
    accepted: np.ndarray
    state: np.ndarray
    hmc_seconds: float
    proposal_seconds: float
    hmc_trajectories: int
    hmc_acceptance: float | None

    @property
    def acceptance(self) -> float:
        return float(self.accepted.mean())


def proposal_chain(system: Any, proposal: Any, fields: Any, n_cycles: int, rng: np.random.Generator, *, hmc: bool = True, progress: bool = False) -> ProposalChain:
    """Cycles of [one HMC frame of the system, if ``hmc``] then one independence MH step with ``proposal``.

    Per cycle the generator supplies the HMC frame's randomness (:meth:`run_chain` order), then the
    proposals and the Metropolis uniforms. |M| and S are recorded after the MH step.
    """
    _check_system(system)
    _check_proposal(proposal)
    _check_rng(rng)
    cycles = _check_count("n_cycles", n_cycles, 1)
    if not isinstance(hmc, bool):
        raise bad_argument("hmc", hmc, "must be a bool", "pass hmc=True (HMC frame + MH step) or False (MH only)", kind=DTypeError)
    state = field_array(fields, system.grid, "fields")
    chains = len(state)
    series = {name: np.empty((chains, cycles)) for name in OBSERVABLES}
    accepted = np.empty((chains, cycles), dtype=bool)
    hmc_seconds = proposal_seconds = 0.0
    trajectories, acceptances = 0, []
    start = time.perf_counter()
    log_weight = -np.asarray(system.action(state), dtype=np.float64) - np.asarray(proposal.log_density(state), dtype=np.float64)
    proposal_seconds += time.perf_counter() - start
    for cycle in tqdm(range(cycles), desc="proposal chain", disable=not progress, leave=False):
        if hmc:
            run = timed_hmc(system, state, _trajectories_per_frame(system), rng)
            state, hmc_seconds = run.state, hmc_seconds + run.seconds
            trajectories += chains * run.series["action"].shape[1]
            acceptances.append(run.acceptance)
            start = time.perf_counter()
            # The HMC move changed the states, so their importance weights w = exp(-S)/q change too.
            log_weight = -np.asarray(system.action(state), dtype=np.float64) - np.asarray(proposal.log_density(state), dtype=np.float64)
            proposal_seconds += time.perf_counter() - start
        start = time.perf_counter()
        step = independence_metropolis_step(system.action, proposal, state, log_weight, rng)
        proposal_seconds += time.perf_counter() - start
        state, log_weight, accepted[:, cycle] = step.fields, step.log_weight, step.accepted
        for name, values in observables(system, state).items():
            series[name][:, cycle] = values
    return ProposalChain(
        series=series, accepted=accepted, state=state, hmc_seconds=hmc_seconds, proposal_seconds=proposal_seconds,
        hmc_trajectories=trajectories, hmc_acceptance=float(np.mean(acceptances)) if acceptances else None,
    )  # fmt: skip


@attrs.frozen
class IndependenceStudy:
    """Independence Metropolis (with or without HMC frames) against plain HMC at equal wall time ((b)).

    Attributes:
        plain: plain HMC from the same equilibrated states, per trajectory.
        proposal: the proposal chain, per cycle; ``mh_acceptance`` is the MH acceptance rate.
        trajectories_per_cycle: HMC trajectories per cycle (0: MH only).
        seconds_per_trajectory: wall seconds of one chain's HMC trajectory (from plain burn-in).
        ratios: proposal chain over plain effective samples per second and per trajectory equivalent.
    """

    plain: ChainReport
    proposal: ChainReport
    trajectories_per_cycle: int
    seconds_per_trajectory: float

    @property
    def ratios(self) -> dict[str, dict[str, float | None]]:
        return _ratios(self.proposal, self.plain)

    def to_json(self) -> dict[str, Any]:
        return {
            "plain": self.plain.to_json(), "proposal": self.proposal.to_json(), "trajectories_per_cycle": self.trajectories_per_cycle,
            "seconds_per_trajectory": self.seconds_per_trajectory, "ratios": self.ratios,
        }  # fmt: skip


def independence_mh_study(
    system: Any,
    proposal: Any,
    rng: np.random.Generator,
    *,
    n_chains: int = 16,
    n_cycles: int = 500,
    hmc: bool = True,
    burn_in_trajectories: int | None = None,
    window_constant: float = DEFAULT_WINDOW_CONSTANT,
    progress: bool = False,
) -> IndependenceStudy:
    """Compare :func:`proposal_chain` with plain HMC at equal wall time (module docstring, (b)).

    Plain HMC first thermalises ``n_chains`` chains from ``initial_state`` (``burn_in_trajectories``,
    default the system's ``thermalisation_trajectories``, >= 1: it also times one trajectory);
    both samplers then start from those states.
    """
    _check_system(system)
    _check_proposal(proposal)
    _check_rng(rng)
    chains = _check_count("n_chains", n_chains, 2)
    cycles = _check_count("n_cycles", n_cycles, MIN_MEASURED)
    burn = _burn_in_default(system, burn_in_trajectories)
    if burn < 1:
        raise bad_argument("burn_in_trajectories", burn, "must be >= 1 here: the plain burn-in also times one trajectory", "pass burn_in_trajectories >= 1")
    thermalised = timed_hmc(system, np.asarray(system.initial_state(chains, rng), dtype=np.float64)[:, 0], burn, rng)
    seconds_per_trajectory = thermalised.seconds / (chains * thermalised.series["action"].shape[1])

    chain = proposal_chain(system, proposal, thermalised.state, cycles, rng, hmc=hmc, progress=progress)
    chain_seconds = chain.hmc_seconds + chain.proposal_seconds
    chain_cost = Cost(
        chain_seconds, chain.hmc_trajectories, _force_evaluations(system, chain.hmc_trajectories), chain.proposal_seconds,
        chain.hmc_trajectories + chain.proposal_seconds / seconds_per_trajectory,
    )  # fmt: skip
    mixed = _report("independence_mh", "cycle", chain.series, 0, chain_cost, window_constant, hmc_acceptance=chain.hmc_acceptance, mh_acceptance=chain.acceptance)

    affordable = max(MIN_MEASURED, round(chain_seconds / (seconds_per_trajectory * chains)))
    plain_run = timed_hmc(system, thermalised.state, affordable, rng)
    plain_trajectories = chains * plain_run.series["action"].shape[1]
    plain_cost = Cost(plain_run.seconds, plain_trajectories, _force_evaluations(system, plain_trajectories), 0.0, float(plain_trajectories))
    plain = _report("plain_hmc", "trajectory", plain_run.series, 0, plain_cost, window_constant, hmc_acceptance=plain_run.acceptance)
    per_cycle = chain.hmc_trajectories // (chains * cycles)
    return IndependenceStudy(plain=plain, proposal=mixed, trajectories_per_cycle=per_cycle, seconds_per_trajectory=seconds_per_trajectory)


__all__ = [
    "ChainReport",
    "IndependenceStudy",
    "OBSERVABLES",
    "ProposalChain",
    "TimedRun",
    "WarmStartStudy",
    "independence_mh_study",
    "observables",
    "proposal_chain",
    "timed_hmc",
    "warm_start_study",
]
