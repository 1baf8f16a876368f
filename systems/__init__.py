"""Physical systems and their truth integrators (numba kernels, FFT pseudospectral)."""

__all__: list[str] = []
