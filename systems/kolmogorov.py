"""Two-dimensional Kolmogorov flow, the 2D truth system of PDD (Eqs. 61-62, Appendix B.1).

    ∂t ζ + V·∇ζ = −μ ζ + ν ∇²ζ − k_f cos(k_f y),    ζ = ∇²ψ,    V = (−∂y ψ, ∂x ψ)      (61, 62)

on the doubly periodic square [0, 2π)², with B.1's μ = 0.1, ν = 1e-3, k_f = 4, a 256² pseudospectral
simulation (2/3 dealiasing) stepped by the explicit midpoint rule with h = 1e-3, a burn-in of 50 time
units, and 40² output frames every Δt = 0.5 (bicubic resize). Numerics: :mod:`systems._kolmogorov_spectral`.

Fields are indexed ``[..., x, y]`` with x_i = 2π i / N; the forcing varies along the last axis.
The internal state is the vorticity on the simulation grid, float64 ``[B, 1, N_sim, N_sim]``;
``advance`` projects it onto the 2/3 band, integrates in Fourier space and returns frames on the
output grid ``[B, n_frames, 1, N_out, N_out]`` (the state after each Δt) plus the final state.

Downsampling to the output grid:

* ``"bicubic"`` (B.1's resize): ``torch.nn.functional.interpolate(mode="bicubic", antialias=True)``,
  i.e. the PIL / torchvision resize (Keys kernel a = −0.5 stretched by the scale factor 6.4, so
  it low-pass filters instead of aliasing), applied to the periodically wrapped field and aligned
  to the output grid points x_i = 2π i / N_out (image resizers put pixel centres half a pixel
  in; the field is translated spectrally by that half-pixel difference first).
* ``"spectral"``: keep the Fourier modes |k_x|, |k_y| ≤ N_out/2 with the field's own amplitudes
  and sample them on the output grid (the ±N_out/2 pair, which N_out points cannot tell apart,
  is summed). For a field band-limited to |k| ≤ N_out/2 this is exact sampling.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from pdd_core.config import converter
from pdd_core.data.presets import DatasetPreset
from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.registry import SYSTEMS
from pdd_core.validation import check_positive, real_to_float
from systems._kolmogorov_spectral import INTEGRATORS, band_from_field, band_limit, field_from_band, integrate, spectral_operators, wavenumbers

DOWNSAMPLERS: tuple[str, ...] = ("bicubic", "spectral")
# dt / step may carry binary round-off (0.7 / 1e-3 = 699.9999999999999).
_STEP_RATIO_SLACK = 1e-9
# Random initial vorticity: Gaussian field with spectral density ∝ exp(−|k|²/k0²), k0 = 4, scaled to an
# rms vorticity of the order of the turbulent state's; the burn-in forgets everything but the seed.
INITIAL_PEAK_WAVENUMBER = 4.0
INITIAL_RMS_VORTICITY = 5.0
# Periodic margin around the field for the bicubic resize, in output pixels (the antialiased
# kernel reaches 2 output pixels to each side).
_BICUBIC_MARGIN = 3


def _check_integer(name: str, value: Any, minimum: int, fix: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", fix)
    return int(value)


def _positive(instance, attribute, value) -> None:
    check_positive(attribute.name, value, allow_zero=attribute.name in ("mu", "burn_in"))


def _check_n_sim(instance, attribute, value) -> None:
    _check_integer("n_sim", value, 8, "pass the simulation resolution, e.g. n_sim=256 (B.1)")


def _check_forcing(instance, attribute, value) -> None:
    _check_integer("forcing_wavenumber", value, 1, "pass a positive integer, e.g. forcing_wavenumber=4 (B.1)")
    if value > band_limit(instance.n_sim):
        raise bad_argument(
            "forcing_wavenumber",
            value,
            f"lies outside the 2/3-dealiased band of n_sim={instance.n_sim} (|k| <= {band_limit(instance.n_sim)})",
            "raise n_sim or lower the forcing wavenumber",
        )


def _check_n_out(instance, attribute, value) -> None:
    _check_integer("n_out", value, 4, "pass the output resolution, e.g. n_out=40 (B.1)")
    if value > instance.n_sim:
        raise bad_argument("n_out", value, f"the output grid must not be finer than the simulation grid n_sim={instance.n_sim}", "pass n_out <= n_sim")


def _check_dt(instance, attribute, value) -> None:
    check_positive("dt", value)
    ratio = value / instance.step
    if ratio < 1 - _STEP_RATIO_SLACK or abs(ratio - round(ratio)) > _STEP_RATIO_SLACK * ratio:
        problem = f"the output interval must be an integer multiple of step={instance.step} (dt/step = {ratio:.6g})"
        raise bad_argument("dt", value, problem, "choose dt = n * step, e.g. dt=0.5 with step=1e-3")


def _check_choice(options: tuple[str, ...], fix: str):
    def check(instance, attribute, value) -> None:
        if value not in options:
            raise bad_argument(attribute.name, value, f"unknown {attribute.name}, expected one of {options}", fix)

    return check


@SYSTEMS.register("kolmogorov")
@attrs.frozen
class KolmogorovFlow:
    """Forced, damped 2D Navier-Stokes in vorticity form (PDD Eqs. 61-62, B.1); defaults are B.1's settings.

    Attributes:
        mu: linear drag μ.
        nu: kinematic viscosity ν.
        n_sim: simulation grid N_sim per axis (256 in B.1); 2/3 dealiasing keeps |k_x|, |k_y| < N_sim/3.
        forcing_wavenumber: k_f of the forcing −k_f cos(k_f y) (an integer inside the dealiased band).
        n_out: output grid N_out per axis (40 in B.1).
        step: integration step h (1e-3 in B.1).
        dt: output interval Δt, an integer multiple of ``step`` (0.5 in B.1).
        burn_in: physical time to discard before the first saved frame (50 in B.1).
        integrator: ``"midpoint"`` (explicit midpoint, B.1's scheme, order 2) or ``"etdrk4"``
            (exponential RK4, linear part exact, order 4). The advective CFL limit sets the
            largest stable step: ETDRK4 ran stably with step 5e-3 at N_sim = 256 and 1e-2 at
            N_sim = 64 (where 1e-2 blows up at 256), i.e. 2.5-5x fewer tendency evaluations per
            unit time than the midpoint rule at 1e-3.
        downsample: ``"bicubic"`` (B.1's resize) or ``"spectral"`` (Fourier truncation).
    """

    mu: float = attrs.field(default=0.1, converter=real_to_float, validator=_positive)
    nu: float = attrs.field(default=1e-3, converter=real_to_float, validator=_positive)
    n_sim: int = attrs.field(default=256, validator=_check_n_sim)  # before the fields whose checks read it
    forcing_wavenumber: int = attrs.field(default=4, validator=_check_forcing)
    n_out: int = attrs.field(default=40, validator=_check_n_out)
    step: float = attrs.field(default=1e-3, converter=real_to_float, validator=_positive)
    dt: float = attrs.field(default=0.5, converter=real_to_float, validator=_check_dt)
    burn_in: float = attrs.field(default=50.0, converter=real_to_float, validator=_positive)
    integrator: str = attrs.field(default="midpoint", validator=_check_choice(INTEGRATORS, "use 'midpoint' (the paper's scheme) or 'etdrk4'"))
    downsample: str = attrs.field(default="bicubic", validator=_check_choice(DOWNSAMPLERS, "use 'bicubic' (the paper's resize) or 'spectral'"))

    static: ClassVar[bool] = False
    channel_names: ClassVar[tuple[str, ...]] = ("vorticity",)  # labels of the channels in figures
    conserves_mean: ClassVar[bool] = True  # the spatial mean is a constant of motion: drifts are trained without a k = 0 part
    forced: ClassVar[bool] = True  # driven by a fixed pattern in y: drifts get a learned forcing field (a periodic network has none)
    presets: ClassVar[dict[str, DatasetPreset]] = {
        "paper": DatasetPreset(
            6000, 100, 100, 40, note="PDD B.1: 6000/100/100 paths of 40 frames at 40² (bicubic from 256²), Δt = 0.5, midpoint step 1e-3, burn-in 50"
        ),
        "small": DatasetPreset(
            96,
            16,
            16,
            40,
            overrides={"n_sim": 64, "integrator": "etdrk4", "step": 1e-2, "burn_in": 20.0},
            note="scaled down from B.1: 64² simulation (ETDRK4, step 1e-2) instead of 256² (midpoint, 1e-3), burn-in 20 instead of 50, "
            "96/16/16 paths; physics, 40² bicubic frames, Δt = 0.5 and 40 frames as in the paper",
        ),
    }

    @property
    def grid(self) -> Grid:
        """The output grid: N_out² points on [0, 2π)², one channel (ζ)."""
        return Grid((self.n_out, self.n_out), channels=1)

    @property
    def steps_per_frame(self) -> int:
        """Integration steps per output interval, dt / step (500 in B.1)."""
        return round(self.dt / self.step)

    def laminar_state(self) -> np.ndarray:
        """The laminar Kolmogorov solution ζ = −k_f cos(k_f y) / (μ + ν k_f²), float64 ``[1, 1, N_sim, N_sim]``.

        V·∇ζ vanishes for a field of y alone, so Eq. 61 is balanced when drag and viscosity at
        k_f cancel the forcing; a fixed point of the discrete equations of both schemes.
        """
        k_f = self.forcing_wavenumber
        y = 2 * math.pi * np.arange(self.n_sim) / self.n_sim
        profile = -k_f * np.cos(k_f * y) / (self.mu + self.nu * k_f**2)
        return np.broadcast_to(profile, (1, 1, self.n_sim, self.n_sim)).copy()

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Random smooth vorticity ``[B, 1, N_sim, N_sim]``: a random-phase Gaussian field.

        Spectral density ∝ exp(−|k|²/k0²) with k0 = ``INITIAL_PEAK_WAVENUMBER``, zero mean,
        inside the dealiased band, each sample scaled to rms ``INITIAL_RMS_VORTICITY``.
        """
        batch = _check_integer("batch", batch, 1, "pass the number of trajectories")
        if not isinstance(rng, np.random.Generator):
            fix = "pass rng=np.random.default_rng(seed)"
            raise bad_argument("rng", rng, "randomness must come from an explicit numpy.random.Generator", fix, kind=DTypeError)
        spectrum = band_from_field(rng.standard_normal((batch, self.n_sim, self.n_sim)))
        k2 = wavenumbers(self.n_sim)[:, None] ** 2 + np.arange(spectrum.shape[-1])[None, :] ** 2
        envelope = np.exp(-k2 / (2 * INITIAL_PEAK_WAVENUMBER**2)) * (k2 > 0)
        field = field_from_band(spectrum * envelope, self.n_sim)
        field *= INITIAL_RMS_VORTICITY / np.sqrt(np.mean(field**2, axis=(-2, -1), keepdims=True))
        return field[:, None]

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Integrate ``n_frames`` output intervals of every trajectory.

        Args:
            state: float ``[B, 1, N_sim, N_sim]`` vorticity; it is projected onto the 2/3 band
                (a no-op for states from ``initial_state`` / ``advance``).
            n_frames: number of output intervals Δt to integrate and save.
            rng: unused (the flow is deterministic); accepted for the ``System`` protocol.

        Returns:
            ``(frames, final_state)``: frames float64 ``[B, n_frames, 1, N_out, N_out]``, the
            downsampled vorticity after each Δt, and the final state ``[B, 1, N_sim, N_sim]``.
        """
        self._check_state(state)
        n_frames = _check_integer("n_frames", n_frames, 1, "pass the number of output intervals to integrate")
        ops = spectral_operators(self.n_sim, self.mu, self.nu, self.forcing_wavenumber, self.step, self.integrator)
        spectrum = band_from_field(state[:, 0])
        frames = np.empty((state.shape[0], n_frames, 1, self.n_out, self.n_out))
        for frame in range(n_frames):
            with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported by the error below
                integrate(spectrum, self.steps_per_frame, ops)
            if not np.isfinite(spectrum).all():
                problem = f"the {self.integrator} integration blew up (non-finite vorticity) in output interval {frame}"
                raise bad_argument("step", self.step, problem, "use a smaller step (B.1: 1e-3)")
            frames[:, frame, 0] = self._downsample(spectrum)
        return frames, field_from_band(spectrum, self.n_sim)[:, None]

    def _downsample(self, spectrum: np.ndarray) -> np.ndarray:
        if self.downsample == "spectral":
            return spectral_downsample(spectrum, self.n_sim, self.n_out)
        return bicubic_downsample(spectrum, self.n_sim, self.n_out)

    def _check_state(self, state: Any) -> None:
        if not isinstance(state, np.ndarray) or not np.issubdtype(state.dtype, np.floating):
            kind = type(state).__name__ if not isinstance(state, np.ndarray) else state.dtype
            raise bad_argument("state", kind, "expected a float NumPy array", "pass the array from initial_state or advance", kind=DTypeError)
        expected = (1, self.n_sim, self.n_sim)
        if state.ndim != 4 or state.shape[1:] != expected or state.shape[0] < 1:
            problem = f"expected [B, 1, {self.n_sim}, {self.n_sim}] (vorticity on the simulation grid)"
            raise bad_argument("state.shape", state.shape, problem, "pass the array from initial_state or advance", kind=ShapeError)
        if not np.isfinite(state).all():
            raise bad_argument("state", "array with NaN/inf", "the state must be finite", "start from initial_state(batch, rng)")


def spectral_downsample(spectrum: np.ndarray, n: int, n_out: int) -> np.ndarray:
    """Fields ``[..., n_out, n_out]`` from band spectra ``[..., n, K+1]`` by Fourier truncation.

    The modes |k_x|, |k_y| ≤ n_out/2 keep their amplitudes (coefficients rescaled from n² to
    n_out² points, so field values are preserved). On an even output grid the modes ±n_out/2
    coincide; they are summed (rows) or doubled in the one-sided Nyquist column (whose real
    part the inverse real FFT keeps), which is exactly what sampling them on the grid gives.
    """
    half = n_out // 2
    keep = min(half, spectrum.shape[-1] - 1)
    coefficients = spectrum[..., : keep + 1] / (n * n)
    modes = np.arange(-keep, keep + 1)
    out = np.zeros((*spectrum.shape[:-2], n_out, n_out // 2 + 1), dtype=np.complex128)
    out[..., modes % n_out, : keep + 1] = coefficients[..., modes % n, :]
    if n_out % 2 == 0 and keep == half:
        out[..., half, : keep + 1] = coefficients[..., half, :] + coefficients[..., n - half, :]
        out[..., half] *= 2
    return np.fft.irfft2(out, s=(n_out, n_out), norm="forward")


def bicubic_downsample(spectrum: np.ndarray, n: int, n_out: int) -> np.ndarray:
    """Fields ``[B, n_out, n_out]`` from band spectra ``[B, n, K+1]`` by antialiased bicubic resize (B.1).

    Image resizers sample at pixel centres, x = (i + ½)Δ_out − ½Δ_in; translating the field by
    δ = (Δ_out − Δ_in)/2 first (a phase factor per mode) puts the samples on x_i = iΔ_out. The
    field is wrapped periodically by a margin that is a whole number of output pixels, so the
    scale factor stays exactly n / n_out, and the margin is cropped afterwards.
    """
    shift = math.pi * (1 / n_out - 1 / n)
    kx = wavenumbers(n)[:, None]
    ky = np.arange(spectrum.shape[-1])[None, :]
    field = field_from_band(spectrum * np.exp(-1j * (kx + ky) * shift), n)
    unit = n_out // math.gcd(n, n_out)
    margin = unit * math.ceil(_BICUBIC_MARGIN / unit)
    pad = margin * n // n_out
    wrapped = np.pad(field, ((0, 0), (pad, pad), (pad, pad)), mode="wrap")
    resized = F.interpolate(torch.from_numpy(wrapped)[:, None], size=(n_out + 2 * margin,) * 2, mode="bicubic", antialias=True, align_corners=False)
    return resized[:, 0, margin:-margin, margin:-margin].numpy()


# Dataset files written before the time integrator was named ``integrator`` store it as "scheme"
# (a name that now belongs to the RG schemes); their configs still rebuild the system.
_structure_kolmogorov = converter.get_structure_hook(KolmogorovFlow)


def _structure_with_old_names(data: Any, cls: type) -> KolmogorovFlow:
    if isinstance(data, dict) and "scheme" in data and "integrator" not in data:
        data = {("integrator" if key == "scheme" else key): value for key, value in data.items()}
    return _structure_kolmogorov(data, cls)


converter.register_structure_hook(KolmogorovFlow, _structure_with_old_names)

__all__ = ["DOWNSAMPLERS", "KolmogorovFlow", "bicubic_downsample", "spectral_downsample"]
