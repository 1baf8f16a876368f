"""The learned inverse RG of lattice φ⁴ (RDM 5.23-5.25, Sec. 7, Figs. 7-8).

A denoising score model of the M-modified Carosso flow (RDM 5.9 with 7.1, kernel 5.20; per
orthonormal mode ∂t φ̂ = -κ_p φ̂ + β η, κ_p = |p̂|² + M², ``Carosso(alpha=1, beta=sqrt(2) ε^{-d/2},
mass=M)``) is trained by denoising score matching (the second line of 5.23, in ε-prediction
form: φ_t = C̃_t φ_0 + Σ̃_t^{1/2} ε, loss |ε̂ - ε|², score -Σ̃_t^{-1/2} ε̂), sampled by the reverse
SDE 5.25 with the λ-samplers of PDD, and its estimator flows are compared with those of the
exact flow (HMC samples flowed by kernel 5.20).

* :mod:`.times`: the two RG-time ranges (zero mode alone on [t_split, t_max], lattice on [0, t_split]);
* :mod:`.residual`: the denoiser = exact noise prediction of a base law + a learned correction;
* :mod:`.training`: the two ``pdd train`` runs and loading them;
* :mod:`.learned_flow`: sampling the learned flow at the ts of interest;
* :mod:`.comparison`, :mod:`.plots`: learned against true, in numbers and as a figure.
"""

from pdd_core.apps.lattice.inverse_rg.comparison import COMPARED, HEADLINE, Difference, compare_learned_flow, summarise, summary_lines
from pdd_core.apps.lattice.inverse_rg.learned_flow import DEFAULT_STIFFNESS, DEFAULT_ZERO_MODE_STEPS, LearnedFlow, LearnedInverseRG, carrier_grid
from pdd_core.apps.lattice.inverse_rg.plots import difference_figure
from pdd_core.apps.lattice.inverse_rg.residual import RESIDUAL_MODEL, BaseLaw, ResidualDenoiser, baseline_noise, residual_model_config
from pdd_core.apps.lattice.inverse_rg.times import DEFAULT_PRIOR_TOLERANCE, DEFAULT_SPLIT_TOLERANCE, FlowTimes, choose_times, zero_mode
from pdd_core.apps.lattice.inverse_rg.training import TrainingSettings, lattice_network, load_inverse_rg, train_inverse_rg

__all__ = [
    "BaseLaw",
    "COMPARED",
    "DEFAULT_PRIOR_TOLERANCE",
    "DEFAULT_SPLIT_TOLERANCE",
    "DEFAULT_STIFFNESS",
    "DEFAULT_ZERO_MODE_STEPS",
    "Difference",
    "FlowTimes",
    "HEADLINE",
    "LearnedFlow",
    "LearnedInverseRG",
    "RESIDUAL_MODEL",
    "ResidualDenoiser",
    "TrainingSettings",
    "baseline_noise",
    "carrier_grid",
    "choose_times",
    "compare_learned_flow",
    "difference_figure",
    "lattice_network",
    "load_inverse_rg",
    "residual_model_config",
    "summarise",
    "summary_lines",
    "train_inverse_rg",
    "zero_mode",
]
