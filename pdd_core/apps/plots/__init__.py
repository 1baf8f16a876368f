"""PNG figures in the style of PDD Figs. 2-10, drawn on matplotlib's Agg backend (no display).

Every function takes torch tensors or numpy arrays and an output path ending in ``.png`` inside an
existing directory, writes the image atomically (temporary file + ``os.replace``) and returns the
path. Bad arguments raise :mod:`pdd_core.errors` errors before anything is written.
"""

from pdd_core.apps.plots.climate import plot_running_climate
from pdd_core.apps.plots.curves import plot_error_vs_lambda, plot_training_curve
from pdd_core.apps.plots.fields import plot_spatiotemporal_panels
from pdd_core.apps.plots.spectra import plot_psd_comparison, plot_spatiotemporal_psd
from pdd_core.apps.plots.super_resolution import plot_super_resolution

__all__ = [
    "plot_error_vs_lambda",
    "plot_psd_comparison",
    "plot_running_climate",
    "plot_spatiotemporal_panels",
    "plot_spatiotemporal_psd",
    "plot_super_resolution",
    "plot_training_curve",
]
