"""The training benchmark (benchmarks/training.py): its record, its reference and its trains-the-same check."""

from __future__ import annotations

import json

import attrs
import pytest
import torch
from torch import nn

from benchmarks import training

# The demo's Lorenz-96 shapes cut to a few windows, so the tiny U-Net's steps take milliseconds.
SMALL_LORENZ96 = {**training.SYSTEMS["lorenz96"], "batch": 2, "frames": 3}


@pytest.fixture
def small_shapes(monkeypatch):
    monkeypatch.setitem(training.SYSTEMS, "lorenz96", SMALL_LORENZ96)


class ScaledDrift(nn.Module):
    """A wrong variant: the network's drift times 1.5, so the loss and the gradient change."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, history, lam):
        return 1.5 * self.network(history, lam)


def test_quick_mode_writes_every_key_with_eager_as_the_exact_reference(small_shapes, tmp_path):
    out = tmp_path / "training.json"
    training.main(["--quick", "--variants", "eager", "bf16", "--systems", "lorenz96", "--json", str(out)])
    record = json.loads(out.read_text())
    assert record["repeats"] == 1 and record["tolerances"] == training.TOLERANCES
    assert list(record["cases"]) == ["lorenz96/tiny"]
    case = record["cases"]["lorenz96/tiny"]
    assert case["shape"] == {"grid": [128], "channels": 2, "window": 5, "batch": 2, "frames": 3}
    assert list(case["variants"]) == ["eager", "bf16"]
    eager, bf16 = case["variants"]["eager"], case["variants"]["bf16"]
    assert set(eager) == set(bf16) == {
        "seconds_per_step",
        "steps_per_second",
        "samples_per_second",
        "batch",
        "threads",
        "step_speedup",
        "sample_speedup",
        "first_loss",
        "loss_relative_difference",
        "gradient_relative_difference",
        "trains_same",
    }
    assert eager["step_speedup"] == 1.0 and eager["sample_speedup"] == 1.0
    assert eager["loss_relative_difference"] == 0.0 and eager["gradient_relative_difference"] == 0.0
    # bf16 rounds the forward, so its first step differs from eager's, but within the tolerances.
    assert 0.0 < bf16["gradient_relative_difference"] <= training.TOLERANCES["gradient"] and bf16["trains_same"]


def test_a_variant_whose_loss_or_gradient_is_scaled_is_flagged():
    gradient = torch.tensor([1.0, -2.0, 0.5])
    reference = training.Measurement(seconds_per_step=1.0, batch=2, loss=3.0, gradient=gradient, first_call_seconds=1.0)
    scaled_loss = attrs.evolve(reference, loss=1.5 * reference.loss)
    scaled_gradient = attrs.evolve(reference, gradient=1.5 * gradient)
    variant = training.VARIANTS["eager"]
    assert training.variant_report(variant, reference, reference)["trains_same"]
    report = training.variant_report(variant, scaled_loss, reference)
    assert report["loss_relative_difference"] == pytest.approx(0.5) and not report["trains_same"]
    report = training.variant_report(variant, scaled_gradient, reference)
    assert report["gradient_relative_difference"] == pytest.approx(0.5) and not report["trains_same"]


def test_a_variant_that_changes_the_drift_is_flagged_by_its_measured_gradient(small_shapes):
    # At the first step the residual is dominated by the increments, so a wrong drift barely moves
    # the loss; the gradient is what catches it.
    (case,) = training.cases(["lorenz96"], ["tiny"])
    wrong = attrs.evolve(training.VARIANTS["eager"], name="scaled", prepare=ScaledDrift)
    report = training.run_case(case, [wrong], repeats=1)["variants"]["scaled"]
    assert report["gradient_relative_difference"] > training.TOLERANCES["gradient"]
    assert not report["trains_same"]


def test_a_doubled_batch_of_the_same_paths_trains_the_same(small_shapes):
    (case,) = training.cases(["lorenz96"], ["tiny"])
    report = training.run_case(case, [training.VARIANTS["batch2"]], repeats=1)["variants"]["batch2"]
    assert report["batch"] == 4 and report["trains_same"]
    assert report["loss_relative_difference"] < 1e-6 and report["gradient_relative_difference"] < 1e-5


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--systems", "kolmogorov", "--presets", "paper"], "has no case for --systems kolmogorov"),
        (["--json", "/nonexistent-folder/training.json"], "is not a writable folder"),
        (["--repeats", "0"], "must be >= 1"),
        (["--variants", "fp16"], "invalid choice: 'fp16'"),
    ],
)
def test_bad_arguments_are_refused_in_one_line_before_any_timing(arguments, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        training.main(arguments)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]
