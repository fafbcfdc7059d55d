"""Machinery behind ``helpers.board``: a run's folder, its lock, replacing it, reading it whole.

A learner never needs to read this. A writer holds ``<topic>/.<run>.lock`` (``_locks``) from
the moment it opens the run until it is closed; a reader holds it while it reads, so nobody
reads or replaces a run another process is writing. A run is replaced only when everything in
it is a TensorBoard event file (``add_scalars`` and ``add_hparams`` write theirs in subfolders).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from helpers import _folders, _locks, config
from helpers.errors import BoardError

EVENT_FILE = "events.out.tfevents."  # how TensorBoard names its event files
LOCK_WAIT = 120.0  # seconds open_writer waits for another process that is writing the same run


def event_files(folder: Path | str) -> list[Path]:
    """The TensorBoard event files directly in a run folder, oldest name first.

    These are what TensorBoard's reader (and so ``board.read_*``) reads for the run. The
    subfolders that ``add_scalars`` and ``add_hparams`` write are runs of their own to
    TensorBoard, so their event files are not listed.
    """
    folder = Path(folder)
    return sorted(folder.glob(f"{EVENT_FILE}*")) if folder.is_dir() else []


def open_locked_writer(folder: Path, wait: float = LOCK_WAIT) -> SummaryWriter:
    """A writer for the run ``folder``, holding its lock; an earlier run there is replaced."""
    key = _key(folder)
    with _held_lock:
        earlier = _held.get(key)
    if earlier is not None:  # this process wrote the run before (a re-run cell): finish that
        earlier.close()
    held = _lock_run(folder, wait)
    try:
        if folder.exists():
            _remove_run(folder)
        _make_writable_folder(folder)
        writer = _LockedWriter(log_dir=str(folder))
    except BaseException:
        held.release()
        raise
    writer._held_run = held
    writer._run_key = key
    with _held_lock:
        _held[key] = writer
    return writer


class _LockedWriter(SummaryWriter):
    """A ``SummaryWriter`` that releases its run's lock when closed."""

    _held_run: _locks.Held | None = None
    _run_key = ""

    def close(self) -> None:
        try:
            super().close()
        finally:
            held, self._held_run = self._held_run, None
            if held is not None:
                with _held_lock:
                    if _held.get(self._run_key) is self:
                        del _held[self._run_key]
                held.release()


_held: dict[str, _LockedWriter] = {}  # run folder (_key) -> the open writer this process holds
_held_lock = threading.Lock()


def _key(folder: Path) -> str:
    """One spelling of a run folder (absolute, symlinks resolved) for the table above."""
    return str(Path(folder).resolve())


def _lock_path(folder: Path) -> Path:
    """``<topic>/.<run>.lock``: the file a run's writer (and, briefly, its readers) holds."""
    return folder.parent / f".{folder.name}.lock"


def _lock_run(folder: Path, wait: float) -> _locks.Held:
    """Hold the run's lock, creating ``<runs>/<topic>`` if needed; wait up to ``wait`` s."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unwritable(folder, err.strerror or str(err)) from None

    def say_waiting(holder: str) -> None:
        print(f"waiting for another process{holder} that is writing {folder} ...", flush=True)

    lock = _lock_path(folder)
    try:
        held = _locks.acquire(lock, wait, on_wait=say_waiting)
    except OSError as err:
        raise _unwritable(folder, err.strerror or str(err)) from None
    if held is None:
        raise BoardError(
            f"{folder} is being written by another process{_locks.holder(lock)} (a notebook "
            f"kernel or `make run`). Let it finish, close its writer or restart that kernel, or "
            f"log under another run name."
        )
    return held


def _make_writable_folder(folder: Path) -> None:
    why = _folders.unwritable(folder, create=True)
    if why:
        raise _unwritable(folder, why)


def _unwritable(folder: Path, why: str) -> BoardError:
    return BoardError(
        f"cannot write TensorBoard logs to {folder} ({why}). Make {folder.parent.parent} "
        f"writable or point TORCHNN_RUNS_DIR at a folder you can write to."
    )


def runs_being_written(root: Path | str | None = None) -> list[str]:
    """``topic/run (pid N)`` for each run that a writer (in any process) holds open now."""
    root = config.runs_dir() if root is None else Path(root)
    return [f"{lock.parent.name}/{lock.name[1:-len('.lock')]}{_locks.holder(lock)}"
            for lock in sorted(root.glob("*/.*.lock")) if _locks.is_held(lock)]


def _remove_run(folder: Path) -> None:
    """Delete an old run, subfolders included, but only if everything in it is a TensorBoard
    event file (``add_scalars`` and ``add_hparams`` write theirs in subfolders)."""
    foreign = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(EVENT_FILE)]
    if foreign:
        raise BoardError(
            f"{folder} holds files that TensorBoard did not write (e.g. {foreign[0].name}), so "
            f"it is left alone. Move them elsewhere, or log under another run name."
        )
    try:
        shutil.rmtree(folder)
    except OSError as err:
        raise BoardError(
            f"cannot replace the old run in {folder} ({err.strerror}). Make it writable, or "
            f"delete it by hand."
        ) from None


_loaded: dict[str, tuple[tuple, object]] = {}  # run folder -> (its event files' state, reader)


def load(folder: Path | str):
    """TensorBoard's reader for a run, loaded once and kept while its event files stay the
    same (name, size, time), so that several reads of one run cost one load."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = Path(folder)
    with _reading(folder):
        if not folder.is_dir():
            raise BoardError(f"no TensorBoard run at {folder}")
        state = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                      for p in event_files(folder))
        key = str(folder.resolve())
        if key in _loaded and _loaded[key][0] == state:
            return _loaded[key][1]
        accumulator = EventAccumulator(str(folder), size_guidance={
            "images": 0, "scalars": 0, "histograms": 0, "tensors": 0}).Reload()
        if len(_loaded) >= 16:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = (state, accumulator)
        return accumulator


class _reading:
    """Hold a run's lock while it is read, so that no other process replaces it meanwhile.

    A reader waits for a writer in another process to close, then reads a complete run.
    Runs without a lock file (written without ``open_writer``, or in a read-only folder) and
    runs this process is writing itself are read without it.
    """

    def __init__(self, folder: Path, wait: float = LOCK_WAIT):
        self.folder, self.wait, self.held = folder, wait, None

    def __enter__(self):
        lock = _lock_path(self.folder)
        with _held_lock:
            mine = _key(self.folder) in _held
        if mine or not lock.is_file():
            return self
        try:
            self.held = _locks.acquire(lock, self.wait)
        except OSError:  # a read-only folder: nobody can be writing there
            return self
        if self.held is None:
            raise BoardError(f"{self.folder} is being written by another process"
                             f"{_locks.holder(lock)}; let it finish, then read it again.")
        return self

    def __exit__(self, *exc) -> None:
        if self.held is not None:
            self.held.release()
