"""The kept heap: a forward and backward pass repeated, as in sampling with a path score, stops faulting its memory back in."""

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

# In a fresh process (malloc's state is the process's): page faults per forward-backward pass of a
# small convolutional network, before and after keep_freed_heap().
PROBE = textwrap.dedent(
    """
    import json, resource, torch
    from pdd_core.heap import keep_freed_heap

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv1d(2, 64, 5, padding=2), torch.nn.GELU(), torch.nn.Conv1d(64, 2, 5, padding=2))
    x = torch.randn(16, 2, 1024)

    def faults_per_pass(passes=10):
        for _ in range(3):  # let malloc settle on its thresholds
            (net(x.clone().requires_grad_(True)) ** 2).sum().backward()
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(passes):
            (net(x.clone().requires_grad_(True)) ** 2).sum().backward()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / passes

    before = faults_per_pass()
    kept = keep_freed_heap()
    print(json.dumps({"before": before, "kept": kept, "after": faults_per_pass()}))
    """
)


def test_a_kept_heap_stops_refaulting_the_memory_of_each_pass():
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc: the heap is left alone")
    result = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout)
    assert result["kept"]
    # Each pass frees and reallocates ~10 MiB of activations: ~2500 pages faulted back in without the pad.
    assert result["before"] > 1000 and result["after"] < result["before"] / 5, result  # 0-180 against ~3200 measured
