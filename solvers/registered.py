"""The λ-samplers and time integrators the command line knows by name (``SAMPLERS``, ``INTEGRATORS``).

pyproject.toml lists the same names as entry points (groups ``pdd.samplers``, ``pdd.integrators``),
so the registries hold them in a fresh interpreter before anything imports ``solvers``.
"""

from __future__ import annotations

from pdd_core.registry import INTEGRATORS, SAMPLERS
from pdd_core.sampler_recipe import SamplerOptions, SamplerRecipe
from solvers.conditional_increment import ConditionalIncrement
from solvers.etd import ETDPredictor
from solvers.gaussian_exponential import GaussianExponential, GaussianLangevin
from solvers.langevin import LangevinCorrector, PredictorCorrector
from solvers.probability_flow import ExponentialMultistep, ProbabilityFlowHeun
from solvers.reverse_euler_maruyama import ReverseEulerMaruyama
from solvers.time_integrators import Euler, EulerMaruyama

# PDD B.6: κ = 0.7 for Lorenz-96 and 3 Langevin steps per predictor step.
PAPER_SNR = 0.7
PAPER_CORRECTOR_STEPS = 3


def _paper_pc(options: SamplerOptions) -> PredictorCorrector:
    corrector = LangevinCorrector(snr=PAPER_SNR if options.snr is None else options.snr)
    return PredictorCorrector(ETDPredictor(), corrector, PAPER_CORRECTOR_STEPS if options.corrector_steps is None else options.corrector_steps)


# The Langevin time h of gpc's corrector: 3 for a drift's path score, 1 for a denoiser's score. On the medium Lorenz-96
# runs (three seeds, 64 generated paths) h = 3 took PDD's generation from 0.33-0.37 to 0.27-0.28 (floor 0.13-0.14) and
# X's std from 0.78-0.82 to 0.92-0.93 of the truth's, while the DDPM baseline's went from 0.30-0.31 to 0.44-0.47
# (docs/results.md, "The corrector's step"). The Gaussian part is exact at any h.
PATH_SCORE_STEP_SIZE = 3.0
DENOISER_STEP_SIZE = 1.0


def _gaussian_pc(options: SamplerOptions) -> PredictorCorrector:
    predictor = GaussianExponential(options.reference, stochastic=False, gate=1.0)
    default_step = PATH_SCORE_STEP_SIZE if options.path_score else DENOISER_STEP_SIZE
    corrector = GaussianLangevin(options.reference, default_step if options.step_size is None else options.step_size, gate=1.0)
    return PredictorCorrector(predictor, corrector, 1 if options.corrector_steps is None else options.corrector_steps)


# Each recipe is a module-level name so that an entry point (pyproject.toml, group pdd.samplers)
# can reach it: the SAMPLERS registry is then complete in a fresh interpreter.
GAUSSIAN_PC = SamplerRecipe(
    "exponential predictor around the data's Gaussian marginal + per-mode Gaussian Langevin corrector "
    "(the default: 25 steps on the power grid, 2 score calls per step)",
    _gaussian_pc,
    options=("corrector_steps", "step_size"),
    marginal=True,
    provenance=lambda sampler: {"step_size": sampler.corrector.step_size, "corrector_steps": sampler.corrector_steps},
)
GAUSSIAN_FLOW = SamplerRecipe(
    "probability flow around the data's Gaussian marginal, exponential Adams-Bashforth 2 (deterministic), 1 call per step",
    lambda options: GaussianExponential(options.reference, stochastic=False, gate=1.0),
    marginal=True,
)
GAUSSIAN_SDE = SamplerRecipe(
    "reverse SDE around the data's Gaussian marginal, exponential Adams-Bashforth 2 (stochastic), 1 call per step",
    lambda options: GaussianExponential(options.reference, stochastic=True, gate=1.0),
    marginal=True,
)
PAPER_PC = SamplerRecipe(
    "ETD predictor + Langevin corrector (PDD Algorithm 3, B.6: the paper's setting, 1000 steps), 1 + corrector-steps calls per step",
    _paper_pc,
    options=("snr", "corrector_steps"),
    provenance=lambda sampler: {"snr": sampler.corrector.snr, "corrector_steps": sampler.corrector_steps},
)
EULER_MARUYAMA = SamplerRecipe("reverse Euler-Maruyama (PDD Eq. 11), 1 score call per step", lambda options: ReverseEulerMaruyama())
ETD = SamplerRecipe("exponential time differencing predictor (PDD Eq. 66), 1 score call per step", lambda options: ETDPredictor())
FLOW_HEUN = SamplerRecipe("probability-flow ODE, exponential Heun (2nd order, deterministic), 2 calls per step", lambda options: ProbabilityFlowHeun())
FLOW_AB2 = SamplerRecipe("probability-flow ODE, exponential Adams-Bashforth 2 (2nd order, deterministic), 1 call per step", lambda options: ExponentialMultistep())

RECIPES = {
    "gpc": GAUSSIAN_PC,
    "gpf": GAUSSIAN_FLOW,
    "gsde": GAUSSIAN_SDE,
    "pc": PAPER_PC,
    "em": EULER_MARUYAMA,
    "etd": ETD,
    "pf": FLOW_HEUN,
    "eab2": FLOW_AB2,
}
for _name, _recipe in RECIPES.items():
    SAMPLERS.register(_name)(_recipe)

INTEGRATORS.register("euler")(Euler)
INTEGRATORS.register("euler-maruyama")(EulerMaruyama)
INTEGRATORS.register("conditional-increment")(ConditionalIncrement)  # the B.4 baseline: pdd simulate builds it from --sampler

__all__ = [
    "ETD",
    "EULER_MARUYAMA",
    "FLOW_AB2",
    "FLOW_HEUN",
    "GAUSSIAN_FLOW",
    "GAUSSIAN_PC",
    "GAUSSIAN_SDE",
    "PAPER_CORRECTOR_STEPS",
    "PAPER_PC",
    "PAPER_SNR",
    "RECIPES",
]
