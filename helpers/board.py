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
(The locking, replacing and loading are machinery, in ``helpers/_runs.py``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.tensorboard import SummaryWriter

from helpers import _runs, config
from helpers._runs import LOCK_WAIT, event_files, runs_being_written
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
    return _runs.open_locked_writer(folder, wait)


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
    accumulator = _runs.load(folder)
    tags = accumulator.Tags()
    return {
        "images": sorted(tags["images"]),
        "scalars": sorted(tags["scalars"]),
        "histograms": sorted(tags["histograms"]),
        "graph": ["graph"] if tags["graph"] else [],
    }


def read_scalars(folder: Path | str, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` pairs of one scalar tag, in the order they were written."""
    return [(e.step, e.value) for e in _runs.load(folder).Scalars(tag)]


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
    for event in _runs.load(folder).Images(tag):
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
            for e in _runs.load(folder).Histograms(tag)]


class GraphNode(NamedTuple):
    """One node of a logged model graph, as TensorBoard's Graphs tab draws it."""

    name: str  # e.g. "CifarNet/Conv2d[0]/input.3": model box / module box / value
    op: str  # e.g. "aten::_convolution"; "IO Node" for inputs and outputs
    shapes: list[tuple[int, ...]]  # output shapes, e.g. [(64, 32, 32, 32)]


def read_graph(folder: Path | str) -> list[GraphNode]:
    """The nodes of the model graph in a run (``board.log_graph``), in data-flow order."""
    graph = _runs.load(folder).Graph()
    return [GraphNode(node.name, node.op, [tuple(d.size for d in shape.dim) for shape in
                                           node.attr["_output_shapes"].list.shape])
            for node in graph.node]
