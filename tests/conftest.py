"""Shared test configuration: deterministic hypothesis profile, single-threaded torch."""

import os

import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1)
settings.register_profile("pdd", deadline=None, max_examples=int(os.environ.get("PDD_HYPOTHESIS_EXAMPLES", "25")), derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pdd")
