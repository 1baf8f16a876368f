"""Independence Metropolis-Hastings cycles with an exact proposal density, measured against plain
HMC at equal cost (RDM Sec. 1.2, 5.4).

Each cycle is one HMC frame of the system (``trajectories_per_frame`` trajectories) followed by an
independence Metropolis-Hastings step with a proposal q whose log density is exact
(:mod:`pdd_core.apps.lattice.gaussian_proposal`). Both kernels leave exp(-S) invariant, so their
composition does. Both chains start from the same equilibrated states; plain HMC gets as many
trajectories as the proposal chain's wall time buys. The system protocol and what is measured are
those of :mod:`pdd_core.apps.lattice.hmc_comparison`.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np
from tqdm.auto import tqdm

from pdd_core.apps.lattice.estimators import field_array
from pdd_core.apps.lattice.gaussian_proposal import independence_metropolis_step
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
from pdd_core.metrics.chain_statistics import DEFAULT_WINDOW_CONSTANT, Cost


def _check_proposal(proposal: Any) -> None:
    if not (callable(getattr(proposal, "sample", None)) and callable(getattr(proposal, "log_density", None))):
        problem = "expected an object with sample(n, rng) and an exact log_density(fields)"
        raise bad_argument("proposal", type(proposal).__name__, problem, "pass e.g. fit_fourier_gaussian(samples); a sampler without a density can only give warm starts", kind=DTypeError)


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
    check_system(system)
    _check_proposal(proposal)
    check_rng(rng)
    cycles = check_count("n_cycles", n_cycles, 1)
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
            run = timed_hmc(system, state, trajectories_per_frame(system), rng)
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
    """Independence Metropolis (with or without HMC frames) against plain HMC at equal wall time (module docstring).

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
        return efficiency_ratios(self.proposal, self.plain)

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
    """Compare :func:`proposal_chain` with plain HMC at equal wall time (module docstring).

    Plain HMC first thermalises ``n_chains`` chains from ``initial_state`` (``burn_in_trajectories``,
    default the system's ``thermalisation_trajectories``, >= 1: it also times one trajectory);
    both samplers then start from those states.
    """
    check_system(system)
    _check_proposal(proposal)
    check_rng(rng)
    chains = check_count("n_chains", n_chains, 2)
    cycles = check_count("n_cycles", n_cycles, MIN_MEASURED)
    burn = burn_in_default(system, burn_in_trajectories)
    if burn < 1:
        raise bad_argument("burn_in_trajectories", burn, "must be >= 1 here: the plain burn-in also times one trajectory", "pass burn_in_trajectories >= 1")
    thermalised = timed_hmc(system, np.asarray(system.initial_state(chains, rng), dtype=np.float64)[:, 0], burn, rng)
    seconds_per_trajectory = thermalised.seconds / (chains * thermalised.series["action"].shape[1])

    chain = proposal_chain(system, proposal, thermalised.state, cycles, rng, hmc=hmc, progress=progress)
    chain_seconds = chain.hmc_seconds + chain.proposal_seconds
    chain_cost = Cost(
        chain_seconds, chain.hmc_trajectories, force_evaluations(system, chain.hmc_trajectories), chain.proposal_seconds,
        chain.hmc_trajectories + chain.proposal_seconds / seconds_per_trajectory,
    )  # fmt: skip
    mixed = chain_report("independence_mh", "cycle", chain.series, 0, chain_cost, window_constant, hmc_acceptance=chain.hmc_acceptance, mh_acceptance=chain.acceptance)

    affordable = max(MIN_MEASURED, round(chain_seconds / (seconds_per_trajectory * chains)))
    plain_run = timed_hmc(system, thermalised.state, affordable, rng)
    plain_trajectories = chains * plain_run.series["action"].shape[1]
    plain_cost = Cost(plain_run.seconds, plain_trajectories, force_evaluations(system, plain_trajectories), 0.0, float(plain_trajectories))
    plain = chain_report("plain_hmc", "trajectory", plain_run.series, 0, plain_cost, window_constant, hmc_acceptance=plain_run.acceptance)
    per_cycle = chain.hmc_trajectories // (chains * cycles)
    return IndependenceStudy(plain=plain, proposal=mixed, trajectories_per_cycle=per_cycle, seconds_per_trajectory=seconds_per_trajectory)


__all__ = ["IndependenceStudy", "ProposalChain", "independence_mh_study", "proposal_chain"]
