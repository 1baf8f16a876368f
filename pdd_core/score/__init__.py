"""Path densities and scores: autograd PathScore, noise-prediction scores (SA-PDD, DDPM)."""

from pdd_core.score.gaussian import GaussianPathScore
from pdd_core.score.gaussian_marginal import GaussianMarginal, data_autocovariance, data_mean, dataset_autocovariance, dataset_mean
from pdd_core.score.initial_density import POWER_PATHS, GaussianInitial, data_power, dataset_power
from pdd_core.score.noise_score import DenoisingScore, NoisePredictionScore, SAPDDScore
from pdd_core.score.path_density import NOISE_MODELS, CalibratedNoise, PerModeNoise, ScalarNoise, log_density, path_log_density
from pdd_core.score.path_score import PathScore

__all__ = [
    "NOISE_MODELS",
    "DenoisingScore",
    "CalibratedNoise",
    "PerModeNoise",
    "ScalarNoise",
    "GaussianInitial",
    "GaussianMarginal",
    "POWER_PATHS",
    "GaussianPathScore",
    "NoisePredictionScore",
    "PathScore",
    "SAPDDScore",
    "data_autocovariance",
    "data_mean",
    "data_power",
    "dataset_autocovariance",
    "dataset_mean",
    "dataset_power",
    "log_density",
    "path_log_density",
]
