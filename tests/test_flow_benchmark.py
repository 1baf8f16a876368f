"""The flow-MH against plain HMC benchmark (benchmarks/flow_vs_hmc.py): its record and its break-even count."""

import json

import pytest

from benchmarks import flow_vs_hmc


def test_the_benchmark_writes_training_cost_proposal_cost_and_both_chains_per_case(tmp_path):
    out = tmp_path / "flow_vs_hmc.json"
    tiny = ["--sides", "4", "--m2", "-4", "--train-steps", "2", "--proposal-steps", "2", "--batch", "16", "--ess-samples", "16", "--trajectory-length", "1.5"]
    flow_vs_hmc.main([*tiny, "--chains", "2", "--cycles", "8", "--burn-in", "2", "--repeats", "1", "--json", str(out)])
    (case,) = json.loads(out.read_text())["cases"]
    assert case["L"] == 4 and case["m2"] == -4 and case["training"]["steps"] == 2 and case["training"]["seconds"] > 0
    proposal = case["proposals"]["2"]
    assert proposal["cheap_in_trajectories"] == pytest.approx(proposal["cheap_seconds"] / case["hmc"]["seconds_per_trajectory"])
    assert 0 < proposal["ess_per_sample"] <= 1 and 0 <= proposal["mh_acceptance"] <= 1
    study = proposal["study"]
    assert study["proposal"]["label"] == "independence_mh" and study["plain"]["label"] == "plain_hmc"
    assert set(study["ratios"]) == {"abs_magnetisation", "action"}


def test_break_even_is_the_training_time_over_the_time_saved_per_effective_sample():
    # 10 s of training, 2 effective samples per second against 1: each sample saves 0.5 s, so 20 samples pay it back.
    assert flow_vs_hmc.break_even(10.0, 2.0, 1.0) == pytest.approx(20.0)
    assert flow_vs_hmc.break_even(10.0, 1.0, 2.0) is None and flow_vs_hmc.break_even(10.0, 0.0, 1.0) is None
