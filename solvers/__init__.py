"""Time integrators (physical time t) and λ-samplers (reverse RG)."""

from solvers import registered  # noqa: F401,E402  (registers the named samplers and integrators)
from solvers.conditional_increment import ConditionalIncrement, conditional_rollout
from solvers.etd import ETDPredictor
from solvers.gaussian_exponential import GaussianExponential, GaussianLangevin
from solvers.langevin import LangevinCorrector, PredictorCorrector
from solvers.probability_flow import ExponentialMultistep, ProbabilityFlowHeun
from solvers.reverse_euler_maruyama import ReverseEulerMaruyama
from solvers.time_integrators import Euler, EulerMaruyama

__all__ = [
    "ConditionalIncrement",
    "ETDPredictor",
    "Euler",
    "EulerMaruyama",
    "ExponentialMultistep",
    "GaussianExponential",
    "GaussianLangevin",
    "LangevinCorrector",
    "PredictorCorrector",
    "ProbabilityFlowHeun",
    "ReverseEulerMaruyama",
    "conditional_rollout",
]
