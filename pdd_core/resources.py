"""What a request may cost: its memory, estimated from the shapes before anything is allocated.

A command computes an estimate in bytes from the sizes it was given (shapes x dtype size x a
factor it documents) and calls :func:`check_memory` before its first large allocation. A request
over the limit is refused in one line naming the argument, the estimate, the limit and the fix,
instead of ending minutes later in an allocator traceback or taking the machine down.

The limit is :data:`AVAILABLE_FRACTION` of the memory this process can still get (the smallest of
the kernel's ``MemAvailable``, the cgroup's ``memory.max`` and the address-space rlimit), or what
``PDD_MAX_MEMORY`` / ``--max-memory`` say (``64GiB``, ``500MB``, a bare number is GiB).
docs/guarantees.md ("What a request may cost") lists the estimates of each command.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
import resource
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from pdd_core.errors import bad_argument

MEMORY_ENV = "PDD_MAX_MEMORY"
# Leave room for the interpreter, torch and whatever the estimate does not count.
AVAILABLE_FRACTION = 0.8
FLOAT32_BYTES, FLOAT64_BYTES = 4, 8
UNITS = {"": 2**30, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20}
UNITS |= {"g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))

# A --max-memory given on the command line; it wins over the environment for that command.
_OVERRIDE: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("pdd_max_memory", default=None)


@attrs.frozen
class MemoryLimit:
    """How many bytes a request may take, and where that number comes from (for the message)."""

    bytes: float
    source: str


def parse_memory(text: str, name: str = MEMORY_ENV) -> float:
    """``"64GiB"``, ``"500MB"``, ``"2.5"`` (GiB) -> bytes; a clear error naming ``name`` otherwise."""
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in UNITS or not float(match.group(1)) > 0:
        raise bad_argument(name, text, "expected a positive size such as 64GiB, 500MB or 16 (GiB)", f"pass e.g. {name}=64GiB" if name == MEMORY_ENV else f"pass e.g. {name} 64GiB")
    return float(match.group(1)) * UNITS[unit]


def format_bytes(count: float) -> str:
    """A byte count for people: ``'80.0 GB'``, ``'512.0 MB'``."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"


def available_memory() -> float:
    """The bytes this process can still allocate: the least of free RAM, its cgroup limit and its rlimit."""
    candidates = [_meminfo_available()]
    candidates += [_cgroup_limit(path) for path in CGROUP_LIMITS]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    candidates.append(float(soft) if soft != resource.RLIM_INFINITY else math.inf)
    return min(candidates)


def _meminfo_available() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    with contextlib.suppress(OSError, ValueError):
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return math.inf


def _cgroup_limit(path: Path) -> float:
    with contextlib.suppress(OSError, ValueError):
        return float(path.read_text().strip())  # "max" (no limit) raises ValueError
    return math.inf


def memory_limit() -> MemoryLimit:
    """The limit of :func:`check_memory`: ``--max-memory``, else ``PDD_MAX_MEMORY``, else a share of what is available."""
    override = _OVERRIDE.get()
    if override is not None:
        flag, text = override
        return MemoryLimit(parse_memory(text, flag), f"{flag} {text}")
    text = os.environ.get(MEMORY_ENV)
    if text is not None:
        return MemoryLimit(parse_memory(text), f"{MEMORY_ENV}={text}")
    available = available_memory()
    return MemoryLimit(AVAILABLE_FRACTION * available, f"{AVAILABLE_FRACTION:.0%} of the {format_bytes(available)} available")


@contextlib.contextmanager
def memory_limit_from(text: str | None, flag: str = "--max-memory") -> Iterator[None]:
    """Within the block, ``text`` (a size) is the limit; None leaves ``PDD_MAX_MEMORY``'s or the default.

    Either is checked on entry, so a mistyped limit is refused even by a command that allocates little.
    """
    token = _OVERRIDE.set(None if text is None else (flag, text))
    try:
        memory_limit()
        yield
    finally:
        _OVERRIDE.reset(token)


@attrs.frozen
class MemoryTerm:
    """One part of a request's memory: ``bytes``, the argument ``name``/``value`` that drives it, and
    ``what`` it holds, spelled as shapes x dtype size x factor so that the message shows the sum."""

    name: str
    value: Any
    bytes: float
    what: str


def check_memory(terms: Sequence[MemoryTerm]) -> None:
    """Refuse a request whose memory (the sum of ``terms``) exceeds :func:`memory_limit`, before it allocates.

    The message names the argument of the largest term, the estimate, what the term holds, the limit and the fix.
    """
    total = sum(term.bytes for term in terms)
    limit = memory_limit()
    if total > limit.bytes:
        largest = max(terms, key=lambda term: term.bytes)
        share = "" if largest.bytes == total else f", {format_bytes(largest.bytes)} of it"
        raise bad_argument(
            largest.name,
            largest.value,
            f"the request needs about {format_bytes(total)} of memory{share} for {largest.what}, more than the limit of {format_bytes(limit.bytes)} ({limit.source})",
            f"make {largest.name} smaller, or raise the limit with --max-memory SIZE or {MEMORY_ENV}=SIZE (e.g. 64GiB) if the machine holds it",
        )


__all__ = ["AVAILABLE_FRACTION", "FLOAT32_BYTES", "FLOAT64_BYTES", "MEMORY_ENV", "MemoryLimit", "MemoryTerm", "available_memory", "check_memory", "format_bytes", "memory_limit", "memory_limit_from", "parse_memory"]
