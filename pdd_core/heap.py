"""Keep freed memory on the C heap, so that sampling does not pay the kernel for it again and again.

glibc's malloc gives the top of its heap back to the kernel (``brk``) whenever more than a
threshold of it is free, and a tensor allocated after that faults its pages back in one by one.
Sampling with a path score (a forward and a backward pass through the network at every λ step)
allocates and frees tensors of the same sizes hundreds of times, so on CPU the kernel's share of
its time was 20-50 % (Lorenz-96 generation: 11 s of system time beside 35 s of user time, 1270
``brk`` calls and 4·10⁶ page faults; the Kolmogorov flow at 40² half of its CPU time).
``M_TOP_PAD`` makes every trim keep that much free memory at the top of the heap: the same work
then makes 18 ``brk`` calls and 2·10⁵ faults, and its system time falls to under 1 s
(docs/results.md, "Benchmarks"). Blocks above glibc's mmap threshold (at most 32 MiB) bypass the
heap: each is mapped fresh and faulted in page by page, and at 40² the network's activations are
such blocks (a Kolmogorov generation of 4 paths spent 99 s in the kernel beside 264 s of user time).
``M_MMAP_MAX = 0`` serves them from the heap too, where freed ones are reused (16 s of system time
there, its peak memory 11 % higher). The cost is that up to ``pad`` bytes of freed memory, and the
freed large blocks, stay with the process. Other C libraries (macOS, musl) are left alone.
"""

from __future__ import annotations

import ctypes
import platform

M_TOP_PAD = -2  # mallopt's parameter numbers (malloc.h)
M_MMAP_MAX = -4
TOP_PAD_BYTES = 2**30


def keep_freed_heap(pad: int = TOP_PAD_BYTES) -> bool:
    """Ask glibc's malloc to keep ``pad`` bytes of freed memory at the top of its heap and to serve large blocks from it; True where it did (glibc on Linux)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # a glibc without the usual name or symbol
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_TOP_PAD, pad) == 1 and mallopt(M_MMAP_MAX, 0) == 1


__all__ = ["TOP_PAD_BYTES", "keep_freed_heap"]
