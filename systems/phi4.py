"""Lattice phi^4 theory in d = 2 sampled by Hamiltonian Monte Carlo (RDM Eqs. 4.5-4.6, 7.2).

The distribution is p(φ) ∝ exp(-S[φ]) over real fields φ(n) on an N x N periodic lattice of
physical size L, spacing ε = L / N (RDM's ε; RDM fixes Nε = L below Eq. 4.6). The action is
RDM Eq. 4.6,

    S[φ] = ε^d Σ_n [ ½ (a²/ε²) Σ_i (φ(n+e_i) - φ(n))² + ½ m² φ(n)² + λ/4! φ(n)⁴ ],

where ``a`` is RDM's gradient-term coefficient of Eq. 4.6 (it enters squared; a = 1 gives the
continuum normalisation and Eq. 7.2). The parameter ``a`` is *not* the lattice spacing: the
spacing is always derived, ``spacing = L / N``, so the two can never disagree.

With a = 1 this is exactly RDM Eq. 7.2. Proof, with the DFT φ̃(p) = N^{-d} Σ_n e^{-2πi p·n/N}
φ(n) of Eqs. 4.26/5.11 and Parseval Σ_p |φ̃(p)|² = N^{-d} Σ_n φ(n)²:
L^d Σ_p ½ (|p̂|² + m²)|φ̃(p)|² = ε^d Σ_n [½ Σ_i ((φ(n+e_i) - φ(n))/ε)² + ½ m² φ²] because
|p̂|² = Σ_i 4 sin²(π p_i/N)/ε² (Eq. 4.27) is the symbol of minus the lattice Laplacian, and
Σ_{p1..p4} φ̃(p1)φ̃(p2)φ̃(p3)φ̃(p4) δ_{Σp,0} = N^{-d} Σ_n φ(n)⁴, so the quartic term of 7.2 is
ε^d Σ_n λ/4! φ(n)⁴.

Free-field normalisation (λ = 0, m² > 0). With the orthonormal DFT
φ̂(p) = N^{-d/2} Σ_n e^{-2πi p·n/N} φ(n) (``numpy.fft.fftn(..., norm="ortho")``, the
transform of :mod:`pdd_core.spectral`), S = ½ ε^d Σ_p (a²|p̂|² + m²) |φ̂(p)|², so

    ⟨|φ̂(p)|²⟩ = 1 / (ε^d (a²|p̂|² + m²))          for every p (see :meth:`LatticePhi4.free_propagator`),

and in RDM's normalisation ⟨|φ̃(p)|²⟩ = N^{-d} ⟨|φ̂(p)|²⟩ = 1 / (L^d (a²|p̂|² + m²)).
RDM's Eqs. 5.17-5.18 (Re, Im φ̃ ~ N(0, Ω/(4|p̂|²)), Ω = L^{-d}, i.e. ⟨|φ̃|²⟩ = 1/(2 L^d |p̂|²))
are the stationary law of the Carosso SDE, which is this free massless field with the
gradient weight doubled (a² = 2).

Other common parameterisations (for comparing with published tables). In lattice units
(ε = 1, field χ = a φ) the action is Σ_n [½ Σ_i (χ(n+e_i) - χ(n))² + ½ m0² χ² + λ0/4! χ⁴] with
m0² = ε² m² / a² and λ0 = ε² λ / a⁴ (d = 2); the hopping form
Σ_n [-2κ_h Σ_i ϕ(n)ϕ(n+e_i) + (1 - 2λ_h) ϕ(n)² + λ_h ϕ(n)⁴] follows with χ = sqrt(2κ_h) ϕ,
m0² = (1 - 2λ_h)/κ_h - 2d and λ0 = 6 λ_h / κ_h². RDM's defaults give m0² = -0.005,
λ0 = 4.25e-6: a deeply broken phase with ⟨|M|⟩ ≈ sqrt(-6 m²/λ) ≈ 84.

Sampler: HMC with H = ½ Σ_n π(n)² + S[φ], leapfrog with the exact force and a Metropolis
test (kernels in :mod:`systems._phi4_kernels`), batched over independent chains. Because
S(-φ) = S(φ), a global flip φ -> -φ with probability ½ after each saved frame is an exact
Metropolis move with acceptance 1; it lets chains in the broken phase (m² < 0), where HMC
never tunnels between the two vacua, sample both of them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np

from pdd_core.data.presets import DatasetPreset
from pdd_core.errors import DTypeError, ShapeError, bad_argument
from pdd_core.grid import Grid
from pdd_core.metrics.chain_statistics import DEFAULT_WINDOW_CONSTANT, AutocorrelationTime, integrated_autocorrelation_time
from pdd_core.registry import SYSTEMS
from pdd_core.validation import check_positive, finite_float, positive, real_to_float
from systems._phi4_kernels import batched_action, batched_force, batched_leapfrog, hmc_trajectory

DIMENSIONS = 2
@attrs.frozen
class HMCStats:
    """Acceptance and energy-violation statistics of a batch of HMC trajectories.

    Attributes:
        n_trajectories: trajectories summed over all chains.
        acceptance_rate: fraction accepted by the Metropolis test.
        mean_delta_h, rms_delta_h, max_abs_delta_h: ⟨ΔH⟩, sqrt⟨ΔH²⟩ and max |ΔH| over the
            trajectories that did not diverge (ΔH = H(end) - H(start) of the leapfrog).
        mean_exp_minus_delta_h: ⟨e^{-ΔH}⟩, exactly 1 in equilibrium (Creutz equality);
            diverged trajectories contribute 0.
        exp_minus_delta_h_error: its standard error (spread of per-chain means when there
            are several chains; momenta are refreshed, so ΔH is nearly uncorrelated in time).
        n_diverged: trajectories whose energy became non-finite (always rejected).
    """

    n_trajectories: int
    acceptance_rate: float
    mean_delta_h: float
    rms_delta_h: float
    max_abs_delta_h: float
    mean_exp_minus_delta_h: float
    exp_minus_delta_h_error: float
    n_diverged: int

    @classmethod
    def from_trajectories(cls, delta_h: np.ndarray, accepted: np.ndarray) -> "HMCStats":
        """Summarise per-trajectory ``delta_h`` and ``accepted`` arrays ``[chains, trajectories]``."""
        finite = np.isfinite(delta_h)
        changes = delta_h[finite]
        weights = np.where(finite, np.exp(-np.where(finite, delta_h, 0.0)), 0.0)
        chains = delta_h.shape[0]
        if chains > 1:
            error = float(weights.mean(axis=1).std(ddof=1) / math.sqrt(chains))
        else:
            error = float(weights.std(ddof=1) / math.sqrt(weights.size)) if weights.size > 1 else math.inf
        return cls(
            n_trajectories=int(delta_h.size),
            acceptance_rate=float(accepted.mean()),
            mean_delta_h=float(changes.mean()) if changes.size else math.nan,
            rms_delta_h=float(math.sqrt((changes**2).mean())) if changes.size else math.nan,
            max_abs_delta_h=float(np.abs(changes).max()) if changes.size else math.nan,
            mean_exp_minus_delta_h=float(weights.mean()),
            exp_minus_delta_h_error=error,
            n_diverged=int((~finite).sum()),
        )


@attrs.frozen(eq=False)
class HMCRun:
    """The output of :meth:`LatticePhi4.run_chain`.

    Attributes:
        frames: float64 ``[B, n_frames, 1, N, N]``, the saved configurations.
        state: float64 ``[B, 1, N, N]``, the final configuration of every chain.
        stats: :class:`HMCStats` of all trajectories of the run.
        magnetisation: ``[B, n_trajectories]``, M = N^{-d} Σ_n φ(n) = φ̃(0) (RDM Eq. 4.26)
            after every trajectory (before the frame's global flip).
        action: ``[B, n_trajectories]``, S[φ] after every trajectory.
    """

    frames: np.ndarray
    state: np.ndarray
    stats: HMCStats
    magnetisation: np.ndarray
    action: np.ndarray

    def autocorrelation_times(self, window_constant: float = DEFAULT_WINDOW_CONSTANT) -> dict[str, AutocorrelationTime]:
        """τ_int, in trajectories, of |M| and of the action S (both invariant under the global flip)."""
        return {
            "abs_magnetisation": integrated_autocorrelation_time(np.abs(self.magnetisation), window_constant),
            "action": integrated_autocorrelation_time(self.action, window_constant),
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(minimum: int, hint: str):
    def check(instance, attribute, value) -> None:
        if not _is_int(value) or value < minimum:
            raise bad_argument(attribute.name, value, f"must be an integer >= {minimum}", f"pass {attribute.name} >= {minimum}{hint}")

    return check


def _check_coupling(instance, attribute, value) -> None:
    check_positive("lam", value, allow_zero=True)
    if value == 0 and not instance.m2 > 0:
        raise bad_argument("m2", instance.m2, "with lam=0 the weight exp(-S) is not normalisable unless m2 > 0", "pass m2 > 0 for the free field or lam > 0")


def _check_jitter(instance, attribute, value) -> None:
    if not isinstance(value, float) or not 0.0 <= value < 1.0:
        raise bad_argument("step_jitter", value, "must be a float in [0, 1)", "pass e.g. step_jitter=0.1 (0 disables it)")


def _check_flag(instance, attribute, value) -> None:
    if not isinstance(value, bool):
        raise bad_argument(attribute.name, value, "must be a bool", f"pass {attribute.name}=True or False", kind=DTypeError)


def _check_step(instance, attribute, value) -> None:
    check_positive("step_size", value)
    # Leapfrog is unstable for a harmonic mode with h ω >= 2; the stiffest free mode has
    # ω² = 4 d κ + max(μ, 0) (|p̂|² at p = (N/2, ..)), so larger steps give zero acceptance.
    largest = value * (1.0 + instance.step_jitter)
    limit = 2.0 / math.sqrt(4 * DIMENSIONS * instance.kinetic + max(instance.mass_term, 0.0))
    if largest >= limit:
        problem = f"the leapfrog is unstable for the stiffest lattice mode (needs step_size * (1 + step_jitter) < {limit:.4g})"
        raise bad_argument("step_size", value, problem, f"pass step_size < {limit / (1.0 + instance.step_jitter):.4g}")


@SYSTEMS.register("phi4")
@attrs.frozen
class LatticePhi4:
    """Lattice phi^4 in d = 2 (RDM Eqs. 4.5-4.6, 7.2), sampled by HMC; module docstring for conventions.

    The defaults are RDM's Fig. 6 and Fig. 8 theory (Sec. 7.3-7.4): L = 1, N = 20, m² = -2,
    λ = 0.0017, a = 1 (Fig. 7 uses m² = 0.01). The HMC defaults (h = 0.15, 100 steps: trajectory
    length 15 ≈ a quarter period of the slowest mode, ω = ε sqrt(-2 m²) = 0.1) give acceptance 0.86,
    τ_int(|M|) ≈ 0.8 and τ_int(S) ≈ 2.0 trajectories on that theory; at m² = 0.01 the zero mode is
    ~10x slower, and leapfrog_steps = 700 restores τ_int(|M|) ≈ 1.

    Attributes:
        L: physical side length of the periodic box (RDM's L = Nε).
        N: sites per side; the lattice spacing is derived, ε = L / N.
        m2: bare mass squared m² (negative values give the broken phase when λ > 0).
        lam: bare quartic coupling λ >= 0 (λ = 0 requires m² > 0).
        a: gradient-term coefficient of RDM Eq. 4.6 (enters as a²); 1 reproduces Eq. 7.2.
            Not the lattice spacing.
        step_size: leapfrog step h (unit mass per site, time in the units of S).
        leapfrog_steps: leapfrog steps per trajectory (trajectory length ≈ h · leapfrog_steps).
        step_jitter: each chain's step of each trajectory is h · U(1 - j, 1 + j), which avoids
            resonant trajectory lengths for the nearly harmonic long-wavelength modes.
        trajectories_per_frame: HMC trajectories between saved frames (``dt``).
        thermalisation_trajectories: trajectories to discard before the first saved frame
            (``burn_in``).
        z2_flip: apply the exact global flip φ -> -φ with probability ½ after every frame.
    """

    L: float = attrs.field(default=1.0, converter=real_to_float, validator=positive)
    N: int = attrs.field(default=20, validator=_check_count(2, " (RDM Sec. 7 uses N=20)"))
    m2: float = attrs.field(default=-2.0, converter=real_to_float, validator=finite_float)
    lam: float = attrs.field(default=0.0017, converter=real_to_float, validator=_check_coupling)
    a: float = attrs.field(default=1.0, converter=real_to_float, validator=positive)
    step_jitter: float = attrs.field(default=0.1, converter=real_to_float, validator=_check_jitter)
    step_size: float = attrs.field(default=0.15, converter=real_to_float, validator=_check_step)
    leapfrog_steps: int = attrs.field(default=100, validator=_check_count(1, ""))
    trajectories_per_frame: int = attrs.field(default=5, validator=_check_count(1, ""))
    thermalisation_trajectories: int = attrs.field(default=200, validator=_check_count(0, ""))
    z2_flip: bool = attrs.field(default=True, validator=_check_flag)

    static: ClassVar[bool] = True
    channel_names: ClassVar[tuple[str, ...]] = ("phi",)  # labels of the channels in figures
    presets: ClassVar[dict[str, DatasetPreset]] = {
        "paper": DatasetPreset(
            64000, 4096, 4096, 32,
            note="32 samples per chain, 5 HMC trajectories apart (tau_int(S) ~ 2 trajectories at m2=-2). RDM Sec. 7.3-7.4 theory (Figs. 6, 8: L=1, N=20, m2=-2, lam=0.0017); RDM does not state its sample counts (NUTS after 4000 "
            "warm-up steps), so n_train = 1000 gradient steps x batch 64 of Sec. 7.1; use --set m2=0.01 leapfrog_steps=700 for Fig. 7",
        ),
        "small": DatasetPreset(2048, 256, 256, 32, note="32 samples per chain; same theory and HMC settings as 'paper', samples scaled down ~30x (train) and 16x (valid/test)"),
    }

    @property
    def grid(self) -> Grid:
        """N x N sites on [0, L)², one channel, lattice symbol |p̂|² (RDM Eq. 5.13)."""
        return Grid((self.N, self.N), length=self.L, channels=1, symbol="lattice")

    @property
    def spacing(self) -> float:
        """Lattice spacing ε = L / N (RDM Sec. 4.2.1)."""
        return self.L / self.N

    @property
    def kinetic(self) -> float:
        """κ = a² ε^{d-2}, the per-site weight of (φ(n+e_i) - φ(n))² / 2 in S."""
        return self.a**2 * self.spacing ** (DIMENSIONS - 2)

    @property
    def mass_term(self) -> float:
        """μ = ε^d m², the per-site weight of φ² / 2 in S."""
        return self.spacing**DIMENSIONS * self.m2

    @property
    def quartic_term(self) -> float:
        """g = ε^d λ / 6, the per-site weight of φ⁴ / 4 in S (so the force has -g φ³)."""
        return self.spacing**DIMENSIONS * self.lam / 6.0

    @property
    def dt(self) -> float:
        """For this static system: HMC trajectories between saved frames."""
        return float(self.trajectories_per_frame)

    @property
    def burn_in(self) -> float:
        """For this static system: thermalisation trajectories before the first saved frame."""
        return float(self.thermalisation_trajectories)

    def with_couplings_rescaled(self, ratio: float) -> "LatticePhi4":
        """The theory whose couplings are λ_i ratio^{d+δ_i} (RDM 5.46-5.47, 5.53), δ_i the Laplacians' powers of ε.

        m² φ² and λ φ⁴ have δ = 0 and scale by ratio^d; the gradient term a² (Dφ)² has δ = 2, so
        a² scales by ratio^{d+2}. ``ratio`` is a cutoff ratio Λ_{t+δt}/Λ_t in (0, 1].
        """
        if not 0 < ratio <= 1:
            raise bad_argument("ratio", ratio, "must be a cutoff ratio in (0, 1]", "pass Λ_{t+δt}/Λ_t (pdd_core.apps.lattice.rg_flow.cutoff_ratio)")
        return attrs.evolve(self, m2=self.m2 * ratio**DIMENSIONS, lam=self.lam * ratio**DIMENSIONS, a=self.a * ratio ** ((DIMENSIONS + 2) / 2))

    def action(self, fields: np.ndarray) -> np.ndarray:
        """S[φ] (RDM Eq. 4.6) of configurations ``[..., N, N]`` -> ``[...]``."""
        flat = self._as_fields(fields, "fields")
        return batched_action(flat, self.kinetic, self.mass_term, self.quartic_term).reshape(np.shape(fields)[:-2])

    def force(self, fields: np.ndarray) -> np.ndarray:
        """-∂S/∂φ(n) of configurations ``[..., N, N]``, same shape."""
        flat = self._as_fields(fields, "fields")
        return batched_force(flat, self.kinetic, self.mass_term, self.quartic_term).reshape(np.shape(fields))

    def leapfrog(self, fields: np.ndarray, momenta: np.ndarray, step: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Integrate Hamilton's equations of H = ½Σπ² + S by ``n_steps`` leapfrog steps (no Metropolis test).

        A negative ``step`` integrates backwards. Returns new ``(fields, momenta)`` arrays.
        """
        phi = self._as_fields(fields, "fields").copy()
        pi = self._as_fields(momenta, "momenta").copy()
        if pi.shape != phi.shape:
            raise bad_argument("momenta.shape", np.shape(momenta), f"must match fields.shape={np.shape(fields)}", "pass one momentum per site", kind=ShapeError)
        if not isinstance(step, (int, float)) or isinstance(step, bool) or not math.isfinite(step):
            raise bad_argument("step", step, "must be a finite real number", "pass e.g. step=0.1 (negative integrates backwards)")
        if not _is_int(n_steps) or n_steps < 1:
            raise bad_argument("n_steps", n_steps, "must be an integer >= 1", "pass the number of leapfrog steps")
        batched_leapfrog(phi, pi, float(step), int(n_steps), self.kinetic, self.mass_term, self.quartic_term)
        return phi.reshape(np.shape(fields)), pi.reshape(np.shape(fields))

    def free_propagator(self) -> np.ndarray:
        """Exact ⟨|φ̂(p)|²⟩ = 1 / (ε^d (a²|p̂|² + m²)) of the free field, orthonormal DFT, ``fftn`` layout [N, N].

        Exact when λ = 0; requires m² > 0. Divide by N^d for RDM's φ̃ of Eq. 4.26 (module docstring).
        """
        if not self.m2 > 0:
            raise bad_argument("m2", self.m2, "the free propagator needs m2 > 0 (the p = 0 mode diverges otherwise)", "use a system with m2 > 0")
        index = np.fft.fftfreq(self.N, d=1.0 / self.N)
        p_hat_squared = (2.0 / self.spacing * np.sin(np.pi * index / self.N)) ** 2
        momentum_squared = p_hat_squared[:, None] + p_hat_squared[None, :]
        return 1.0 / (self.spacing**DIMENSIONS * (self.a**2 * momentum_squared + self.m2))

    def initial_state(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Small random fields: i.i.d. N(0, 0.1²) per site, float64 ``[B, 1, N, N]``.

        The thermalisation trajectories (``burn_in``) carry them to equilibrium. The start is
        kept small because at strong lattice coupling (e.g. λ0 ≈ 33) unit-size fields make
        every leapfrog trajectory diverge, so the chain would never move.
        """
        _check_batch(batch)
        _check_rng(rng)
        return 0.1 * rng.standard_normal((int(batch), 1, self.N, self.N))

    def advance(self, state: np.ndarray, n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Run ``n_frames`` x ``trajectories_per_frame`` HMC trajectories of every chain.

        Returns ``(frames, final_state)``: frames float64 ``[B, n_frames, 1, N, N]``, the
        configuration after every ``trajectories_per_frame`` trajectories (and the global
        flip), and the final state ``[B, 1, N, N]`` to continue the chains.
        """
        run = self.run_chain(state, n_frames, rng)
        return run.frames, run.state

    def run_chain(self, state: np.ndarray, n_frames: int, rng: np.random.Generator) -> HMCRun:
        """:meth:`advance` plus acceptance statistics and per-trajectory M and S (an :class:`HMCRun`).

        Per trajectory and chain the generator supplies, in this order, the momenta
        ``[B, N, N]``, the Metropolis uniforms ``[B]`` and the step jitter uniforms ``[B]``;
        per frame the flip uniforms ``[B]`` (when ``z2_flip``). Same seed, same result.
        """
        fields = self._check_state(state)
        _check_rng(rng)
        if not _is_int(n_frames) or n_frames < 1:
            raise bad_argument("n_frames", n_frames, "must be an integer >= 1", "pass the number of frames to save")
        batch = fields.shape[0]
        n_trajectories = int(n_frames) * self.trajectories_per_frame
        frames = np.empty((batch, int(n_frames), 1, self.N, self.N))
        delta_h = np.empty((batch, n_trajectories))
        accepted = np.empty((batch, n_trajectories), dtype=np.int8)
        magnetisation = np.empty((batch, n_trajectories))
        action = np.empty((batch, n_trajectories))
        change, passed, kept = np.empty(batch), np.empty(batch, dtype=np.int8), np.empty(batch)
        trajectory = 0
        for frame in range(int(n_frames)):
            for _ in range(self.trajectories_per_frame):
                momenta = rng.standard_normal((batch, self.N, self.N))
                # 1 - U lies in (0, 1], so the log is finite.
                log_uniforms = np.log1p(-rng.random(batch))
                steps = self.step_size * (1.0 + self.step_jitter * (2.0 * rng.random(batch) - 1.0))
                hmc_trajectory(fields, momenta, log_uniforms, steps, self.leapfrog_steps, self.kinetic, self.mass_term, self.quartic_term, change, passed, kept)
                delta_h[:, trajectory] = change
                accepted[:, trajectory] = passed
                action[:, trajectory] = kept
                magnetisation[:, trajectory] = fields.mean(axis=(1, 2))
                trajectory += 1
            if self.z2_flip:
                fields *= np.where(rng.random(batch) < 0.5, -1.0, 1.0)[:, None, None]
            frames[:, frame, 0] = fields
        return HMCRun(
            frames=frames,
            state=fields[:, None].copy(),
            stats=HMCStats.from_trajectories(delta_h, accepted),
            magnetisation=magnetisation,
            action=action,
        )

    def _check_state(self, state: np.ndarray) -> np.ndarray:
        """A validated contiguous float64 copy ``[B, N, N]`` of a state ``[B, 1, N, N]``."""
        if not isinstance(state, np.ndarray) or not np.issubdtype(state.dtype, np.floating):
            described = state.dtype if isinstance(state, np.ndarray) else type(state).__name__
            raise bad_argument("state", described, "expected a float NumPy array", "pass the array from initial_state or a saved frame", kind=DTypeError)
        if state.ndim != 4 or state.shape[1:] != (1, self.N, self.N) or state.shape[0] < 1:
            raise bad_argument("state.shape", state.shape, f"expected [B, 1, {self.N}, {self.N}]", "pass initial_state(...) or frames[:, i]", kind=ShapeError)
        if not np.isfinite(state).all():
            raise bad_argument("state", "array with NaN/inf", "the state must be finite", "start from initial_state(batch, rng)")
        return np.array(state[:, 0], dtype=np.float64, order="C")

    def _as_fields(self, fields: np.ndarray, name: str) -> np.ndarray:
        """A validated contiguous float64 ``[B, N, N]`` view/copy of ``[..., N, N]`` configurations."""
        if not isinstance(fields, np.ndarray) or not np.issubdtype(fields.dtype, np.floating):
            described = fields.dtype if isinstance(fields, np.ndarray) else type(fields).__name__
            raise bad_argument(name, described, "expected a float NumPy array", f"pass {name} shaped [..., {self.N}, {self.N}]", kind=DTypeError)
        if fields.ndim < 2 or fields.shape[-2:] != (self.N, self.N):
            raise bad_argument(f"{name}.shape", fields.shape, f"expected [..., {self.N}, {self.N}]", f"pass {name} on the N={self.N} lattice", kind=ShapeError)
        if not np.isfinite(fields).all():
            raise bad_argument(name, "array with NaN/inf", "must be finite", f"pass finite {name}")
        return np.ascontiguousarray(fields, dtype=np.float64).reshape(-1, self.N, self.N)


def _check_batch(batch: int) -> None:
    if not _is_int(batch) or batch < 1:
        raise bad_argument("batch", batch, "must be an integer >= 1", "pass the number of independent chains")


def _check_rng(rng: np.random.Generator) -> None:
    if not isinstance(rng, np.random.Generator):
        raise bad_argument("rng", rng, "randomness must come from an explicit numpy.random.Generator", "pass rng=np.random.default_rng(seed)", kind=DTypeError)


__all__ = ["AutocorrelationTime", "HMCRun", "HMCStats", "LatticePhi4", "integrated_autocorrelation_time"]
