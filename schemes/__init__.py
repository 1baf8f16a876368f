"""RG schemes: linear coarse-graining diffusions in λ that are diagonal in Fourier space."""

from schemes.base import SpectralScheme
from schemes.carosso import Carosso
from schemes.fourier_diagonal import FourierDiagonal
from schemes.polchinski import Polchinski
from schemes.rescaled_carosso import RescaledCarosso
from schemes.variance_preserving import VariancePreserving

__all__ = ["Carosso", "FourierDiagonal", "Polchinski", "RescaledCarosso", "SpectralScheme", "VariancePreserving"]
