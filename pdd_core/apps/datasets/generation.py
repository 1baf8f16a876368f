"""Generate a dataset file from a :class:`~pdd_core.protocols.System`: resumable and reproducible.

Paths are drawn in chunks of ``chunk_paths`` samples. Chunk ``j`` of split ``s`` (``s`` = 0, 1,
2 for train, valid, test) uses its own generator,
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(s, j)))`` (equivalently
``SeedSequence(seed).spawn(3)[s].spawn(j + 1)[j]``), so every chunk is a function of
``(system, preset sizes, seed, chunk_paths, s, j)`` alone, whatever happened before it.

Crash safety: while running, ``OUT.h5.partial/`` holds ``request.json`` (what is being
generated) and one small HDF5 file per finished chunk, each written under a temporary name of
this process and renamed atomically, with a SHA-256 of its stored bytes that is checked before
the chunk is trusted. Re-running the same request (even after ``kill -9``) skips the finished
chunks. When all chunks exist the final file is built in a fixed order by copying the
compressed chunks verbatim, renamed to ``OUT.h5`` and the directory removed, so the file is
byte-identical to an uninterrupted run; the final file's existence means it is complete.
A second process asking for the same ``OUT.h5`` meanwhile is refused (``OUT.h5.lock``,
:class:`pdd_core.files.OutputLock`).
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from tqdm import tqdm

from pdd_core.apps.datasets.chunks import Chunk, assemble, chunk_is_complete, to_storage, write_chunk
from pdd_core.config import from_dict, to_dict
from pdd_core.data.hdf5_layout import (
    FORMAT_VERSION,
    PARTIAL_SUFFIX,
    SPLITS,
    DatasetMetadata,
    config_json,
)
from pdd_core.data.presets import DatasetPreset
from pdd_core.errors import ConfigError, PDDError, ShapeError, bad_argument
from pdd_core.files import OutputLock, check_output_file, fsync_directory, open_work_directory, temporary_name, write_errors
from pdd_core.protocols import System
from pdd_core.registry import SYSTEMS
from pdd_core.version import __version__

# A chunk of float64 frames in memory stays near this size (and bounds a chunk's batch).
CHUNK_TARGET_BYTES = 16 * 2**20
MAX_CHUNK_PATHS = 128
# Burn-in runs in blocks of frames that are discarded, so memory never grows with it.
MIN_BURN_IN_BLOCK = 16
BURN_IN_BAR_BLOCKS = 8

ChunkCallback = Callable[[str, int], None]


@attrs.frozen
class GenerationReport:
    """What :func:`generate_dataset` did: the file, its metadata and how much was resumed."""

    path: Path
    metadata: DatasetMetadata
    preset: DatasetPreset
    chunks_total: int
    chunks_resumed: int
    seconds: float
    bytes_on_disk: int


def resolve_preset(system_cls: type, preset: str | DatasetPreset) -> tuple[str, DatasetPreset]:
    """``(name, preset)`` for a preset name of ``system_cls.presets`` or a custom DatasetPreset."""
    if isinstance(preset, DatasetPreset):
        return "custom", preset
    presets = getattr(system_cls, "presets", {})
    if preset not in presets:
        raise bad_argument("preset", preset, f"{system_cls.__name__} has no such dataset preset", f"use one of {sorted(presets)}", kind=ConfigError)
    return preset, presets[preset]


def configure_system(system_cls: type, preset: str | DatasetPreset, settings: dict[str, Any] | None = None) -> System:
    """Build ``system_cls`` from its defaults, then the preset's overrides, then ``settings``.

    The merged parameters are structured with cattrs (:func:`pdd_core.config.from_dict`), so
    a wrong type or value is reported naming the parameter.
    """
    _, chosen = resolve_preset(system_cls, preset)
    settings = dict(settings or {})
    known = [field.alias for field in attrs.fields(system_cls)] if attrs.has(system_cls) else sorted(settings)
    for key, value in settings.items():
        if key not in known:
            raise bad_argument(f"parameter {key!r}", value, f"not a parameter of {system_cls.__name__}", f"use one of {known}", kind=ConfigError)
    return from_dict(system_cls, {**chosen.overrides, **settings})


def burn_in_frames(system: System) -> int:
    """round(burn_in / dt): the number of output intervals discarded before the first frame."""
    for name in ("dt", "burn_in"):
        value = getattr(system, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and (value > 0 if name == "dt" else value >= 0)):
            raise bad_argument(f"{type(system).__name__}.{name}", value, "must be a finite number (dt > 0, burn_in >= 0)", "fix the system's parameters")
    return round(system.burn_in / system.dt)


def stored_frames(system: System, n_frames: int) -> int:
    """T of the stored paths: ``n_frames``, or 1 for static systems (one sample per frame)."""
    return 1 if system.static else n_frames


def default_chunk_paths(system: System, n_frames: int) -> int:
    """Paths per chunk: about CHUNK_TARGET_BYTES of float64 frames, between 1 and MAX_CHUNK_PATHS."""
    grid = system.grid
    bytes_per_path = 8 * stored_frames(system, n_frames) * grid.channels * grid.n_points
    return max(1, min(MAX_CHUNK_PATHS, CHUNK_TARGET_BYTES // bytes_per_path))


def chunk_generator(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of chunk ``index`` of ``split``: a function of the key (seed, split, index) only."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), index)))


def draw_paths(system: System, n_paths: int, n_frames: int, rng: np.random.Generator, progress: bool = False) -> np.ndarray:
    """Draw ``n_paths`` samples, float64 ``[n_paths, T, C, *space]``.

    Dynamic systems: ``n_paths`` trajectories from ``initial_state``, burn-in of
    round(burn_in/dt) frames discarded, then ``n_frames`` frames (T = n_frames).
    Static systems: ceil(n_paths / k) independent chains with k = min(n_frames, n_paths), each
    burnt in and then giving k samples dt sweeps apart; each sample is its own path with
    T = 1, in frame-major order (sample i comes from chain i mod chains) so neighbours differ
    in chain. ``progress`` shows a bar for a long burn-in.
    """
    if not system.static:
        return _simulate(system, n_paths, n_frames, rng, progress)
    per_chain = min(n_frames, n_paths)
    chains = -(-n_paths // per_chain)
    frames = _simulate(system, chains, per_chain, rng, progress)
    samples = frames.swapaxes(0, 1).reshape(chains * per_chain, 1, *frames.shape[2:])
    return samples[:n_paths]


def _simulate(system: System, batch: int, n_frames: int, rng: np.random.Generator, progress: bool = False) -> np.ndarray:
    state = system.initial_state(batch, rng)
    remaining = burn_in_frames(system)
    block = max(n_frames, MIN_BURN_IN_BLOCK)
    # A long burn-in gets its own bar: without it a huge burn_in looks like a hang.
    with tqdm(total=remaining, unit="frame", desc="burn-in", file=sys.stderr, leave=False, disable=not progress or remaining <= BURN_IN_BAR_BLOCKS * block) as bar:
        while remaining > 0:
            _, state = system.advance(state, min(block, remaining), rng)
            bar.update(min(block, remaining))
            remaining -= min(block, remaining)
    frames, _ = system.advance(state, n_frames, rng)
    expected = (batch, n_frames, system.grid.channels, *system.grid.shape)
    if not isinstance(frames, np.ndarray) or frames.shape != expected:
        shape = getattr(frames, "shape", type(frames).__name__)
        raise bad_argument(
            f"{type(system).__name__}.advance(...) frames",
            shape,
            f"expected a NumPy array {expected} ([B, n_frames, C, *grid.shape])",
            "return only the saved frames in that layout",
            kind=ShapeError,
        )
    return frames


def plan_chunks(sizes: dict[str, int], chunk_paths: int) -> list[Chunk]:
    """The chunks of all splits in file order."""
    return [Chunk(split, index, min(chunk_paths, sizes[split] - start)) for split in SPLITS for index, start in enumerate(range(0, sizes[split], chunk_paths))]


def generate_dataset(
    system: System,
    preset: str | DatasetPreset,
    out_path: str | os.PathLike,
    seed: int,
    n_train: int | None = None,
    n_valid: int | None = None,
    n_test: int | None = None,
    progress: bool = True,
    chunk_paths: int | None = None,
    overwrite: bool = False,
    on_chunk: ChunkCallback | None = None,
) -> GenerationReport:
    """Generate the dataset file ``out_path`` (layout: :mod:`pdd_core.data.hdf5_layout`).

    Args:
        system: a registered system, already carrying the preset's parameter overrides
            (:func:`configure_system` builds it so).
        preset: a preset name of ``type(system).presets`` or a custom :class:`DatasetPreset`;
            gives the split sizes and ``n_frames`` (frames per path; samples per chain when static).
        seed: a non-negative integer; the file is a function of it (see the module docstring).
        n_train, n_valid, n_test: override the preset's split sizes (train >= 1, others >= 0).
        progress: show a tqdm bar on stderr.
        chunk_paths: samples per chunk (default :func:`default_chunk_paths`); part of the key.
        overwrite: replace an existing ``out_path`` and discard an unfinished generation into it
            that was made with a different request (a matching one is resumed either way).
        on_chunk: called as ``on_chunk(split, index)`` after each chunk is safely on disk.

    Returns a :class:`GenerationReport`.
    """
    started = time.perf_counter()
    if not isinstance(system, System):
        raise bad_argument(
            "system",
            type(system).__name__,
            "does not implement the System protocol (grid, dt, burn_in, static, initial_state, advance)",
            "pass a system from systems/ or your own System",
        )
    preset_name, chosen = resolve_preset(type(system), preset)
    system_name = SYSTEMS.name_of(type(system))
    _check_seed(seed)
    sizes, chunk_paths = _checked_sizes(system, chosen, (n_train, n_valid, n_test), chunk_paths)
    seed = int(seed)  # a plain int: it goes into JSON and HDF5 attributes

    target = Path(out_path)
    check_output_file(target, overwrite, "out_path", "data/lorenz96.h5")
    with OutputLock.for_file(target, "out_path"):
        check_output_file(target, overwrite, "out_path", "data/lorenz96.h5")  # another process may have finished it while we waited for nothing
        partial = target.with_name(target.name + PARTIAL_SUFFIX)
        canonical_config = json.loads(config_json(to_dict(system)))
        request = {
            "format_version": FORMAT_VERSION,
            "system": system_name,
            "config": canonical_config,
            "preset": preset_name,
            "seed": seed,
            "sizes": sizes,
            "n_frames": chosen.n_frames,
            "chunk_paths": chunk_paths,
        }
        resume_hint = f"the finished chunks stay in {partial}: re-run the same command to finish"
        with write_errors(target, "out_path", kept=resume_hint):
            open_work_directory(partial, request, overwrite, command="pdd data generate", what="out_path")
            chunks = plan_chunks(sizes, chunk_paths)
            out_frames = stored_frames(system, chosen.n_frames)
            done = {chunk for chunk in chunks if chunk_is_complete(partial / chunk.file_name, chunk, out_frames, system.grid)}
            _draw_missing(system, system_name, preset_name, chosen.n_frames, seed, partial, chunks, done, sizes, progress, on_chunk)
            provenance = {"seed": seed, "preset": preset_name, "chunk_paths": chunk_paths, "pdd_version": __version__}
            base = DatasetMetadata(system_name, canonical_config, float(system.dt), system.grid, (), (), {}, **provenance)
            _check_free_space(partial, chunks)
            assembly = temporary_name(partial / "assembled.h5")
            try:
                metadata = assemble(partial, assembly, chunks, out_frames, base)
                os.replace(assembly, target)
            except BaseException:
                assembly.unlink(missing_ok=True)
                raise
        fsync_directory(target.parent)
        shutil.rmtree(partial)
    return GenerationReport(target, metadata, chosen, len(chunks), len(done), time.perf_counter() - started, target.stat().st_size)


def _checked_sizes(system: System, chosen: DatasetPreset, overrides: tuple[int | None, ...], chunk_paths: int | None) -> tuple[dict[str, int], int]:
    """The split sizes (the preset's unless overridden) and paths per chunk, checked, as plain ints."""
    sizes = {split: getattr(chosen, f"n_{split}") if value is None else value for split, value in zip(SPLITS, overrides)}
    for split, minimum in zip(SPLITS, (1, 0, 0)):
        _check_count(f"n_{split}", sizes[split], minimum=minimum)
    _check_count("preset.n_frames", chosen.n_frames, minimum=1)
    chunk_paths = default_chunk_paths(system, chosen.n_frames) if chunk_paths is None else chunk_paths
    _check_count("chunk_paths", chunk_paths, minimum=1)
    burn_in_frames(system)
    # Plain ints from here on: they go into JSON and HDF5 attributes.
    return {split: int(n) for split, n in sizes.items()}, int(chunk_paths)


def _draw_missing(system, system_name, preset_name, n_frames, seed, partial, chunks, done, sizes, progress, on_chunk) -> None:
    """Draw and save every chunk not yet in ``done``, with a progress bar over paths."""
    with tqdm(
        total=sum(sizes.values()),
        initial=sum(chunk.n_paths for chunk in done),
        unit="path",
        desc=f"{system_name} ({preset_name})",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for chunk in chunks:
            if chunk not in done:
                bar.set_postfix_str(f"{chunk.split} chunk {chunk.index}")
                _generate_chunk(system, system_name, chunk, n_frames, seed, partial, progress)
                bar.update(chunk.n_paths)
                if on_chunk is not None:
                    on_chunk(chunk.split, chunk.index)


def _check_free_space(partial: Path, chunks: list[Chunk]) -> None:
    """Refuse to assemble onto a disk without room for it: HDF5 fails badly when a write runs out of space."""
    needed = sum((partial / chunk.file_name).stat().st_size for chunk in chunks)
    free = shutil.disk_usage(partial).free
    if free < needed + 2**20:
        raise OSError(errno.ENOSPC, f"{needed / 2**20:.1f} MiB needed, {free / 2**20:.1f} MiB free")


def _generate_chunk(system: System, system_name: str, chunk: Chunk, n_frames: int, seed: int, partial: Path, progress: bool) -> None:
    """Draw one chunk from its own generator and save it in ``partial``."""
    try:
        paths = draw_paths(system, chunk.n_paths, n_frames, chunk_generator(seed, chunk.split, chunk.index), progress)
        stored = to_storage(paths, system_name, chunk)
    except PDDError:
        # A bad shape or a blow-up recurs on every re-run of this request, so there is
        # nothing worth resuming: clear the way for a corrected command.
        shutil.rmtree(partial)
        raise
    write_chunk(partial / chunk.file_name, stored, system.grid)


def _check_seed(seed: Any) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise bad_argument("seed", seed, "must be an integer >= 0", "pass e.g. --seed 0")


def _check_count(name: str, value: Any, *, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", f"pass {name} >= {minimum}")


__all__ = [
    "Chunk",
    "GenerationReport",
    "burn_in_frames",
    "chunk_generator",
    "configure_system",
    "default_chunk_paths",
    "draw_paths",
    "generate_dataset",
    "plan_chunks",
    "resolve_preset",
]
