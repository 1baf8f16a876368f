"""Evaluation metrics of PDD B.5: relative L2 error (Eq. 63), spectral error (Eq. 64), power spectra;
The Well's VRMSE, NRMSE and binned spectral MSE; the fair ensemble CRPS and the spread-skill ratio;
the spectral error's noise floor and the climate of long rollouts.

Every function accepts torch tensors or numpy arrays shaped ``[B, T, C, *space]``, computes in
float64 and returns numpy. Standardise both fields with SHARED per-channel parameters (B.5), either
with :func:`standardize` or through the ``stats=(mean, std)`` keyword of each metric.
"""

from pdd_core.metrics.climate import climate, running_statistics
from pdd_core.metrics.floor import spectral_error_floor
from pdd_core.metrics.l2 import relative_l2_error, relative_l2_per_sample
from pdd_core.metrics.normalization import channel_stats, standardize
from pdd_core.metrics.probabilistic import crps_ensemble, spread_skill
from pdd_core.metrics.segments import segments
from pdd_core.metrics.shells import shell_counts, shell_index, shell_sum
from pdd_core.metrics.spectra import compare_psd, fold_spatiotemporal_psd, relative_spectral_error, spatiotemporal_psd, time_averaged_spatial_psd
from pdd_core.metrics.well import binned_spectral_mse, nrmse, vrmse, well_bins

__all__ = [
    "binned_spectral_mse",
    "climate",
    "channel_stats",
    "crps_ensemble",
    "compare_psd",
    "fold_spatiotemporal_psd",
    "nrmse",
    "relative_l2_error",
    "relative_l2_per_sample",
    "relative_spectral_error",
    "running_statistics",
    "segments",
    "shell_counts",
    "shell_index",
    "shell_sum",
    "spatiotemporal_psd",
    "spectral_error_floor",
    "spread_skill",
    "standardize",
    "time_averaged_spatial_psd",
    "vrmse",
    "well_bins",
]
