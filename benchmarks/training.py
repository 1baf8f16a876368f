"""Training per CPU-hour: one PDD training step under cheaper execution variants, against eager fp32.

One step is what the trainer does (``pdd_core/apps/trainer/loop.py``): λ ~ U(0, 1), the
objective's corrupt + loss (PDD Algorithm 1 with the default per-mode weighting), backward and
an Adam step, on the U-Net the trainer builds (``build_model`` with the default linear part).
Shapes are the demo's: Lorenz-96 (2 channels, 128 points, batch 16 x 16 frames; presets tiny,
small, paper) and Kolmogorov flow (1 channel, 40 x 40, batch 8 x 12 frames; tiny, small), window 5.

Variants (``--variants``; ``eager`` is always run, it is the reference):

* ``eager``: plain PyTorch, fp32, one thread;
* ``compile``: ``torch.compile(network)``; its compile time (first forward + backward less a
  compiled step) and the steps it takes to pay for itself are reported separately;
* ``bf16``: ``torch.autocast("cpu", dtype=torch.bfloat16)`` around the network forward, exactly
  as the trainer's ``bf16 = true`` does it (loss and Adam stay fp32);
* ``channels_last``: the 2D network in ``torch.channels_last`` memory format (Kolmogorov only);
* ``threads2``: two intra-op threads instead of one;
* ``batch2``: the batch doubled: compare samples/s, not steps/s (a run that adopts it takes half
  the steps for the same samples, and its learning rate would have to scale with the batch).

Each variant reports steps/s, samples/s (paths per second) and their ratios to eager measured
in the same run, and whether it *trains the same*: the relative difference of its first-step loss
and of its gradient (all parameters as one vector) against eager's, on the same weights and the
same corrupted batch (for ``batch2``: that batch twice, whose mean loss is the same), within
``TOLERANCES``. ``candidates`` lists the variants at least 1.5x faster per step (or per sample,
for ``batch2``) that train the same.

Single-threaded unless a variant says otherwise; medians of ``--repeats`` steps after a warm-up.
The compile variant takes minutes per network on a loaded 2-core machine: it is opt-in with
``--quick`` (1 repeat, the tiny preset, every variant but ``compile`` unless named).

    OMP_NUM_THREADS=1 python benchmarks/training.py --json OUT.json [--quick] [--repeats 5]
        [--variants eager bf16 compile ...] [--systems lorenz96 kolmogorov] [--presets tiny small paper]
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the repository root importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator

import attrs
import torch
from torch import nn

from benchmarks.output import emit
from benchmarks.timing import median_seconds
from pdd_core import Grid
from pdd_core.apps.trainer.network_view import NetworkView, TrainingNetwork
from pdd_core.score.path_density import NOISE_MODELS
from pdd_core.training import PDDObjective, build_model, sample_lambda
from pdd_core.training.config import default_overrides
from schemes import Carosso

WINDOW = 5
LEARNING_RATE = 1e-3  # the demo's
# "Trains the same": bf16 rounds to an 8-bit mantissa (2^-8 ≈ 0.4 % per rounding), so a first-step
# loss within 1 % and a gradient within 5 % of eager's is the precision bf16 can give; a variant that
# changes what is computed (a scaled loss, another batch) is off by tens of percent.
TOLERANCES = {"loss": 1e-2, "gradient": 5e-2}
# Speed-up per step (per sample for batch2) from which a variant is worth a config option.
CANDIDATE_SPEEDUP = 1.5


@attrs.frozen
class Case:
    """One network and batch shape: a system's grid, scheme, Δt and the demo's batch, one preset."""

    system: str
    preset: str
    grid: Grid
    scheme: object
    dt: float
    batch: int
    frames: int

    @property
    def name(self) -> str:
        return f"{self.system}/{self.preset}"


SYSTEMS = {
    "lorenz96": {"grid": Grid((128,), channels=2), "scheme": Carosso(alpha=0.1, beta=math.sqrt(2)), "dt": 0.05, "batch": 16, "frames": 16},
    "kolmogorov": {"grid": Grid((40, 40), channels=1), "scheme": Carosso(alpha=0.3, beta=math.sqrt(6)), "dt": 0.5, "batch": 8, "frames": 12},
}
PRESETS = {"lorenz96": ("tiny", "small", "paper"), "kolmogorov": ("tiny", "small")}


def cases(systems: list[str], presets: list[str]) -> list[Case]:
    """The (system, preset) pairs asked for, in a fixed order (the paper U-Net is timed on Lorenz-96 only)."""
    return [Case(system, preset, **SYSTEMS[system]) for system in systems for preset in PRESETS[system] if preset in presets]


@attrs.frozen
class Variant:
    """How a training step differs from the eager fp32 reference.

    ``prepare`` turns the freshly built network into the module that is called (compiled,
    reformatted, ...); ``applies`` says whether the variant makes sense for a case.
    """

    name: str
    prepare: Callable[[nn.Module], nn.Module] = lambda network: network
    bf16: bool = False
    threads: int = 1
    batch_factor: int = 1
    applies: Callable[[Case], bool] = lambda case: True
    reports_compile_time: bool = False


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant("eager"),
        Variant("compile", prepare=torch.compile, reports_compile_time=True),
        Variant("bf16", bf16=True),
        # channels_last is a layout of 4D tensors: the 2D (Kolmogorov) network only.
        Variant("channels_last", prepare=lambda network: network.to(memory_format=torch.channels_last), applies=lambda case: case.grid.ndim == 2),
        Variant("threads2", threads=2),
        Variant("batch2", batch_factor=2),
    )
}
REFERENCE = "eager"


@contextlib.contextmanager
def thread_count(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_network(case: Case) -> nn.Module:
    """The U-Net the trainer builds for new runs (preset, default linear part), with every parameter perturbed.

    Its heads and linear kernels start at zero, which would leave the trunk without a gradient at
    the first step; the perturbation makes the gradient comparison see every layer.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_model("unet", case.grid, WINDOW, preset=case.preset, overrides=default_overrides("unet"))
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.add_(1e-2 * torch.randn_like(parameter))
    return network


def objective_of(case: Case) -> PDDObjective:
    """The trainer's default objective: PDD with the per-mode weighting of the increments."""
    return PDDObjective(case.scheme, case.grid, case.dt, noise_model=NOISE_MODELS["per-mode"])


def clean_paths(case: Case, batch: int, seed: int) -> torch.Tensor:
    """Standard-normal paths ``[batch, frames, C, *space]``: the step's cost does not depend on the values."""
    return torch.randn(batch, case.frames, case.grid.channels, *case.grid.shape, generator=torch.Generator().manual_seed(seed))


def first_batch(case: Case, objective: PDDObjective, factor: int) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """The corrupted batch and λ of the first-step check; ``factor`` copies of it, so the mean loss is eager's."""
    lam = sample_lambda(case.batch, torch.Generator().manual_seed(1))
    corrupted = objective.corrupt(clean_paths(case, case.batch, 2), lam, torch.Generator().manual_seed(3))
    return tuple(t.repeat(factor, *([1] * (t.ndim - 1))) for t in corrupted), lam.repeat(factor)


def loss_and_gradient(view: NetworkView, network: nn.Module, objective: PDDObjective, batch) -> tuple[float, torch.Tensor]:
    """The loss of ``batch`` and the gradient of every parameter as one float64 vector (the gradients are cleared after)."""
    corrupted, lam = batch
    loss = objective.loss(view, corrupted, lam)
    loss.backward()
    gradient = torch.cat([p.grad.flatten().double() for p in network.parameters() if p.grad is not None])
    network.zero_grad(set_to_none=True)
    return float(loss.detach()), gradient


def relative_difference(value, reference) -> float:
    """|value - reference| / |reference| (vectors: Euclidean norms)."""
    value, reference = torch.as_tensor(value, dtype=torch.float64), torch.as_tensor(reference, dtype=torch.float64)
    return float((value - reference).norm() / reference.norm())


def training_step(case: Case, objective: PDDObjective, view: NetworkView, optimizer: torch.optim.Optimizer, batch: int) -> Callable[[], None]:
    """One trainer step on fresh draws: λ, corrupt, loss, backward, Adam."""
    u0 = clean_paths(case, batch, 4)
    lambdas, noise = torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)

    def step() -> None:
        lam = sample_lambda(batch, lambdas)
        loss = objective.loss(view, objective.corrupt(u0, lam, noise), lam)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


@attrs.frozen
class Measurement:
    """What one variant did on one case: its step time, its first-step loss and gradient, and the compile time."""

    seconds_per_step: float
    batch: int
    loss: float
    gradient: torch.Tensor
    first_call_seconds: float


def measure(case: Case, variant: Variant, repeats: int) -> Measurement:
    """Time ``variant``'s training step on a fresh network, after checking its first step on the shared batch."""
    objective = objective_of(case)
    network = build_network(case)
    view = NetworkView(TrainingNetwork(variant.prepare(network), variant.bf16), WINDOW)
    optimizer = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    batch = case.batch * variant.batch_factor
    with thread_count(variant.threads):
        started = time.perf_counter()
        loss, gradient = loss_and_gradient(view, network, objective, first_batch(case, objective, variant.batch_factor))
        first_call = time.perf_counter() - started  # for compile: tracing and code generation of forward and backward
        seconds = median_seconds(training_step(case, objective, view, optimizer, batch), repeats)
    return Measurement(seconds, batch, loss, gradient, first_call)


def compile_report(measured: Measurement, reference: Measurement) -> dict:
    """Compile seconds (the first forward + backward less a compiled step) and the steps that pay them back."""
    compile_seconds = max(measured.first_call_seconds - measured.seconds_per_step, 0.0)
    saved_per_step = reference.seconds_per_step - measured.seconds_per_step
    return {"compile_seconds": compile_seconds, "steps_to_amortise": math.ceil(compile_seconds / saved_per_step) if saved_per_step > 0 else None}


def variant_report(variant: Variant, measured: Measurement, reference: Measurement) -> dict:
    """Throughput, ratios to the reference and the trains-the-same check of one variant."""
    loss_difference = relative_difference(measured.loss, reference.loss)
    gradient_difference = relative_difference(measured.gradient, reference.gradient)
    report = {
        "seconds_per_step": measured.seconds_per_step,
        "steps_per_second": 1.0 / measured.seconds_per_step,
        "samples_per_second": measured.batch / measured.seconds_per_step,
        "batch": measured.batch,
        "threads": variant.threads,
        "step_speedup": reference.seconds_per_step / measured.seconds_per_step,
        "sample_speedup": (measured.batch / measured.seconds_per_step) / (reference.batch / reference.seconds_per_step),
        "first_loss": measured.loss,
        "loss_relative_difference": loss_difference,
        "gradient_relative_difference": gradient_difference,
        "trains_same": loss_difference <= TOLERANCES["loss"] and gradient_difference <= TOLERANCES["gradient"],
    }
    if variant.reports_compile_time:
        report.update(compile_report(measured, reference))
    return report


def progress(case: Case, name: str, report: dict) -> None:
    """One line on stderr per measured variant: a full run takes tens of minutes."""
    print(f"{case.name} {name}: {report['seconds_per_step']:.3g} s/step, x{report['step_speedup']:.2f}", file=sys.stderr, flush=True)


def run_case(case: Case, variants: list[Variant], repeats: int) -> dict:
    """Every applicable variant of ``case`` against eager measured just before it."""
    reference = measure(case, VARIANTS[REFERENCE], repeats)
    reports = {REFERENCE: variant_report(VARIANTS[REFERENCE], reference, reference)}
    progress(case, REFERENCE, reports[REFERENCE])
    for variant in variants:
        if variant.name != REFERENCE and variant.applies(case):
            reports[variant.name] = variant_report(variant, measure(case, variant, repeats), reference)
            progress(case, variant.name, reports[variant.name])
    shape = {"grid": list(case.grid.shape), "channels": case.grid.channels, "window": WINDOW, "batch": case.batch, "frames": case.frames}
    parameters = sum(p.numel() for p in build_network(case).parameters())
    return {"shape": shape, "parameters": parameters, "variants": reports}


def candidates(results: dict) -> list[dict]:
    """The (case, variant) pairs at least CANDIDATE_SPEEDUP faster per step (per sample for a larger batch) that train the same."""
    found = []
    for name, case in results.items():
        for variant, report in case["variants"].items():
            speedup = report["sample_speedup"] if VARIANTS[variant].batch_factor > 1 else report["step_speedup"]
            if variant != REFERENCE and report["trains_same"] and speedup >= CANDIDATE_SPEEDUP:
                found.append({"case": name, "variant": variant, "speedup": speedup})
    return found


def benchmark(case_list: list[Case], variants: list[Variant], repeats: int) -> dict:
    """The JSON record: per case, every variant against eager; the candidates and the settings."""
    results = {case.name: run_case(case, variants, repeats) for case in case_list}
    return {
        "benchmark": "training",
        "model": "UNet (build_model, default linear part, parameters perturbed), PDD objective with per-mode noise, Adam, window 5",
        "repeats": repeats,
        "base_threads": 1,
        "tolerances": TOLERANCES,
        "candidate_speedup": CANDIDATE_SPEEDUP,
        "cases": results,
        "candidates": candidates(results),
        "note": "ratios against eager measured in the same run just before each case's variants; batch2 doubles the batch, so compare samples/s",
    }


@contextlib.contextmanager
def fresh_compile_cache(active: bool) -> Iterator[None]:
    """Point the inductor's on-disk cache at an empty folder, so the compile time is that of a first run."""
    if not active or "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="pdd-bench-inductor-") as folder:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
        try:
            yield
        finally:
            del os.environ["TORCHINDUCTOR_CACHE_DIR"]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), help="default: all (all but compile with --quick); eager always runs")
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    parser.add_argument("--presets", nargs="+", choices=PRESETS["lorenz96"], help="default: all (tiny with --quick)")
    parser.add_argument("--repeats", type=positive_int, help="timed steps per variant, median reported (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="1 repeat, the tiny preset, no compile unless named in --variants")
    parser.add_argument("--json", metavar="OUT.json")
    args = parser.parse_args(argv)
    names = args.variants or [name for name in VARIANTS if not (args.quick and name == "compile")]
    presets = args.presets or (["tiny"] if args.quick else list(PRESETS["lorenz96"]))
    repeats = args.repeats or (1 if args.quick else 3)
    case_list = cases(args.systems, presets)
    if not case_list:
        parser.error(f"--presets {' '.join(presets)} has no case for --systems {' '.join(args.systems)} (the paper preset is timed on lorenz96 only)")
    # A full run takes tens of minutes: refuse an output it could not write before starting.
    folder = pathlib.Path(args.json or ".").absolute().parent
    if args.json and not (folder.is_dir() and os.access(folder, os.W_OK)):
        parser.error(f"--json {args.json}: {folder} is not a writable folder; create it or choose another path")
    torch.set_num_threads(1)
    with fresh_compile_cache("compile" in names):
        results = benchmark(case_list, [VARIANTS[name] for name in names], repeats)
    emit(results, args.json)


if __name__ == "__main__":
    main()
