"""Pseudospectral numerics of 2D Kolmogorov flow in vorticity form (PDD Eqs. 61-62, Appendix B.1).

    ∂t ζ = −V·∇ζ − μ ζ + ν ∇²ζ − k_f cos(k_f y),    ζ = ∇²ψ,    V = (−∂y ψ, ∂x ψ)      (61, 62)

on [0, 2π)², with V·∇ζ = J(ψ, ζ) = ψ_x ζ_y − ψ_y ζ_x.

Layout. Real fields are indexed ``[..., x, y]`` (``ij``); the forcing varies along the last axis.
Spectral arrays hold unnormalised FFT coefficients (NumPy's "backward" convention) on a compact
*band* layout ``[..., N, K+1]``: every k_x in FFT order and the real-FFT wavenumbers k_y = 0..K,
with K = (N − 1) // 3 the largest wavenumber the 2/3 rule keeps (3K < N, so the product of two
band-limited fields aliases only onto modes outside the band; Orszag 1971). Rows with |k_x| > K
are zero. The state never leaves the band, so every quadratic term is the exact Galerkin
projection of the continuous one: energy and enstrophy are conserved by it to round-off.

Fast path. The advection term uses Basdevant's (1983) form of curl((V·∇)V) for incompressible
2D flow, V·∇ζ = ∂x∂y(v² − u²) + (∂x² − ∂y²)(uv): 2 inverse and 2 forward FFTs per tendency
instead of 5. The FFTs are ``numpy.fft``'s (pocketfft, single-threaded; measured level with
scipy.fft and faster than torch's MKL on the strided x-axis), pruned to the band (the x-transform
runs on K+1 of the N/2+1 columns) and written into reused buffers; everything else is fused into numba kernels that
write the next stage and its velocity spectrum in one pass, and the batch is integrated in
cache-sized chunks of trajectories. :class:`ReferenceModel` is the plain NumPy transcription
(advective form u ζ_x + v ζ_y, 5 FFTs, full rfft layout) the fast path is tested and benchmarked
against.

Integrators. ``midpoint``: the explicit midpoint rule on the whole right-hand side (B.1's scheme,
order 2). ``etdrk4``: Cox & Matthews (2002) exponential RK4 with the linear part
L = −(μ + ν|k|²) exact and coefficients from Kassam & Trefethen's (2005) contour integrals;
forcing and advection form the nonlinear part N̂.
"""

from __future__ import annotations

import functools

import attrs
import numba
import numpy as np

from systems.etdrk4 import etdrk4_coefficients

INTEGRATORS: tuple[str, ...] = ("midpoint", "etdrk4")
CACHE_BYTES = 3 * 2**20  # working-set budget of one chunk of trajectories (a few MiB: L2/L3)


def band_limit(n: int) -> int:
    """K = (N − 1) // 3: the largest |k| kept by the 2/3 rule on N points (3K < N)."""
    return (n - 1) // 3


def wavenumbers(n: int) -> np.ndarray:
    """Integer wavenumbers in FFT order, float64 ``[N]``."""
    return np.fft.fftfreq(n, 1.0 / n)


def forcing_amplitude(n: int, forcing_wavenumber: int) -> complex:
    """Unnormalised rfft coefficient of −k_f cos(k_f y) at (k_x, k_y) = (0, k_f) on N² points."""
    return -forcing_wavenumber * n * n / 2


@attrs.frozen(eq=False)
class SpectralOperators:
    """Per-mode tables on the band layout ``[N, K+1]`` for one set of parameters (built once)."""

    n: int
    kx: np.ndarray  # [N] k_x in FFT order
    ky: np.ndarray  # [K+1]
    band_rows: np.ndarray  # int64 [2K+1]: rows with |k_x| <= K
    inv_k2: np.ndarray  # 1/|k|², 0 at k = 0
    linear: np.ndarray  # L = −(μ + ν|k|²)
    forcing: np.ndarray  # complex, −k_f cos(k_f y) on the band layout
    integrator: str
    time_step: float
    coefficients: tuple[np.ndarray, ...]  # ETDRK4 (E, E½, Q, f1, f2, f3); empty for midpoint

    @property
    def band(self) -> int:
        return self.ky.shape[0] - 1


@functools.lru_cache(maxsize=16)
def spectral_operators(n: int, mu: float, nu: float, forcing_wavenumber: int, time_step: float, integrator: str) -> SpectralOperators:
    """Build (and cache) the tables of one integrator configuration."""
    band = band_limit(n)
    kx = wavenumbers(n)
    ky = np.arange(band + 1, dtype=np.float64)
    k2 = kx[:, None] ** 2 + ky[None, :] ** 2
    inv_k2 = np.divide(1.0, k2, out=np.zeros_like(k2), where=k2 > 0)
    linear = -(mu + nu * k2)
    forcing = np.zeros(k2.shape, dtype=np.complex128)
    forcing[0, forcing_wavenumber] = forcing_amplitude(n, forcing_wavenumber)
    coefficients = etdrk4_coefficients(linear, time_step) if integrator == "etdrk4" else ()
    band_rows = np.flatnonzero(np.abs(kx) <= band).astype(np.int64)
    return SpectralOperators(n, kx, ky, band_rows, inv_k2, linear, forcing, integrator, time_step, coefficients)


# ---------------------------------------------------------------------------- numba kernels
# s[0] = FFT(v² − u²), s[1] = FFT(uv); z[0], z[1] = û, v̂ of the next stage (input of the inverse FFT).


@numba.njit(cache=True, inline="always")
def _minus_advection(s, b, i, j, kx, ky):
    """−(V·∇ζ)^ = k_x k_y FFT(v² − u²) + (k_x² − k_y²) FFT(uv)  (Basdevant form, band mode (i, j))."""
    return kx[i] * ky[j] * s[0, b, i, j] + (kx[i] * kx[i] - ky[j] * ky[j]) * s[1, b, i, j]


@numba.njit(cache=True, inline="always")
def _write_velocity(z, b, i, j, w, kx, ky, inv_k2):
    """û = i k_y ζ̂/|k|², v̂ = −i k_x ζ̂/|k|²  (ψ̂ = −ζ̂/|k|², V = (−∂y ψ, ∂x ψ); Eq. 62)."""
    t = w * inv_k2[i, j]
    z[0, b, i, j] = complex(-ky[j] * t.imag, ky[j] * t.real)
    z[1, b, i, j] = complex(kx[i] * t.imag, -kx[i] * t.real)


@numba.njit(cache=True)
def _velocity(w, z, rows, kx, ky, inv_k2):
    """z = (û, v̂) of the band spectra w."""
    for b in range(w.shape[0]):
        for i in rows:
            for j in range(w.shape[2]):
                _write_velocity(z, b, i, j, w[b, i, j], kx, ky, inv_k2)


@numba.njit(cache=True)
def _quadratic_products(phys):
    """In place: (u, v) -> (v² − u², uv) on the physical grid."""
    for b in range(phys.shape[1]):
        for i in range(phys.shape[2]):
            for j in range(phys.shape[3]):
                u = phys[0, b, i, j]
                v = phys[1, b, i, j]
                phys[0, b, i, j] = (v - u) * (v + u)
                phys[1, b, i, j] = u * v


@numba.njit(cache=True)
def _euler_substage(s, evaluated, base, h, out, z, rows, kx, ky, inv_k2, linear, forcing):
    """out = base + h f(evaluated), f = −V·∇ζ + Lζ + F; then z = velocity(out). ``out`` may alias ``base``."""
    for b in range(base.shape[0]):
        for i in rows:
            for j in range(base.shape[2]):
                tendency = _minus_advection(s, b, i, j, kx, ky) + forcing[i, j] + linear[i, j] * evaluated[b, i, j]
                value = base[b, i, j] + h * tendency
                out[b, i, j] = value
                _write_velocity(z, b, i, j, value, kx, ky, inv_k2)


@numba.njit(cache=True)
def _etd_stage_a(s, v, nv, a, acc, z, rows, kx, ky, inv_k2, forcing, e, e2, q, f1):
    """N_v = N(v); a = E½ v + Q N_v; acc = E v + f1 N_v; z = velocity(a)."""
    for b in range(v.shape[0]):
        for i in rows:
            for j in range(v.shape[2]):
                n_v = _minus_advection(s, b, i, j, kx, ky) + forcing[i, j]
                nv[b, i, j] = n_v
                value = e2[i, j] * v[b, i, j] + q[i, j] * n_v
                a[b, i, j] = value
                acc[b, i, j] = e[i, j] * v[b, i, j] + f1[i, j] * n_v
                _write_velocity(z, b, i, j, value, kx, ky, inv_k2)


@numba.njit(cache=True)
def _etd_stage_b(s, v, acc, z, rows, kx, ky, inv_k2, forcing, e2, q, f2):
    """N_a = N(a); acc += 2 f2 N_a; z = velocity(b), b = E½ v + Q N_a (b itself is not needed later)."""
    for bb in range(v.shape[0]):
        for i in rows:
            for j in range(v.shape[2]):
                n_a = _minus_advection(s, bb, i, j, kx, ky) + forcing[i, j]
                acc[bb, i, j] += 2 * f2[i, j] * n_a
                _write_velocity(z, bb, i, j, e2[i, j] * v[bb, i, j] + q[i, j] * n_a, kx, ky, inv_k2)


@numba.njit(cache=True)
def _etd_stage_c(s, a, nv, acc, z, rows, kx, ky, inv_k2, forcing, e2, q, f2):
    """N_b = N(b); acc += 2 f2 N_b; z = velocity(c), c = E½ a + Q (2 N_b − N_v)."""
    for b in range(a.shape[0]):
        for i in rows:
            for j in range(a.shape[2]):
                n_b = _minus_advection(s, b, i, j, kx, ky) + forcing[i, j]
                acc[b, i, j] += 2 * f2[i, j] * n_b
                _write_velocity(z, b, i, j, e2[i, j] * a[b, i, j] + q[i, j] * (2 * n_b - nv[b, i, j]), kx, ky, inv_k2)


@numba.njit(cache=True)
def _etd_stage_d(s, acc, v, z, rows, kx, ky, inv_k2, forcing, f3):
    """N_c = N(c); v = acc + f3 N_c; z = velocity(v)."""
    for b in range(v.shape[0]):
        for i in rows:
            for j in range(v.shape[2]):
                value = acc[b, i, j] + f3[i, j] * (_minus_advection(s, b, i, j, kx, ky) + forcing[i, j])
                v[b, i, j] = value
                _write_velocity(z, b, i, j, value, kx, ky, inv_k2)


# ---------------------------------------------------------------------------- fast integrator


class _ProductSpectra:
    """FFT of (v² − u², uv) from z = (û, v̂) ``[2, B, N, K+1]``, into buffers allocated once.

    The x-transforms run on the K+1 non-zero columns only; the y-transforms see zero columns
    k_y > K on the way in and drop them on the way out (2/3 rule). Writing into reused
    buffers (``numpy.fft``'s ``out=``) matters: fresh arrays per call re-fault their pages, which
    cost more than the transforms themselves at N = 256 (measured 4.4 against 1.9 ms per step).
    """

    def __init__(self, shape: tuple[int, ...], n: int) -> None:
        self.n, self.width = n, shape[-1]
        # Full rfft width with the columns k_y > K kept zero: irfft then needs no padded copy.
        self.columns = np.zeros((*shape[:-1], n // 2 + 1), dtype=np.complex128)
        self.physical = np.empty((*shape[:-1], n))
        self.rows = np.empty((*shape[:-1], n // 2 + 1), dtype=np.complex128)
        self.spectra = np.empty(shape, dtype=np.complex128)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        np.fft.ifft(z, axis=-2, out=self.columns[..., : self.width])
        np.fft.irfft(self.columns, n=self.n, axis=-1, out=self.physical)
        _quadratic_products(self.physical)
        np.fft.rfft(self.physical, axis=-1, out=self.rows)
        return np.fft.fft(self.rows[..., : self.width], axis=-2, out=self.spectra)


def tendency(w: np.ndarray, ops: SpectralOperators) -> np.ndarray:
    """Right-hand side of Eq. 61 for band spectra ``[B, N, K+1]`` by the fast path (Basdevant form, pruned FFTs)."""
    tables = (ops.band_rows, ops.kx, ops.ky, ops.inv_k2)
    z = np.zeros((2, *w.shape), dtype=np.complex128)
    _velocity(w, z, *tables)
    out = np.zeros_like(w)
    _euler_substage(_ProductSpectra(z.shape, ops.n)(z), w, np.zeros_like(w), 1.0, out, z, *tables, ops.linear, ops.forcing)
    return out


def chunk_size(n: int) -> int:
    """Trajectories integrated together: as many as keep one chunk's FFT buffers in ``CACHE_BYTES``.

    Trajectories are independent, so the batch is cut into chunks that each run all their
    steps while their working set (≈ 80 N² bytes per trajectory) stays in cache. Measured on a
    2-core EPYC (1 MiB L2 per core), ms per trajectory-step, one at a time against all 8 or 16
    together: N = 256 2.1 against 3.6, N = 128 0.53 against 0.75; N = 64 gains from 4-16.
    """
    return max(1, CACHE_BYTES // (80 * n * n))


def integrate(w: np.ndarray, n_steps: int, ops: SpectralOperators) -> None:
    """Advance band spectra ``w`` complex128 ``[B, N, K+1]`` (C-contiguous) in place by ``n_steps`` steps."""
    size = chunk_size(ops.n)
    for start in range(0, w.shape[0], size):
        _integrate_chunk(w[start : start + size], n_steps, ops)


def _integrate_chunk(w: np.ndarray, n_steps: int, ops: SpectralOperators) -> None:
    # z rows outside the band are never written, so they stay zero for the inverse FFT.
    z = np.zeros((2, *w.shape), dtype=np.complex128)
    products = _ProductSpectra(z.shape, ops.n)
    tables = (ops.band_rows, ops.kx, ops.ky, ops.inv_k2)
    _velocity(w, z, *tables)
    h = ops.time_step
    if ops.integrator == "midpoint":
        middle = np.empty_like(w)
        for _ in range(n_steps):
            _euler_substage(products(z), w, w, h / 2, middle, z, *tables, ops.linear, ops.forcing)
            _euler_substage(products(z), middle, w, h, w, z, *tables, ops.linear, ops.forcing)
        return
    e, e2, q, f1, f2, f3 = ops.coefficients
    nv, a, acc = np.empty_like(w), np.empty_like(w), np.empty_like(w)
    for _ in range(n_steps):
        _etd_stage_a(products(z), w, nv, a, acc, z, *tables, ops.forcing, e, e2, q, f1)
        _etd_stage_b(products(z), w, acc, z, *tables, ops.forcing, e2, q, f2)
        _etd_stage_c(products(z), a, nv, acc, z, *tables, ops.forcing, e2, q, f2)
        _etd_stage_d(products(z), acc, w, z, *tables, ops.forcing, f3)


# ---------------------------------------------------------------------------- layouts


def band_from_field(field: np.ndarray) -> np.ndarray:
    """Project real fields ``[..., N, N]`` onto the band: unnormalised spectra ``[..., N, K+1]``."""
    n = field.shape[-1]
    band = band_limit(n)
    spectrum = np.fft.rfft2(np.asarray(field, dtype=np.float64))[..., : band + 1]
    spectrum[..., np.abs(wavenumbers(n)) > band, :] = 0
    return np.ascontiguousarray(spectrum)


def field_from_band(spectrum: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`band_from_field`: real fields ``[..., N, N]``."""
    return np.fft.irfft(np.fft.ifft(spectrum, axis=-2), n=n, axis=-1)


def full_from_band(spectrum: np.ndarray, n: int) -> np.ndarray:
    """Band layout ``[..., N, K+1]`` -> full rfft layout ``[..., N, N//2+1]`` (zeros outside the band)."""
    full = np.zeros((*spectrum.shape[:-1], n // 2 + 1), dtype=np.complex128)
    full[..., : spectrum.shape[-1]] = spectrum
    return full


# ---------------------------------------------------------------------------- NumPy reference


class ReferenceModel:
    """Plain NumPy transcription of Eq. 61 and both schemes on the full rfft layout ``[..., N, N//2+1]``.

    Advective form: ψ̂ = −ζ̂/|k|², u = −ψ_y, v = ψ_x, then FFT(u ζ_x + v ζ_y) (5 FFTs per
    tendency, ``numpy.fft``), truncated to the 2/3 band. Tables are built once, as any
    reasonable implementation would; the fast path is tested and benchmarked against it.
    """

    def __init__(self, n: int, mu: float, nu: float, forcing_wavenumber: int, time_step: float, integrator: str) -> None:
        band = band_limit(n)
        self.n, self.time_step, self.integrator = n, time_step, integrator
        self.kx = wavenumbers(n)[:, None]
        self.ky = np.arange(n // 2 + 1, dtype=np.float64)[None, :]
        k2 = self.kx**2 + self.ky**2
        self.minus_inv_k2 = np.divide(-1.0, k2, out=np.zeros_like(k2), where=k2 > 0)
        self.linear = -(mu + nu * k2)
        self.forcing = np.zeros(k2.shape, dtype=np.complex128)
        self.forcing[0, forcing_wavenumber] = forcing_amplitude(n, forcing_wavenumber)
        self.in_band = (np.abs(self.kx) <= band) & (self.ky <= band)
        self.coefficients = etdrk4_coefficients(self.linear, time_step) if integrator == "etdrk4" else ()

    def tendency(self, w_hat: np.ndarray) -> np.ndarray:
        """Right-hand side of Eq. 61."""
        shape = (self.n, self.n)
        psi_hat = self.minus_inv_k2 * w_hat
        u = np.fft.irfft2(-1j * self.ky * psi_hat, s=shape)
        v = np.fft.irfft2(1j * self.kx * psi_hat, s=shape)
        w_x = np.fft.irfft2(1j * self.kx * w_hat, s=shape)
        w_y = np.fft.irfft2(1j * self.ky * w_hat, s=shape)
        advection = np.fft.rfft2(u * w_x + v * w_y)
        return self.in_band * (-advection + self.linear * w_hat + self.forcing)

    def step(self, w_hat: np.ndarray) -> np.ndarray:
        """One step of the scheme."""
        h = self.time_step
        if self.integrator == "midpoint":
            return w_hat + h * self.tendency(w_hat + h / 2 * self.tendency(w_hat))
        e, e2, q, f1, f2, f3 = self.coefficients

        def nonlinear(w: np.ndarray) -> np.ndarray:
            return self.tendency(w) - self.linear * w

        n_v = nonlinear(w_hat)
        a = e2 * w_hat + q * n_v
        n_a = nonlinear(a)
        n_b = nonlinear(e2 * w_hat + q * n_a)
        n_c = nonlinear(e2 * a + q * (2 * n_b - n_v))
        return e * w_hat + f1 * n_v + 2 * f2 * (n_a + n_b) + f3 * n_c


__all__ = [
    "INTEGRATORS",
    "ReferenceModel",
    "SpectralOperators",
    "band_from_field",
    "band_limit",
    "field_from_band",
    "full_from_band",
    "integrate",
    "spectral_operators",
    "tendency",
    "wavenumbers",
]
