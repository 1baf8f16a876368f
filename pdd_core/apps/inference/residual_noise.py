"""The increment noise of a stochastic rollout, calibrated on data: the drift's own residuals.

The path density of PDD gives each increment the coarse-graining noise Σ̃_λ(k) only (A.7). Where
the dynamics themselves are unpredictable at the sampling interval (the fast Y of Lorenz-96 at
λ = 0, whose spectrum is nearly white), the best drift E[Δu | window]/Δt leaves a residual far
larger than Σ̃_λ(k), and a rollout that adds only Σ̃_λ loses that variance: it collapses. A
stochastic emulator instead draws each increment's noise with the variance the drift actually
leaves on data (a stochastic closure fitted to residuals):

    σ_k²(λ) Δt = E |r̂_n(k)|²,   r_n = u_{n+1} - u_n - f_λ(window_n) Δt,   u = C_λ u0 + sqrt(Σ_λ) ε (Eq. 3),

per channel and Fourier mode (orthonormal FFT), averaged over data paths, increments and the
modes' ± pairs. At a perfect drift and λ > 0 where the dynamics are predictable, σ_k²Δt tends to
the model's Σ̃_λ(k); where they are not, it keeps the unpredictable part as well.
"""

from __future__ import annotations

import os
from typing import ClassVar

import attrs
import torch

from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import PathScoreKind, TrainedRun, default_score_kind
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.drifts.windows import drift_on_path
from pdd_core.errors import ConfigError, bad_argument
from pdd_core.schedules import power_schedule
from pdd_core.score.path_density import CalibratedNoise
from pdd_core.spectral import rfft

# Data paths the residual variance is averaged over (64 paths of 64 frames: ~4000 increments per mode).
CALIBRATION_PATHS = 64


@attrs.define(eq=False)
class ResidualNoise:
    """σ_k(λ) ``[1, C, *rfft]`` of a run's drift from the residuals on ``paths`` data paths (module docstring).

    ``noise(lam)`` computes it once per λ (the paths coarse-grained with the forward noise drawn
    from ``seed``) and keeps it. The data are the ``split`` of ``data_file``, standardised like
    the run's training data.
    """

    kind: ClassVar[str] = "residual"  # what describe() and the provenance call this calibration

    run: TrainedRun
    data_file: str | os.PathLike
    split: str = "train"
    paths: int = CALIBRATION_PATHS
    seed: int = 0
    _cache: dict[float, torch.Tensor] = attrs.Factory(dict)
    _data: torch.Tensor | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.paths, int) or isinstance(self.paths, bool) or self.paths < 1:
            raise bad_argument("paths", self.paths, "must be an integer >= 1", f"pass e.g. paths={CALIBRATION_PATHS}")
        splits = read_metadata(self.data_file).splits
        if self.split not in splits or splits[self.split][0] == 0:
            raise bad_argument("split", self.split, f"is not a non-empty split of {self.data_file}", f"use one of {sorted(name for name, shape in splits.items() if shape[0])}")

    def __call__(self, lam: float) -> torch.Tensor:
        if lam not in self._cache:
            self._cache[lam] = self._measure(lam)
        return self._cache[lam]

    @property
    def data(self) -> torch.Tensor:
        """The calibration paths u0 ``[paths, T, C, *space]`` (standardised; read once, whatever the number of λs)."""
        if self._data is None:
            run = self.run
            available = read_metadata(self.data_file).splits[self.split][0]
            self._data = read_paths(run, self.data_file, split=self.split, n=min(self.paths, available)).u.to(device=run.device, dtype=run.dtype)
        return self._data

    def paths_at(self, lam: float) -> torch.Tensor:
        """The calibration paths at λ, C_λ u0 + sqrt(Σ_λ) ε (Eq. 3) with the noise drawn from ``seed``; u0 at λ = 0."""
        u0, run = self.data, self.run
        if lam == 0:
            return u0
        lam_t = torch.full((u0.shape[0],), lam, dtype=torch.float64, device=run.device)
        return run.scheme.forward_sample(u0, run.grid, lam_t, torch.Generator(device=run.device).manual_seed(self.seed))

    @torch.no_grad()
    def _measure(self, lam: float) -> torch.Tensor:
        run = self.run
        u = self.paths_at(lam)
        lam_t = torch.full((u.shape[0],), lam, dtype=torch.float64, device=run.device)
        power = self._increment_power(u[:, :-1], u[:, 1:], drift_on_path(run.model, u, lam_t) * run.dt)
        return (power / run.dt).sqrt().unsqueeze(0)

    def _increment_power(self, current: torch.Tensor, following: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """σ_k²Δt ``[C, *rfft]`` from the frames, the next frames and the drift's steps f_λ Δt: the residual's power."""
        return self._power(following - current - step)

    def _power(self, frames: torch.Tensor) -> torch.Tensor:
        """E|û(k)|² over paths and frames ``[C, *rfft]`` (orthonormal FFT, float64)."""
        return rfft(frames.double(), self.run.grid.ndim).abs().pow(2).mean(dim=(0, 1))

    def path_noise(self, lams) -> CalibratedNoise:
        """The increment variance v_λ(k) = σ_k(λ)²Δt at the nodes ``lams`` as the path density's noise model (generation)."""
        lams = torch.as_tensor(sorted(float(lam) for lam in lams), dtype=torch.float64)
        variance = torch.stack([self(float(lam))[0].cpu().double().pow(2) * self.run.dt for lam in lams])
        return CalibratedNoise(lams, variance)

    def describe(self) -> dict:
        return {"kind": self.kind, "data": str(self.data_file), "split": self.split, "paths": self.paths, "seed": self.seed}


@attrs.define(eq=False)
class StationaryNoise(ResidualNoise):
    """σ_k(λ) that keeps each mode's variance through one step of the drift: the data's next-frame
    power less the power of the drift's prediction,

        σ_k²(λ) Δt = max(0, E |û_{n+1}(k)|² - E |F̂_λ(k)|²),   F_λ = u_n + f_λ(window_n) Δt,

    on the same paths as :class:`ResidualNoise`. A chain u_{n+1} = F_λ + noise started in the data's
    law then ends the step with the data's power in every mode. For a mode that decays as
    u_{n+1} = ρ u_n + ε and a drift that damps it to ρ̂ u_n, this is (1 - ρ̂²) V, which keeps the
    variance V at any ρ̂, where the residual's (1 - ρ² + (ρ - ρ̂)²) V keeps (1 - ρ² + (ρ - ρ̂)²) /
    (1 - ρ̂²) of it (docs/results.md, "It is not overfitting"). The two agree for a drift that is the
    conditional mean, whose residual is uncorrelated with its prediction.
    """

    kind: ClassVar[str] = "stationary"

    def _increment_power(self, current: torch.Tensor, following: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        return (self._power(following) - self._power(current + step)).clamp(min=0)


__all__ = ["CALIBRATION_PATHS", "ResidualNoise", "StationaryNoise"]


# λ nodes of the calibrated path noise: v_λ(k) is smooth in λ, and the power grid resolves λ -> 0
# where it changes fastest (Σ̃_λ -> its floor).
CALIBRATION_NODES = 16


def calibrated_score_kind(run: TrainedRun, kind, *, seed: int = 0, calibration: type[ResidualNoise] = ResidualNoise) -> PathScoreKind:
    """``kind`` (a path score) with the increment noise ``calibration`` measures of its drift on the run's training data
    (:class:`ResidualNoise`: the residual's; :class:`StationaryNoise`: what keeps each mode's variance),
    as :class:`~pdd_core.score.path_density.CalibratedNoise` at :data:`CALIBRATION_NODES` + 1 λs of the power grid."""
    kind = default_score_kind(run) if kind is None else kind
    if not isinstance(kind, PathScoreKind):
        raise bad_argument("path_noise", calibration.kind, "calibrates the path score of a drift; this score is the network's noise prediction", "use the model's path noise, or a pdd run's path score", kind=ConfigError)
    if run.data_path is None:
        raise bad_argument("path_noise", calibration.kind, f"calibrates on the run's training file, which is not found ({run.config.data})", "make the file available or use the model's path noise", kind=ConfigError)
    lam_min, lam_max = run.config.lam_min, run.config.lam_max
    nodes = power_schedule(lam_max, lam_min, CALIBRATION_NODES).flip(0) if lam_max > lam_min else torch.tensor([lam_min], dtype=torch.float64)
    noise = calibration(run, run.data_path, split=run.config.split, seed=seed).path_noise(nodes.tolist())
    return attrs.evolve(kind, noise_model=noise)

