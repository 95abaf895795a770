"""One process owns an output folder: an OS file lock (``filelock``) held for the whole job.

``with output_lock(folder, "metamer generation"):`` takes ``<folder>/.hsi.lock`` without waiting; the
operating system releases it on any exit of the process (normal, exception, kill -9). A second process
stops at once with ``OutputLockedError`` naming the holder's PID, host, start time and command, read
from ``<folder>/.hsi.lock.json`` (written by the holder after it took the lock).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import sys
from pathlib import Path
from typing import Iterator

import filelock

from hsi.errors import ToolkitError

LOCK_NAME = ".hsi.lock"
LOCK_INFO_NAME = ".hsi.lock.json"


class OutputLockedError(ToolkitError):
    """The output folder is owned by another running process."""


class FolderNotWritableError(ToolkitError, PermissionError):
    """The output folder cannot be created or written."""


def _holder_description(folder: Path) -> str:
    try:
        info = json.loads((folder / LOCK_INFO_NAME).read_text())
    except (OSError, ValueError):
        return "another process (no holder record yet)"
    cmd = " ".join(info.get("command", []))[:200]
    return f"process {info.get('pid')} on host {info.get('host')} (since {info.get('started')}: {cmd})"


def ensure_writable_dir(folder: str | os.PathLike, what: str = "output") -> Path:
    """Create ``folder`` if needed and check that files can be written in it, before any work.

    Raises ``FolderNotWritableError`` naming the folder (and what it is for).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".hsi-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise FolderNotWritableError(f"{folder}: the {what} folder cannot be written ({exc.strerror or exc}); "
                                     "choose a writable folder or fix its permissions") from None
    return folder


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, what: str = "job") -> Iterator[Path]:
    """Hold the lock of ``folder`` (created if missing) for the body; refuse at once if it is held.

    Args:
        folder: the output folder (a generated variant, a training run, a validation run).
        what: what the job is, for the messages ("metamer generation", "training", ...).
    Raises:
        OutputLockedError: another process holds the folder (the message names it).
        FolderNotWritableError: the folder cannot be created or written.
    """
    folder = ensure_writable_dir(folder, what)
    lock = filelock.FileLock(str(folder / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise OutputLockedError(f"{folder} is in use by {_holder_description(folder)}; wait until that {what} "
                                "has finished, stop it, or write to another folder") from None
    info = folder / LOCK_INFO_NAME
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "what": what, "command": sys.argv,
                  "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        tmp = info.with_name(f"{info.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, info)
        yield folder
    finally:
        with contextlib.suppress(OSError):
            info.unlink()
        lock.release()
