"""One kind of lock between processes, from the ``filelock`` package (Linux, macOS, Windows).

Two things take turns through it:

- a TensorBoard run: a writer holds ``<topic>/.<run>.lock`` while it is open, a reader holds it
  for the moment it reads, so nobody reads or replaces a run another process is writing;
- the CIFAR-10 download: ``data/.cifar10.lock``, so two notebooks never download at once.

The holder writes its process id next to the lock (``<lock>.pid``) so that whoever waits can
say who it is waiting for. ``filelock`` picks the operating system's lock (``flock`` on Linux
and macOS, ``LockFileEx`` on Windows) and falls back to a marker file where there is none.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

POLL = 0.1  # seconds between attempts while another process holds a lock


class Held:
    """A lock this process holds; ``release()`` it (or leave the ``with`` block)."""

    def __init__(self, lock: FileLock, pid_file: Path):
        self._lock, self._pid_file = lock, pid_file

    def release(self) -> None:
        if self._lock is None:
            return
        with contextlib.suppress(OSError):
            self._pid_file.unlink(missing_ok=True)
        lock, self._lock = self._lock, None
        lock.release(force=True)

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(path: Path, wait: float, on_wait: Callable[[str], None] | None = None
            ) -> Held | None:
    """Take the lock at ``path``, waiting up to ``wait`` seconds for another holder.

    ``on_wait(holder)`` is called once, when the wait begins, with the holder's description
    (``" (pid 123)"`` or ``""``). Returns ``None`` when the wait ran out. Raises ``OSError``
    when the lock file cannot be created.
    """
    path = Path(path)
    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(holder(path))
        try:
            lock.acquire(timeout=wait, poll_interval=POLL)
        except Timeout:
            return None
    pid_file = _pid_file(path)
    with contextlib.suppress(OSError):
        pid_file.write_text(f"{os.getpid()}\n")
    return Held(lock, pid_file)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock at ``path`` for a ``with`` block, however long the holder takes."""
    with acquire(path, wait=-1):  # a negative wait never runs out, so this is never None
        yield


def is_held(path: Path) -> bool:
    """Whether another holder (another process, or another lock in this one) has ``path``."""
    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:
        return False
    lock.release(force=True)
    return False


def holder(path: Path) -> str:
    """``" (pid N)"`` for the process that holds ``path``, as it wrote it; ``""`` if unknown."""
    with contextlib.suppress(OSError, ValueError):
        pid = _pid_file(path).read_text().strip()
        if pid.isdigit():
            return f" (pid {pid})"
    return ""


def _pid_file(path: Path) -> Path:
    return path.with_name(path.name + ".pid")
