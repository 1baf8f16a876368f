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


# In a fresh process: page faults per 128 MiB block (above glibc's largest mmap threshold, 32 MiB), with
# keep_freed_heap() at a 256 MiB pad, or with the pad alone (mallopt(M_TOP_PAD) only).
LARGE_PROBE = textwrap.dedent(
    """
    import ctypes, json, resource, sys, torch
    from pdd_core.heap import M_TOP_PAD, keep_freed_heap

    pad = 2**28
    kept = ctypes.CDLL("libc.so.6").mallopt(M_TOP_PAD, pad) == 1 if sys.argv[1] == "pad" else keep_freed_heap(pad)

    def block():
        torch.ones(2**25).sum()

    for _ in range(3):
        block()
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        block()
    print(json.dumps({"kept": kept, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 5}))
    """
)


def test_a_kept_heap_serves_blocks_above_the_mmap_threshold_without_refaulting_them():
    """A block above the mmap threshold is mapped afresh at every allocation (32768 pages of 128 MiB) unless malloc may not map
    it (M_MMAP_MAX = 0): then it comes from the heap, where the pad keeps it."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc: the heap is left alone")

    def probe(variant):
        return json.loads(subprocess.run([sys.executable, "-c", LARGE_PROBE, variant], capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout)

    pad_only, kept = probe("pad"), probe("kept")
    assert pad_only["kept"] and kept["kept"]
    assert pad_only["faults"] > 16000 and kept["faults"] < 1000, (pad_only, kept)  # 32769 against 0 measured
