"""What survives a crash and a second process: output locks, atomic writes, write errors in one line.

Every output of pdd (a dataset file, a run directory, an inference file) is written by one
process at a time, under an :class:`OutputLock`; files appear whole, by a rename of a
temporary name that is unique to the writing process (:func:`write_atomically`); and a full
disk, a read-only file system or a missing permission end the command with one line naming
the path, not with a traceback from deep inside HDF5 or torch (:func:`write_errors`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pdd_core.errors import DataError, PDDError, bad_argument

LOCK_SUFFIX = ".lock"
RUN_LOCK_NAME = ".lock"
REQUEST_FILE = "request.json"

# Write failures the user can fix, with the fix.
WRITE_ERRNOS = {
    errno.ENOSPC: ("the disk is full", "free space or choose another --out"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space or choose another --out"),
    errno.EACCES: ("permission denied", "choose a directory you can write to"),
    errno.EPERM: ("permission denied", "choose a directory you can write to"),
    errno.EROFS: ("the file system is read-only", "choose a writable --out"),
    errno.ENOTDIR: ("a component of the path is a file, not a directory", "pass a path inside a directory"),
}
# HDF5 reports the errno of a failed write inside its message, e.g. "errno = 28, error message = ...".
HDF5_ERRNO = re.compile(r"errno = (\d+)")


def temporary_name(path: Path) -> Path:
    """``.NAME.PID.tmp`` beside ``path``: two processes never share a temporary file."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_error_of(error: BaseException) -> int | None:
    """The errno of a write failure the user can fix (from an OSError or an HDF5 message), else None."""
    code = getattr(error, "errno", None)
    if code is None:
        match = HDF5_ERRNO.search(str(error))
        code = int(match.group(1)) if match else None
    return code if code in WRITE_ERRNOS else None


@contextlib.contextmanager
def write_errors(path: str | os.PathLike, what: str = "out", *, kept: str = "") -> Iterator[None]:
    """Turn a full disk, a read-only file system or a missing permission into one line naming ``path``.

    ``kept`` says what finished work survives (e.g. "re-run the same command to resume").
    Other errors pass through unchanged.
    """
    try:
        yield
    except PDDError:
        raise
    except (OSError, RuntimeError) as error:
        code = write_error_of(error)
        if code is None:
            raise
        problem, fix = WRITE_ERRNOS[code]
        raise bad_argument(what, str(path), f"cannot be written: {problem} ({errno.errorcode[code]})", fix + (f"; {kept}" if kept else ""), kind=DataError) from None


def describe_os_error(error: OSError) -> str:
    """One line for a file-system error that reached the command line: the path, the problem, the fix."""
    path = error.filename if error.filename is not None else "a file"
    code = write_error_of(error)
    if code is not None:
        problem, fix = WRITE_ERRNOS[code]
        return f"{path}: {problem} ({errno.errorcode[code]}). Fix: {fix}"
    return f"{path}: {error.strerror or error}. Fix: check the path and its permissions"


def fsync_directory(directory: Path) -> None:
    """Persist a rename in ``directory`` (POSIX); a no-op where directories cannot be opened."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def fsync_file(path: Path) -> None:
    """Flush a closed file to disk so that a rename after it survives a power cut."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary)``, flush it and rename it over ``path``: readers see the old file or the new one.

    The temporary name is unique to this process (:func:`temporary_name`) and removed on any
    failure. Callers wrap it in :func:`write_errors` to say what survives a failed write.
    """
    target = Path(path)
    temporary = temporary_name(target)
    try:
        write(temporary)
        fsync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)
    return target


def write_bytes_atomically(path: str | os.PathLike, data: bytes | memoryview) -> Path:
    """:func:`write_atomically` for content serialised in memory first (torch.save, an in-memory HDF5 file).

    Serialisers that write to disk themselves turn a full disk into opaque errors (torch:
    "unexpected pos"); plain writes of finished bytes fail with an OSError that names its errno.
    """
    return write_atomically(path, lambda temporary: temporary.write_bytes(data))


def json_record(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as JSON can hold it: tensors and NumPy scalars as plain floats, each NaN or infinity
    as ``None``, and the keys of those numbers (``a.b[2]``) listed under ``"non_finite"``.

    JSON has no NaN (``json.dumps`` would write a bare ``NaN`` that strict readers refuse). A result
    with an undefined number stays a result: the list says which numbers are missing and why.
    """
    values = json.loads(json.dumps(record, default=float))
    missing: list[str] = []

    def finite(value: Any, key: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            missing.append(key)
            return None
        if isinstance(value, dict):
            return {name: finite(item, f"{key}.{name}" if key else name) for name, item in value.items()}
        if isinstance(value, list):
            return [finite(item, f"{key}[{index}]") for index, item in enumerate(value)]
        return value

    values = finite(values, "")
    return {**values, "non_finite": missing} if missing else values


def write_json_atomically(path: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write ``record`` as indented JSON (:func:`json_record`: a NaN or infinity becomes null, listed under ``"non_finite"``)."""
    return write_bytes_atomically(path, (json.dumps(json_record(record), indent=2, allow_nan=False) + "\n").encode())


def check_output_file(path: str | os.PathLike, overwrite: bool, what: str = "out", example: str = "samples.h5") -> Path:
    """Refuse an output that is a directory, exists without ``overwrite``, is not a regular file, or lies under a file."""
    target = Path(path)
    if target.is_dir():
        raise bad_argument(what, str(target), "is a directory", f"pass a file name such as {example}", kind=DataError)
    if target.exists() and not overwrite:
        raise bad_argument(what, str(target), "already exists", "pass --overwrite (overwrite=True) to replace it, or choose another --out", kind=DataError)
    if target.exists() and not target.is_file():  # --overwrite replaces files, never a device node or a pipe
        raise bad_argument(what, str(target), "is not a regular file, so --overwrite may not replace it", f"pass a file name such as {example}", kind=DataError)
    check_parent(target, what)
    return target


def check_parent(path: Path, what: str = "out") -> None:
    """Refuse an output whose parent (or any ancestor) is a file, before any work is done."""
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise bad_argument(what, str(path), f"{ancestor} is a file, not a directory", "pass a path inside a directory", kind=DataError)
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise bad_argument(what, str(path), f"the directory {ancestor} is not writable", "choose a directory you can write to", kind=DataError)
            return


def open_work_directory(directory: Path, request: dict, overwrite: bool, *, command: str, what: str = "out") -> bool:
    """Create the work directory of an interrupted-and-resumable job, or claim the one it left.

    ``directory/request.json`` records what is being made. The same request resumes (returns
    True) after removing temporaries of dead processes (call it under the output's lock); another
    request is refused, or discarded with ``overwrite``. Only a directory holding a request is ever
    removed: anything else of that name is the user's and is left alone (a regular file only
    with ``overwrite``).
    """
    canonical = json.loads(json.dumps(request))
    request_file = directory / REQUEST_FILE
    if directory.is_dir() and request_file.is_file():
        try:
            previous = json.loads(request_file.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            previous = {}
        if previous == canonical:
            for leftover in directory.glob("*.tmp"):
                leftover.unlink()
            return True
        if not overwrite:
            differences = {key: (previous.get(key), canonical[key]) for key in canonical if previous.get(key) != canonical[key]}
            raise bad_argument(
                what,
                str(directory),
                f"holds an interrupted run of a different request (differs in {differences}, as (there, asked))",
                f"re-run the original command to finish it, or delete {directory} (or pass --overwrite) to start this one",
                kind=DataError,
            )
        shutil.rmtree(directory)
    elif directory.is_dir() or (directory.exists() and not directory.is_file()):
        raise bad_argument(
            what,
            str(directory),
            f"exists but was not made by `{command}` (it holds no {REQUEST_FILE})",
            "move it away or choose another --out; pdd deletes only what it created",
            kind=DataError,
        )
    elif directory.exists():
        if not overwrite:
            raise bad_argument(what, str(directory), "is a file of yours in the way of the work directory", "move it away, or pass --overwrite to delete it", kind=DataError)
        directory.unlink()
    directory.mkdir()
    write_atomically(request_file, lambda temporary: temporary.write_text(json.dumps(canonical, sort_keys=True, indent=1)))
    return False


@contextlib.contextmanager
def locked_directory(path: str | os.PathLike, what: str = "--out") -> Iterator[Path]:
    """Create the output directory ``path`` (refusing a file in the way) and hold its lock while in use."""
    directory = Path(path)
    check_parent(directory / RUN_LOCK_NAME, what)
    with write_errors(directory, what):
        directory.mkdir(parents=True, exist_ok=True)
    with OutputLock.for_directory(directory, what):
        yield directory


class OutputLock:
    """An exclusive lock on one output, held while a process writes it.

    The lock is ``flock`` on a small file (``FILE.lock`` beside a file, ``DIR/.lock`` inside a run
    directory) that holds the owner's pid and host. The kernel drops the lock when its process
    dies (``kill -9`` included), so a leftover lock file never blocks a re-run; a second writer
    fails at once with the owner named. Use as a context manager.
    """

    def __init__(self, lock_file: str | os.PathLike, output: str | os.PathLike, what: str = "out") -> None:
        self.lock_file = Path(lock_file)
        self.output = str(output)
        self.what = what
        self._handle: int | None = None

    @classmethod
    def for_file(cls, path: str | os.PathLike, what: str = "out") -> OutputLock:
        path = Path(path)
        return cls(path.with_name(path.name + LOCK_SUFFIX), path, what)

    @classmethod
    def for_directory(cls, directory: str | os.PathLike, what: str = "out") -> OutputLock:
        return cls(Path(directory) / RUN_LOCK_NAME, directory, what)

    def acquire(self) -> OutputLock:
        with write_errors(self.lock_file, self.what):
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            while True:
                handle = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    owner = os.pread(handle, 200, 0).decode(errors="replace").strip() or "unknown"
                    os.close(handle)
                    raise bad_argument(
                        self.what,
                        self.output,
                        f"is being written by another process ({owner})",
                        "wait for it to finish, or choose another --out",
                        kind=DataError,
                    ) from None
                # The previous owner may have removed the file between our open and flock: lock the live one.
                try:
                    same = os.fstat(handle).st_ino == os.stat(self.lock_file).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(handle)
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is None:
            return
        # Remove the file while still holding the lock, so that no one can lock a file that is gone.
        self.lock_file.unlink(missing_ok=True)
        os.close(self._handle)
        self._handle = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


__all__ = [
    "LOCK_SUFFIX",
    "describe_os_error",
    "json_record",
    "write_json_atomically",
    "OutputLock",
    "check_output_file",
    "check_parent",
    "fsync_directory",
    "fsync_file",
    "locked_directory",
    "open_work_directory",
    "temporary_name",
    "write_atomically",
    "write_bytes_atomically",
    "write_error_of",
    "write_errors",
]
