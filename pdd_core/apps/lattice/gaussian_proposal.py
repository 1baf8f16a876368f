"""A proposal density with exact log density for lattice fields: a Gaussian that is diagonal in
the orthonormal Fourier modes, with a Z2-symmetric pair of Gaussians on the zero mode, and the
independence Metropolis-Hastings step that uses it.

Density. With φ̂(p) = N^{-d/2} Σ_n e^{-2πi p·n/N} φ(n) (orthonormal DFT, a real orthogonal change
of variables for real fields) and per-mode power P(p) = P(-p), the Gaussian of covariance
F^† diag(P) F restricted to the non-zero modes has

    log q_⊥(φ) = -½ Σ_{p≠0} [ |φ̂(p)|² / P(p) + log(2π P(p)) ],

and the zero mode ẑ = φ̂(0) = N^{d/2} M (M the mean field) is independent of them, with density
N(ẑ; a, w²) or, for ``z2_pair``, ½ N(ẑ; a, w²) + ½ N(ẑ; -a, w²) (the broken phase of φ⁴, whose
two vacua a Gaussian cannot both cover). log q = log q_⊥ + log q_0 is exact, so q can drive an
independence Metropolis-Hastings step (Hastings 1970):

    accept φ' ~ q with probability min(1, w(φ') / w(φ)),   w = exp(-S) / q,

which leaves exp(-S) invariant whatever q is; with q ∝ exp(-S) every proposal is accepted.
Translation invariance is assumed (means vanish for p ≠ 0); that holds for the periodic lattice
theories of RDM Sec. 7 and for any translation-invariant generative model.

:func:`fit_fourier_gaussian` fits q to samples: P(p) = mean |φ̂(p)|², and on the zero mode either
a = mean ẑ, w = std ẑ, or for the pair a = mean |ẑ|, w = std |ẑ|, choosing by likelihood.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from pdd_core.errors import DTypeError, ShapeError, bad_argument

LOG_2PI = math.log(2.0 * math.pi)


def _mirror(array: np.ndarray) -> np.ndarray:
    """array[-p] for an fftn-layout array (index 0 stays, k -> N - k)."""
    return np.roll(np.flip(array), 1, axis=tuple(range(array.ndim)))


def _check_power(instance, attribute, value) -> None:
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.ndim < 1 or min(value.shape) < 2:
        described = getattr(value, "shape", type(value).__name__)
        raise bad_argument("power", described, "expected a real float array of per-mode powers in fftn layout, >= 2 points per axis", "pass e.g. a fitted ⟨|φ̂(p)|²⟩", kind=DTypeError)
    non_zero = np.delete(value.ravel(), 0)
    if not (np.isfinite(non_zero).all() and (non_zero > 0).all()):
        raise bad_argument("power", "array with non-positive or non-finite modes", "every non-zero mode needs a finite power > 0", "fit the power on more samples or floor it")
    if not np.allclose(value, _mirror(value), rtol=1e-10, atol=0.0, equal_nan=True):
        raise bad_argument("power", "array with P(p) != P(-p)", "a real field's power must be symmetric under p -> -p", "symmetrise it: 0.5 * (P + P[-p])")


def _check_real(instance, attribute, value) -> None:
    if not isinstance(value, float) or not math.isfinite(value):
        raise bad_argument(attribute.name, value, "must be a finite float", f"pass a float {attribute.name}")


def _to_float(value: Any) -> Any:
    """Ints and NumPy scalars become floats; anything else goes to the validator."""
    return float(value) if isinstance(value, (int, np.integer, np.floating)) and not isinstance(value, bool) else value


def _check_flag(instance, attribute, value) -> None:
    if not isinstance(value, bool):
        raise bad_argument(attribute.name, value, "must be a bool", f"pass {attribute.name}=True or False", kind=DTypeError)


def _check_spread(instance, attribute, value) -> None:
    if not isinstance(value, float) or not (math.isfinite(value) and value > 0):
        raise bad_argument("zero_std", value, "must be a finite float > 0", "pass the zero mode's standard deviation")


@attrs.frozen
class ZeroModeLaw:
    """The zero mode's law: N(mean, std²), or the symmetric pair ½N(mean, std²) + ½N(-mean, std²) when ``z2_pair``."""

    mean: float
    std: float
    z2_pair: bool

    def log_density(self, zero: np.ndarray) -> np.ndarray:
        """log q_0(ẑ) of zero-mode values ``[n]``."""
        def gaussian(mean: float) -> np.ndarray:
            return -0.5 * (((zero - mean) / self.std) ** 2 + LOG_2PI) - math.log(self.std)

        if not self.z2_pair:
            return gaussian(self.mean)
        return np.logaddexp(gaussian(self.mean), gaussian(-self.mean)) - math.log(2.0)


def fit_zero_mode(zero: np.ndarray, z2_pair: bool | None = None) -> ZeroModeLaw:
    """Fit :class:`ZeroModeLaw` to zero-mode values ``[n]`` (float64).

    The Gaussian has mean = mean ẑ, std = std ẑ; the pair has mean = ⟨|ẑ|⟩, std = std |ẑ|.
    ``z2_pair=None`` picks the one with the larger mean log-likelihood of ``zero``; both have two
    parameters. Near-Gaussian ẑ (symmetric phase) picks the Gaussian, whose kurtosis is 3; the
    pair's kurtosis is ~2.2 there.
    """
    if z2_pair is not None and not isinstance(z2_pair, bool):
        raise bad_argument("z2_pair", z2_pair, "must be None (choose by likelihood) or a bool", "pass z2_pair=None, True or False", kind=DTypeError)
    candidates = []
    for pair in ((False, True) if z2_pair is None else (z2_pair,)):
        values = np.abs(zero) if pair else zero
        mean = float(values.mean())
        std = float(np.sqrt(((values - mean) ** 2).mean()))
        if not std > 0:
            raise bad_argument("fields", "samples with a constant zero mode", "the zero mode's spread is 0", "pass samples that fluctuate")
        candidates.append(ZeroModeLaw(mean, std, pair))
    return max(candidates, key=lambda law: float(law.log_density(zero).mean()))


@attrs.frozen(eq=False)
class FourierGaussian:
    """Proposal q of the module docstring: per-mode Gaussian, zero mode N(a, w²) or ½N(±a, w²).

    Attributes:
        power: P(p) = ⟨|φ̂(p)|²⟩ in ``fftn`` layout over the lattice shape; the p = 0 entry is unused.
        zero_mean: a, the zero mode's mean (of each component when ``z2_pair``).
        zero_std: w > 0, the zero mode's standard deviation (of each component).
        z2_pair: the zero mode is the symmetric pair ½N(a, w²) + ½N(-a, w²).
    """

    power: np.ndarray = attrs.field(validator=_check_power)
    zero_mean: float = attrs.field(converter=_to_float, validator=_check_real)
    zero_std: float = attrs.field(converter=_to_float, validator=_check_spread)
    z2_pair: bool = attrs.field(default=False, validator=_check_flag)

    @classmethod
    def gaussian(cls, power: np.ndarray) -> "FourierGaussian":
        """The centred Gaussian with power P(p) on every mode, the zero mode included (e.g. a free field's propagator)."""
        zero = float(power.flat[0]) if isinstance(power, np.ndarray) and power.size and power.dtype.kind == "f" else math.nan
        if not (math.isfinite(zero) and zero > 0):
            raise bad_argument("power[0]", zero, "the zero mode's power must be a finite float > 0", "pass the full power spectrum, p = 0 included")
        return cls(power, zero_mean=0.0, zero_std=math.sqrt(zero))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.power.shape

    def _axes(self) -> tuple[int, ...]:
        return tuple(range(-len(self.shape), 0))

    def _fields(self, fields: Any) -> np.ndarray:
        if hasattr(fields, "detach"):  # a torch tensor from a generative model
            fields = fields.detach().cpu().numpy()
        if not isinstance(fields, np.ndarray) or fields.dtype.kind != "f":
            described = fields.dtype if isinstance(fields, np.ndarray) else type(fields).__name__
            raise bad_argument("fields", described, "expected a real float array", f"pass fields shaped [n, {', '.join(map(str, self.shape))}]", kind=DTypeError)
        if fields.ndim != len(self.shape) + 1 or fields.shape[1:] != self.shape:
            raise bad_argument("fields.shape", fields.shape, f"expected [n, {', '.join(map(str, self.shape))}]", "pass a batch of fields on this lattice", kind=ShapeError)
        if not np.isfinite(fields).all():
            raise bad_argument("fields", "array with NaN/inf", "fields must be finite", "check the sampler that produced them")
        return fields.astype(np.float64, copy=False)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` independent draws ``[n, *shape]`` (float64); the generator gives the site noise, then ẑ's noise, then its signs."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise bad_argument("n", n, "must be an integer >= 1", "pass the number of fields to draw")
        if not isinstance(rng, np.random.Generator):
            raise bad_argument("rng", rng, "randomness must come from an explicit numpy.random.Generator", "pass rng=np.random.default_rng(seed)", kind=DTypeError)
        amplitude = np.sqrt(np.where(np.arange(self.power.size).reshape(self.shape) == 0, 0.0, self.power))
        noise = rng.standard_normal((int(n), *self.shape))
        fields = np.fft.ifftn(np.fft.fftn(noise, axes=self._axes(), norm="ortho") * amplitude, axes=self._axes(), norm="ortho").real
        zero = self.zero_mean + self.zero_std * rng.standard_normal(int(n))
        if self.z2_pair:
            zero = zero * np.where(rng.random(int(n)) < 0.5, -1.0, 1.0)
        return fields + (zero / math.sqrt(self.power.size)).reshape(-1, *([1] * len(self.shape)))

    def log_density(self, fields: Any) -> np.ndarray:
        """log q(φ) of fields ``[n, *shape]`` -> ``[n]`` (exact; module docstring)."""
        values = self._fields(fields)
        modes = np.fft.fftn(values, axes=self._axes(), norm="ortho")
        flat_power = self.power.ravel()[1:]
        squared = (modes.real**2 + modes.imag**2).reshape(len(values), -1)[:, 1:]
        log_non_zero = -0.5 * ((squared / flat_power).sum(axis=1) + np.log(flat_power).sum() + flat_power.size * LOG_2PI)
        zero = modes.reshape(len(values), -1)[:, 0].real
        return log_non_zero + self.zero_mode_log_density(zero)

    def zero_mode_log_density(self, zero: np.ndarray) -> np.ndarray:
        """log q_0(ẑ) of zero-mode values ``[n]``."""
        return ZeroModeLaw(self.zero_mean, self.zero_std, self.z2_pair).log_density(zero)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "fourier_gaussian", "shape": list(self.shape), "zero_mean": self.zero_mean, "zero_std": self.zero_std, "z2_pair": self.z2_pair}


def fit_fourier_gaussian(fields: Any, z2_pair: bool | None = None) -> FourierGaussian:
    """Fit :class:`FourierGaussian` to samples ``[n, *shape]`` (n >= 2; module docstring).

    ``z2_pair=None`` picks the zero-mode model (plain Gaussian or symmetric pair) with the larger
    mean log-likelihood of the samples' zero modes (:func:`fit_zero_mode`).
    """
    if hasattr(fields, "detach"):
        fields = fields.detach().cpu().numpy()
    if not isinstance(fields, np.ndarray) or fields.dtype.kind != "f" or fields.ndim < 2 or fields.shape[0] < 2:
        described = getattr(fields, "shape", type(fields).__name__)
        raise bad_argument("fields", described, "expected a real float array [n, *lattice] with n >= 2", "pass samples stacked along axis 0", kind=ShapeError)
    if not np.isfinite(fields).all():
        raise bad_argument("fields", "array with NaN/inf", "samples must be finite", "drop non-finite samples")
    axes = tuple(range(1, fields.ndim))
    modes = np.fft.fftn(fields.astype(np.float64), axes=axes, norm="ortho")
    power = (modes.real**2 + modes.imag**2).mean(axis=0)
    power = 0.5 * (power + _mirror(power))  # exact for real fields up to rounding
    law = fit_zero_mode(modes.reshape(len(fields), -1)[:, 0].real, z2_pair)
    return FourierGaussian(power, zero_mean=law.mean, zero_std=law.std, z2_pair=law.z2_pair)


@attrs.frozen(eq=False)
class MetropolisStep:
    """The outcome of one independence Metropolis-Hastings step of a batch of chains."""

    fields: np.ndarray
    log_weight: np.ndarray
    accepted: np.ndarray


def independence_metropolis_step(action: Any, proposal: Any, fields: np.ndarray, log_weight: np.ndarray, rng: np.random.Generator) -> MetropolisStep:
    """One step per chain: propose φ' ~ q, accept with min(1, w(φ')/w(φ)), w = exp(-S)/q (module docstring).

    Args:
        action: callable S(fields [n, *shape]) -> [n].
        proposal: object with ``sample(n, rng)`` and ``log_density(fields)`` (e.g. :class:`FourierGaussian`);
            one with ``sample_with_log_density(n, rng)`` gives each draw's density with it (a flow,
            whose density comes from the solve that made the draw).
        fields: current states ``[n, *shape]``.
        log_weight: their -S - log q, ``[n]`` (recompute after any other move of the chains).
        rng: gives the proposals, then the uniforms ``[n]``.
    """
    with_density = getattr(proposal, "sample_with_log_density", None)
    proposed, log_q = with_density(len(fields), rng) if callable(with_density) else (proposal.sample(len(fields), rng), None)
    proposed = np.asarray(proposed, dtype=np.float64)
    if proposed.shape != fields.shape:
        raise bad_argument("proposal", type(proposal).__name__, f"sample() returned shape {proposed.shape}, not {fields.shape}", "make sample(n, rng) return [n, *lattice]", kind=ShapeError)
    log_q = proposal.log_density(proposed) if log_q is None else log_q
    proposed_weight = -np.asarray(action(proposed), dtype=np.float64) - np.asarray(log_q, dtype=np.float64)
    if not np.isfinite(proposed_weight).all():
        raise bad_argument("proposal", type(proposal).__name__, "gave a non-finite action or log density", "check the proposal's support and density")
    # 1 - U lies in (0, 1], so the log is finite; the test is log U < log w' - log w.
    accepted = np.log1p(-rng.random(len(fields))) < proposed_weight - log_weight
    mask = accepted.reshape(-1, *([1] * (fields.ndim - 1)))
    return MetropolisStep(fields=np.where(mask, proposed, fields), log_weight=np.where(accepted, proposed_weight, log_weight), accepted=accepted)


__all__ = ["FourierGaussian", "MetropolisStep", "ZeroModeLaw", "fit_fourier_gaussian", "fit_zero_mode", "independence_metropolis_step"]
