"""TensorBoard: one writer per lesson run, image grids of feature maps, and reading logs back.

Runs live in ``runs/<topic>/<run>/``. Opening a writer for a run that exists replaces it, so
re-running a notebook never piles a second copy of the same steps onto the first. What may be
removed is narrow on purpose:

- only ``<topic>/<run>`` for one of the collection's own :data:`TOPICS` (``open_writer``
  refuses any other topic, so a typo never creates a stray folder and nothing a learner logged
  elsewhere under ``runs/`` is ever touched);
- only a folder that holds nothing but TensorBoard event files.

A writer holds a lock on its run (``<topic>/.<run>.lock``) until it is closed, so two processes
logging the same run at once (two ``make run``, a notebook open in JupyterLab while
``make run`` executes it) take turns instead of mixing or deleting each other's events.
Re-opening a run in the same process (re-running a notebook cell) closes the earlier writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.tensorboard import SummaryWriter

from helpers import paths
from helpers.errors import OneLineError

# Each lesson notebook writes its runs under runs/<topic>/.
LESSONS = {
    "01_module": "module",
    "02_conv2d": "conv2d",
    "03_maxpool2d": "maxpool2d",
    "04_activations": "activations",
    "05_linear": "linear",
    "06_sequential": "sequential",
    "07_loss_backward": "loss",
    "08_optimizer": "optimizer",
}
TOPICS = tuple(LESSONS.values())
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EVENT_FILE = "events.out.tfevents."
LOCK_WAIT = 120.0  # seconds open_writer waits for another process that is writing the same run


class BoardError(OneLineError, RuntimeError):
    """A TensorBoard folder problem the user can fix; the message says how."""


def run_dir(topic: str, run: str = "main", root: Path | str | None = None) -> Path:
    """``<runs>/<topic>/<run>``, after checking both names are plain folder names."""
    for what, name in (("topic", topic), ("run", run)):
        if not _NAME.match(name):
            raise BoardError(f"{what} name {name!r} must be a plain folder name (letters, digits,"
                             f" '_', '-', '.'), not a path.")
    return (paths.runs_dir() if root is None else Path(root)) / topic / run


def open_writer(topic: str, run: str = "main", root: Path | str | None = None,
                wait: float = LOCK_WAIT) -> SummaryWriter:
    """A ``SummaryWriter`` for ``runs/<topic>/<run>``, replacing an earlier run of that name.

    ``topic`` must be one of :data:`TOPICS`; pick any ``run`` name inside it for your own
    experiments (``open_writer("conv2d", "my-try")``). Use it as a context manager
    (``with open_writer("conv2d") as writer:``) or call ``writer.close()``: that writes every
    event to disk and lets other processes log this run. If another process is writing the
    same run, this waits up to ``wait`` seconds for it to finish.
    """
    folder = run_dir(topic, run, root)
    if topic not in TOPICS:
        raise BoardError(
            f"{topic!r} is not one of the lessons' TensorBoard topics ({', '.join(TOPICS)}). "
            f"Use one of them, with a run name of your own for your experiments: "
            f"open_writer('conv2d', 'my-try')."
        )
    key = str(folder)
    with _held_lock:
        earlier = _held.get(key)
    if earlier is not None:  # this process wrote the run before (a re-run cell): finish that
        earlier.close()
    lock = _make_topic_folder(folder)
    handle = _acquire(lock, folder, wait)
    try:
        if folder.exists():
            _remove_run(folder)
        _make_writable_folder(folder)
        writer = _LockedWriter(log_dir=str(folder))
    except BaseException:
        _release(handle)
        raise
    writer._lock_handle = handle
    writer._lock_key = key
    with _held_lock:
        _held[key] = writer
    return writer


class _LockedWriter(SummaryWriter):
    """A ``SummaryWriter`` that releases its run's lock when closed."""

    _lock_handle = None
    _lock_key = ""

    def close(self) -> None:
        try:
            super().close()
        finally:
            handle, self._lock_handle = self._lock_handle, None
            if handle is not None:
                with _held_lock:
                    if _held.get(self._lock_key) is self:
                        del _held[self._lock_key]
                _release(handle)


_held: dict[str, _LockedWriter] = {}  # run folder -> the open writer this process holds
_held_lock = threading.Lock()


def _make_topic_folder(folder: Path) -> Path:
    """Create ``<runs>/<topic>`` if needed; return the run's lock file path inside it."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unwritable(folder, err) from None
    return _lock_path(folder)


def _lock_path(folder: Path) -> Path:
    """``<topic>/.<run>.lock``: the file a run's writer locks (and its readers share)."""
    return folder.parent / f".{folder.name}.lock"


def _make_writable_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise _unwritable(folder, err) from None


def _unwritable(folder: Path, err: OSError) -> BoardError:
    return BoardError(
        f"cannot write TensorBoard logs to {folder} ({err.strerror or err}). Make "
        f"{folder.parent.parent} writable or point TORCHNN_RUNS_DIR at a folder you can "
        f"write to."
    )


def _acquire(lock: Path, folder: Path, wait: float):
    """An exclusive ``flock`` on ``lock``, waiting up to ``wait`` seconds for its holder."""
    try:
        handle = open(lock, "a+")  # noqa: SIM115 (held until the writer is closed)
    except OSError as err:
        raise _unwritable(folder, err) from None
    def say_waiting():
        print(f"waiting for another process{_holder(handle)} that is writing {folder} ...",
              flush=True)

    if not _flock(handle, fcntl.LOCK_EX, wait, on_wait=say_waiting):
        holder = _holder(handle)
        handle.close()
        raise BoardError(
            f"{folder} is being written by another process{holder} (a notebook kernel or "
            f"`make run`). Let it finish, close its writer or restart that kernel, or log "
            f"under another run name."
        )
    with contextlib.suppress(OSError):
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    return handle


def _flock(handle, mode: int, wait: float, on_wait=None) -> bool:
    """Take ``flock`` ``mode`` on ``handle``, polling for up to ``wait`` seconds while another
    process holds it (``on_wait()`` is called once, when the wait begins). False on timeout."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if on_wait is not None:
                on_wait()
                on_wait = None
            time.sleep(0.1)


def runs_being_written(root: Path | str | None = None) -> list[str]:
    """``topic/run (pid N)`` for each run that a writer (in any process) holds open now."""
    root = paths.runs_dir() if root is None else Path(root)
    busy = []
    for lock in sorted(root.glob("*/.*.lock")):
        with contextlib.suppress(OSError), open(lock) as handle:
            if not _flock(handle, fcntl.LOCK_SH, wait=0):
                busy.append(f"{lock.parent.name}/{lock.name[1:-len('.lock')]}"
                            f"{_holder(handle)}")
    return busy


def _holder(handle) -> str:
    with contextlib.suppress(OSError, ValueError):
        handle.seek(0)
        pid = handle.read().strip()
        if pid.isdigit():
            return f" (pid {pid})"
    return ""


def _release(handle) -> None:
    with contextlib.suppress(OSError, ValueError):
        fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def _remove_run(folder: Path) -> None:
    """Delete an old run, but only if everything in it is a TensorBoard event file."""
    foreign = [p for p in folder.rglob("*") if p.is_file()
               and not (p.name.startswith(_EVENT_FILE) or p.name == ".write-test")]
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


def log_graph(writer: SummaryWriter, model: torch.nn.Module, example: torch.Tensor) -> None:
    """``writer.add_graph(model, example)`` without the tracer's deprecation warnings.

    TensorBoard's graph export traces the model with ``torch.jit.trace``, which PyTorch now
    marks deprecated; the graph it writes is still what the Graphs tab shows.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        writer.add_graph(model, example)


def channel_grid(fmap: torch.Tensor, max_images: int = 8, padding: int = 1) -> torch.Tensor:
    """Feature maps ``(N, C, H, W)`` with any ``C`` -> one displayable image ``(3, H', W')``.

    Each row is one image, each column one channel, shown as its own grey picture, min-max
    scaled on its own so that faint channels are still visible. A constant channel is black.
    Works for ``writer.add_image(tag, grid)`` and ``plt.imshow(grid.permute(1, 2, 0))``.
    """
    from torchvision.utils import make_grid

    if fmap.dim() != 4:
        raise ValueError(f"expected feature maps (N, C, H, W), got shape {tuple(fmap.shape)}")
    x = fmap[:max_images].detach().float().cpu()
    n, c, h, w = x.shape
    flat = x.reshape(n * c, 1, h, w)
    low = flat.amin(dim=(2, 3), keepdim=True)
    high = flat.amax(dim=(2, 3), keepdim=True)
    scaled = (flat - low) / (high - low).clamp_min(1e-12)
    return make_grid(scaled, nrow=c, padding=padding, pad_value=1.0)


def read_run(folder: Path | str) -> dict[str, list[str]]:
    """Tags in a run's event files, read with TensorBoard's own ``EventAccumulator``.

    Returns ``{"images": [...], "scalars": [...], "histograms": [...], "graph": ["graph"] or []}``.
    """
    accumulator = _load(folder)
    tags = accumulator.Tags()
    return {
        "images": sorted(tags["images"]),
        "scalars": sorted(tags["scalars"]),
        "histograms": sorted(tags["histograms"]),
        "graph": ["graph"] if tags["graph"] else [],
    }


def read_scalars(folder: Path | str, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` pairs of one scalar tag, in the order they were written."""
    return [(e.step, e.value) for e in _load(folder).Scalars(tag)]


class GraphNode(NamedTuple):
    """One node of a logged model graph, as TensorBoard's Graphs tab draws it."""

    name: str  # e.g. "CifarNet/Conv2d[0]/input.3": model box / module box / value
    op: str  # e.g. "aten::_convolution"; "IO Node" for inputs and outputs
    shapes: list[tuple[int, ...]]  # output shapes, e.g. [(64, 32, 32, 32)]


def read_graph(folder: Path | str) -> list[GraphNode]:
    """The nodes of the model graph in a run (``board.log_graph``), in data-flow order."""
    graph = _load(folder).Graph()
    return [GraphNode(node.name, node.op, [tuple(d.size for d in shape.dim) for shape in
                                           node.attr["_output_shapes"].list.shape])
            for node in graph.node]


def _load(folder: Path | str):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = Path(folder)
    with _reading(folder):
        if not folder.is_dir():
            raise BoardError(f"no TensorBoard run at {folder}")
        accumulator = EventAccumulator(str(folder), size_guidance={
            "images": 0, "scalars": 0, "histograms": 0, "tensors": 0})
        return accumulator.Reload()


@contextlib.contextmanager
def _reading(folder: Path, wait: float = LOCK_WAIT):
    """A shared lock on a run while it is read, so that no other process replaces it meanwhile.

    A reader waits for a writer in another process to close, then reads a complete run.
    Runs without a lock file (written without ``open_writer``, or in a read-only folder) and
    runs this process is writing itself are read without one.
    """
    lock = _lock_path(folder)
    with _held_lock:
        mine = str(folder) in _held
    try:
        handle = None if mine else open(lock)  # noqa: SIM115
    except OSError:
        handle = None
    if handle is None:
        yield
        return
    try:
        if not _flock(handle, fcntl.LOCK_SH, wait):
            raise BoardError(f"{folder} is being written by another process{_holder(handle)}; "
                             f"let it finish, then read it again.")
        yield
    finally:
        _release(handle)
