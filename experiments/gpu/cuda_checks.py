"""CUDA against CPU for every part of pdd that runs on a device (stage 1 of check.sh).

    python3 experiments/gpu/cuda_checks.py --out OUT/cuda_checks.json --work SCRATCH_DIR

Each check runs the same computation on the CPU and on CUDA from the same inputs and parameters
and records pass/fail with ``max_abs`` (largest absolute difference) and ``max_rel`` (that
divided by the largest CPU magnitude, so values near zero do not blow it up):

* ``unet``: a perturbed ``small`` U-Net on the Lorenz-96 grid, forward and backward (input and
  parameter gradients); float32 with torch's default TF32 convolutions, float32 without TF32,
  and float64;
* ``path_score``: the autograd :class:`~pdd_core.score.PathScore` of that network (per-mode);
* ``gaussian_path_score`` and ``sampler:NAME``: every λ-sampler driven by the exact score of a
  Gaussian with a random covariance through :func:`pdd_core.sampling.sample`. Deterministic
  samplers must agree to float64 round-off; the stochastic ones draw from device generators
  that differ between CPU and CUDA, so only their statistics are compared (finite, shape,
  device, per-mode energy within Monte Carlo error of the CPU run);
* ``train_bf16``: :func:`pdd_core.training.train` steps with bf16 autocast against float32;
* ``checkpoint``: a run trained on CUDA loaded and resumed on the CPU, and the reverse.

Without CUDA (the dry run of check.sh) every check runs CPU against CPU, to exercise this
script, and is reported as ``skipped`` with that outcome under ``self_test``. The JSON file is
rewritten after every check, so a stage cut short by its timeout still leaves its results.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import time
import traceback
from pathlib import Path

import attrs
import numpy as np
import torch

import schemes  # noqa: F401  (registers the schemes the trainer looks up by name)
from pdd_core import Grid
from pdd_core.apps.inference.runs import load_run
from pdd_core.apps.trainer import load_checkpoint, train
from pdd_core.data.hdf5_layout import write_dataset_file
from pdd_core.sampling import sample
from pdd_core.schedules import uniform_schedule
from pdd_core.score import GaussianMarginal, GaussianPathScore, PathScore, PerModeNoise
from pdd_core.training import ModelConfig, TrainConfig, build_model
from schemes import Carosso
from solvers import (
    ETDPredictor,
    ExponentialMultistep,
    GaussianExponential,
    GaussianLangevin,
    LangevinCorrector,
    PredictorCorrector,
    ProbabilityFlowHeun,
    ReverseEulerMaruyama,
)

L96_GRID = Grid((128,), channels=2)
WINDOW = 5
DT = 0.05
SCHEME = Carosso(alpha=0.1, beta=2**0.5)  # the Lorenz-96 scheme of PDD B.3
# Relative tolerances (max_abs / max|cpu|). float64 kernels agree to ~1e-14; 1e-8 leaves room for
# the conditioning of a deep network. cuDNN runs float32 convolutions in TF32 (10-bit mantissa) by
# default, so those agree to ~1e-3 only; without TF32 float32 agrees to ~1e-5.
RTOL = {"float64": 1e-8, "float32": 1e-4, "float32_tf32": 2e-2}
# Stochastic samplers: per-mode energies of SAMPLER_PATHS paths from CPU and CUDA generators agree
# within Monte Carlo error (relative SE of a variance from 256 x 8 correlated draws: ~5 %).
ENERGY_RTOL = 0.25
SAMPLER_PATHS = 256
SAMPLER_GRID = Grid((32,))
SAMPLER_FRAMES = 8
# 20 uniform steps from λ = 0.3 to 0.05 keep the explicit samplers (em, etd, pc) stable on this grid.
SAMPLER_LAMBDAS = uniform_schedule(0.3, 0.05, 20)


def compare(cpu: torch.Tensor, other: torch.Tensor, rtol: float) -> dict:
    """max_abs, max_rel of ``other`` against ``cpu`` and whether both are finite, equal in shape and within ``rtol``."""
    reference, candidate = cpu.detach().double().cpu(), other.detach().double().cpu()
    if reference.shape != candidate.shape:
        return {"pass": False, "problem": f"shapes differ: {tuple(reference.shape)} vs {tuple(candidate.shape)}"}
    finite = bool(torch.isfinite(reference).all() and torch.isfinite(candidate).all())
    max_abs = float((reference - candidate).abs().max()) if reference.numel() else 0.0
    scale = float(reference.abs().max()) if reference.numel() else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    return {"pass": finite and max_rel <= rtol, "finite": finite, "max_abs": max_abs, "max_rel": max_rel, "rtol": rtol}


def all_pass(parts: dict) -> bool:
    return all(part["pass"] for part in parts.values())


def perturbed_unet(dtype: torch.dtype) -> torch.nn.Module:
    """The ``small`` U-Net with every parameter moved off its initialisation (the output layer
    starts at zero, which would make any comparison trivially exact)."""
    torch.manual_seed(0)
    network = build_model("unet", L96_GRID, WINDOW, preset="small")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return network.to(dtype)


def unet_pass(network: torch.nn.Module, history: torch.Tensor, lam: torch.Tensor) -> dict[str, torch.Tensor]:
    """Output, input gradient and flattened parameter gradients of a forward/backward pass."""
    history = history.clone().requires_grad_(True)
    network.zero_grad(set_to_none=True)
    output = network(history, lam)
    output.pow(2).mean().backward()
    parameter_grads = torch.cat([p.grad.flatten() for p in network.parameters() if p.grad is not None])
    return {"output": output, "input_grad": history.grad, "parameter_grads": parameter_grads}


def check_unet(device: torch.device, work: Path) -> dict:
    variants = {}
    for variant, dtype, tf32 in (("float32_tf32", torch.float32, True), ("float32", torch.float32, False), ("float64", torch.float64, False)):
        generator = torch.Generator().manual_seed(2)
        history = torch.randn(8, WINDOW, L96_GRID.channels, *L96_GRID.shape, generator=generator, dtype=dtype)
        lam = torch.rand(8, generator=generator, dtype=torch.float64)
        network = perturbed_unet(dtype)
        on_cpu = unet_pass(network, history, lam)
        saved = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = tf32
        try:
            on_device = unet_pass(copy.deepcopy(network).to(device), history.to(device), lam.to(device))
        finally:
            torch.backends.cudnn.allow_tf32 = saved
        parts = {name: compare(on_cpu[name], on_device[name], RTOL[variant]) for name in on_cpu}
        variants[variant] = {"pass": all_pass(parts), "device": str(on_device["output"].device), **parts}
    return {"pass": all_pass(variants), **variants}


def check_path_score(device: torch.device, work: Path) -> dict:
    variants = {}
    for variant, dtype in (("float32_tf32", torch.float32), ("float64", torch.float64)):
        network = perturbed_unet(dtype).eval()
        u = torch.randn(2, 12, L96_GRID.channels, *L96_GRID.shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
        lam = torch.tensor([0.1, 0.6], dtype=torch.float64)
        on_cpu = PathScore(network, SCHEME, L96_GRID, DT, noise_model=PerModeNoise())(u, lam)
        on_device = PathScore(copy.deepcopy(network).to(device), SCHEME, L96_GRID, DT, noise_model=PerModeNoise())(u.to(device), lam.to(device))
        variants[variant] = {**compare(on_cpu, on_device, RTOL[variant]), "device": str(on_device.device)}
    return {"pass": all_pass(variants), **variants}


def random_covariance() -> torch.Tensor:
    """A random positive definite temporal covariance per mode, decaying with |k|: ``[*rfft, T, T]``."""
    frames = SAMPLER_FRAMES
    factor = torch.randn(*SAMPLER_GRID.rfft_shape, frames, frames, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    covariance = factor @ factor.mT / frames + 0.1 * torch.eye(frames, dtype=torch.float64)
    return covariance / (1 + 0.1 * SAMPLER_GRID.k2())[..., None, None]


COVARIANCE = random_covariance()
GAUSSIAN_SCORE = GaussianPathScore(COVARIANCE, SCHEME, SAMPLER_GRID)
REFERENCE = GaussianMarginal(COVARIANCE.unsqueeze(0))
# The CLI's samplers (pdd_core/apps/cli/inference_options.py) by their command-line names.
SAMPLERS = {
    "etd": ETDPredictor(),
    "em": ReverseEulerMaruyama(),
    "pc": PredictorCorrector(ETDPredictor(), LangevinCorrector()),
    "pf": ProbabilityFlowHeun(),
    "eab2": ExponentialMultistep(),
    "gpf": GaussianExponential(REFERENCE, gate=1.0),
    "gsde": GaussianExponential(REFERENCE, stochastic=True, gate=1.0),
    "gpc": PredictorCorrector(GaussianExponential(REFERENCE, gate=1.0), GaussianLangevin(REFERENCE, gate=1.0), 1),
    "glangevin": GaussianLangevin(REFERENCE),
}


def sampler_start() -> torch.Tensor:
    """Exact draws of the Gaussian at λ_start (float64, CPU): the super-resolution input of every sampler."""
    return GAUSSIAN_SCORE.exact_sample(float(SAMPLER_LAMBDAS[0]), SAMPLER_PATHS, torch.Generator().manual_seed(5))


def device_score(device: torch.device):
    """The Gaussian score on ``device``, and whether it had to be bridged through the CPU.

    :class:`GaussianPathScore` keeps its covariance on the CPU; if it cannot take CUDA paths
    (``gaussian_path_score`` fails), the samplers are still checked with a score that computes
    on the CPU and returns to the device, so a score bug does not hide the samplers' own.
    """
    u = sampler_start()[:2].to(device)
    try:
        GAUSSIAN_SCORE(u, torch.full((2,), 0.2, dtype=torch.float64, device=device))
        return GAUSSIAN_SCORE, False
    except Exception:
        return (lambda u, lam: GAUSSIAN_SCORE(u.cpu(), lam.cpu()).to(u.device)), True


def check_gaussian_path_score(device: torch.device, work: Path) -> dict:
    u = sampler_start()[:16]
    lam = torch.linspace(0.0, 1.0, 16, dtype=torch.float64)
    on_device = GAUSSIAN_SCORE(u.to(device), lam.to(device))
    return {**compare(GAUSSIAN_SCORE(u, lam), on_device, RTOL["float64"]), "device": str(on_device.device)}


def mode_energy(u: torch.Tensor) -> torch.Tensor:
    """E|û(k)|² per mode over paths, frames and channels (float64, CPU)."""
    return torch.fft.rfft(u.detach().double().cpu(), norm="ortho").abs().pow(2).mean(dim=(0, 1, 2))


def sampler_check(name: str):
    def check(device: torch.device, work: Path) -> dict:
        sampler = SAMPLERS[name]
        score, bridged = device_score(device)
        start = sampler_start()

        def run(score, start, device) -> torch.Tensor:
            generator = torch.Generator(device=device).manual_seed(6)
            return sample(score, SCHEME, SAMPLER_GRID, sampler, SAMPLER_LAMBDAS, generator=generator, u_init=start.to(device))

        on_cpu, on_device = run(GAUSSIAN_SCORE, start, torch.device("cpu")), run(score, start, device)
        result = {"stochastic": bool(sampler.stochastic), "score_bridged_through_cpu": bridged, "device": str(on_device.device), "dtype": str(on_device.dtype)}
        right_place = on_device.device.type == device.type and on_device.shape == start.shape and on_device.dtype == start.dtype
        if not sampler.stochastic:
            agreement = compare(on_cpu, on_device, RTOL["float64"])
            return {**result, **agreement, "pass": right_place and agreement["pass"]}
        ratio = mode_energy(on_device) / mode_energy(on_cpu)
        finite = bool(torch.isfinite(on_device).all())
        energy_rel = float((ratio - 1).abs().max())
        passed = right_place and finite and energy_rel <= ENERGY_RTOL
        return {**result, "finite": finite, "max_rel_mode_energy": energy_rel, "energy_rtol": ENERGY_RTOL, "pass": passed}

    return check


def tiny_dataset(work: Path) -> str:
    """A small dataset file in the project's layout (random paths: the checks need shapes, not physics)."""
    path = work / "tiny.h5"
    if not path.exists():
        rng = np.random.default_rng(7)
        splits = {name: rng.standard_normal((n, 16, L96_GRID.channels, *L96_GRID.shape)) for name, n in (("train", 8), ("valid", 2), ("test", 2))}
        write_dataset_file(path, splits, system="random", config={}, dt=DT, grid=L96_GRID)
    return str(path)


def tiny_config(work: Path, device: torch.device, **changes) -> TrainConfig:
    config = TrainConfig(data=tiny_dataset(work), model=ModelConfig(preset="tiny"), scheme=Carosso(), steps=2, batch_size=4, checkpoint_every=1, device=device.type)
    return attrs.evolve(config, **changes)


def log_losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


def check_train_bf16(device: torch.device, work: Path) -> dict:
    """Three steps with and without bf16 autocast on the device: same λ and noise (keyed by seed and step).

    Step 1 sees the zero-initialised output layer, so both losses are equal; the last step compares
    the network after two Adam updates, computed in bfloat16 (8-bit mantissa) against float32. The
    large lr makes the network's output, not the data's increments, dominate that loss."""
    losses = {}
    for name, bf16 in (("bf16", True), ("float32", False)):
        run_dir = work / f"train_{name}_{device.type}"
        result = train(tiny_config(work, device, bf16=bf16, lr=1e-2, steps=3), run_dir, progress=False)
        losses[name] = log_losses(run_dir)
        losses[f"{name}_steps"] = result.step
    relative = abs(losses["bf16"][-1] - losses["float32"][-1]) / abs(losses["float32"][-1])
    finite = all(math.isfinite(value) for value in losses["bf16"] + losses["float32"])
    return {"pass": finite and losses["bf16_steps"] == 3 and relative < 0.1, "losses": losses, "last_step_rel_diff": relative, "rtol": 0.1}


def forward_of(run, history: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return run.model(history.to(run.device), lam.to(run.device))


def check_checkpoint(device: torch.device, work: Path) -> dict:
    """Train on one device, load the checkpoint on both and resume on the other, both ways round."""
    generator = torch.Generator().manual_seed(8)
    history = torch.randn(4, WINDOW, L96_GRID.channels, *L96_GRID.shape, generator=generator)
    lam = torch.rand(4, generator=generator, dtype=torch.float64)
    cpu = torch.device("cpu")
    directions = {}
    for name, first, second in (("device_to_cpu", device, cpu), ("cpu_to_device", cpu, device)):
        run_dir = work / f"checkpoint_{name}"
        train(tiny_config(work, first), run_dir, progress=False)
        loaded = {where.type: load_run(run_dir, device=where) for where in (first, second)}
        parts = {"forward": compare(forward_of(loaded["cpu"], history, lam), forward_of(loaded[device.type], history, lam), RTOL["float32_tf32"])}
        # Resume one more step on the other device: optimizer state, RNG states and EMA must move with it.
        resumed = train(tiny_config(work, second, steps=3), run_dir, resume=True, progress=False)
        record = load_checkpoint(run_dir)
        parts["resume"] = {"pass": resumed.step == 3 and record["step"] == 3 and math.isfinite(resumed.loss), "step": resumed.step, "loss": resumed.loss}
        directions[name] = {"pass": all_pass(parts), **parts}
    return {"pass": all_pass(directions), **directions}


# The samplers come last: they are the slowest on the CPU, and a stage timeout should cut them, not training or checkpoints.
CHECKS = {
    "unet": check_unet,
    "path_score": check_path_score,
    "train_bf16": check_train_bf16,
    "checkpoint": check_checkpoint,
    "gaussian_path_score": check_gaussian_path_score,
    **{f"sampler:{name}": sampler_check(name) for name in SAMPLERS},
}


def environment(device: torch.device) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "device": str(device), "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info.update(
            gpu=torch.cuda.get_device_name(0),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            cudnn_allow_tf32=getattr(torch.backends.cudnn, "allow_tf32", None),  # legacy flags, superseded by fp32_precision in newer torch
            matmul_allow_tf32=getattr(torch.backends.cuda.matmul, "allow_tf32", None),
        )
    return info


def write_atomically(path: Path, report: dict) -> None:
    """Replace ``path`` in one rename, so a stage killed by its timeout never leaves half a file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--work", required=True, help="scratch directory (datasets and runs)")
    args = parser.parse_args()
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    has_cuda = torch.cuda.is_available()
    device = torch.device("cuda" if has_cuda else "cpu")
    report = {"environment": environment(device), "checks": {}}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = check(device, work)
            entry = {"status": "pass" if result.pop("pass") else "fail", **result}
        except Exception as error:  # one broken path must not hide the others
            entry = {"status": "error", "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc().splitlines()[-8:]}
        if not has_cuda:
            entry = {"status": "skipped", "reason": "no CUDA device: ran CPU against CPU to test this script", "self_test": entry}
        entry["seconds"] = round(time.perf_counter() - started, 2)
        report["checks"][name] = entry
        report["summary"] = {status: sorted(n for n, e in report["checks"].items() if e["status"] == status) for status in ("pass", "fail", "error", "skipped")}
        write_atomically(out, report)
        print(f"{name}: {entry['status']} ({entry['seconds']} s)" + (f" [self-test: {entry['self_test']['status']}]" if not has_cuda else ""), flush=True)
    if has_cuda:
        report["environment"]["max_memory_allocated_bytes"] = torch.cuda.max_memory_allocated()
        write_atomically(out, report)
    return 0 if not report["summary"]["fail"] and not report["summary"]["error"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
