"""Path densities and scores: autograd PathScore, noise-prediction scores (SA-PDD, DDPM)."""

from pdd_core.score.gaussian import GaussianPathScore
from pdd_core.score.noise_score import DenoisingScore, NoisePredictionScore, SAPDDScore
from pdd_core.score.path_density import log_density, path_log_density
from pdd_core.score.path_score import PathScore

__all__ = ["DenoisingScore", "GaussianPathScore", "NoisePredictionScore", "PathScore", "SAPDDScore", "log_density", "path_log_density"]
