"""Path densities and scores: autograd PathScore, noise-prediction scores (SA-PDD, DDPM)."""

from pdd_core.score.gaussian import GaussianPathScore
from pdd_core.score.noise_score import NoisePredictionScore, denoising_score, sa_pdd_score
from pdd_core.score.path_density import log_density, path_log_density
from pdd_core.score.path_score import PathScore

__all__ = ["GaussianPathScore", "NoisePredictionScore", "PathScore", "denoising_score", "log_density", "path_log_density", "sa_pdd_score"]
