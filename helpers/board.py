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

import shutil
import threading
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.tensorboard import SummaryWriter

from helpers import _folders, _locks, config
from helpers.errors import BoardError

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
EVENT_FILE = "events.out.tfevents."  # how TensorBoard names its event files
LOCK_WAIT = 120.0  # seconds open_writer waits for another process that is writing the same run

__all__ = ["LESSONS", "TOPICS", "BoardError", "GraphNode", "Histogram", "channel_grid",
           "event_files", "log_graph", "open_writer", "read_graph", "read_histograms",
           "read_images", "read_run", "read_scalars", "run_dir", "runs_being_written", "untile"]


def run_dir(topic: str, run: str = "main", root: Path | str | None = None) -> Path:
    """``<runs>/<topic>/<run>``, after checking both names are plain folder names."""
    for what, name in (("topic", topic), ("run", run)):
        if not _plain(name):
            raise BoardError(f"{what} name {name!r} must be a plain folder name (letters, digits,"
                             f" '_', '-', '.'; 中文 is fine), not a path.")
    return (config.runs_dir() if root is None else Path(root)) / topic / run


def _plain(name: str) -> bool:
    """Letters (any script), digits, '_', '-', '.'; not starting with '.', '_' or '-'."""
    return bool(name) and name[0].isalnum() and all(c.isalnum() or c in "_.-" for c in name)


def event_files(folder: Path | str) -> list[Path]:
    """The TensorBoard event files directly in a run folder, oldest name first."""
    folder = Path(folder)
    return sorted(folder.glob(f"{EVENT_FILE}*")) if folder.is_dir() else []


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


_held: dict[str, _LockedWriter] = {}  # run folder -> the open writer this process holds
_held_lock = threading.Lock()


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
    """Delete an old run, but only if everything in it is a TensorBoard event file."""
    events = set(event_files(folder))
    foreign = [p for p in folder.rglob("*") if p.is_file() and p not in events]
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


def read_images(folder: Path | str, tag: str, count: int | None = None
                ) -> list[tuple[int, torch.Tensor]]:
    """``(step, image)`` pairs of one image tag, in the order they were written.

    Each image is decoded from the PNG TensorBoard stored: ``(C, H, W)`` float in [0, 1],
    with ``C`` = 1 (grey), 3 (RGB) or 4 (RGBA), as ``writer.add_image`` received it up to the
    8-bit rounding of PNG. For a batch logged with ``writer.add_images`` give its ``count``:
    each step is then the batch again, ``(count, 3, H, W)`` (see :func:`untile`).
    """
    import io

    import numpy as np
    from PIL import Image

    found = []
    for event in _load(folder).Images(tag):
        pixels = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255
        found.append((event.step, image if count is None else untile(image, count)))
    return found


def untile(picture: torch.Tensor, count: int, per_row: int = 8) -> torch.Tensor:
    """Undo ``writer.add_images``: it draws a batch of ``count`` images as one picture, 8 per
    row with no gaps (grey images made RGB), ``(3, rows*H, cols*W)``; this cuts it back into
    ``(count, 3, H, W)``."""
    channels, height, width = picture.shape
    rows, cols = -(-count // per_row), min(count, per_row)
    if height % rows or width % cols:
        raise ValueError(f"a picture of {height}x{width} pixels is not {rows}x{cols} equal "
                         f"tiles: is {count} the number of images logged?")
    tiles = picture.reshape(channels, rows, height // rows, cols, width // cols)
    return tiles.permute(1, 3, 0, 2, 4).reshape(rows * cols, channels, height // rows,
                                                width // cols)[:count]


class Histogram(NamedTuple):
    """What TensorBoard keeps of a histogram: enough to check it against the tensor logged."""

    step: int
    min: float
    max: float
    count: int
    sum: float
    sum_squares: float


def read_histograms(folder: Path | str, tag: str) -> list[Histogram]:
    """The histograms of one tag (``writer.add_histogram``), in the order they were written."""
    return [Histogram(e.step, e.histogram_value.min, e.histogram_value.max,
                      int(e.histogram_value.num), e.histogram_value.sum,
                      e.histogram_value.sum_squares)
            for e in _load(folder).Histograms(tag)]


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


_loaded: dict[str, tuple[tuple, object]] = {}  # run folder -> (its event files' state, reader)


def _load(folder: Path | str):
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
            mine = str(self.folder) in _held
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
