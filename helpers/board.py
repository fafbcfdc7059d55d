"""TensorBoard: one writer per lesson run, image grids of feature maps, and reading logs back.

Runs live in ``runs/<topic>/<run>/``. Opening a writer for a run that exists replaces it, so
re-running a notebook never piles a second copy of the same steps onto the first. Only
folders that hold nothing but TensorBoard event files are ever removed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

from helpers import paths

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


class BoardError(RuntimeError):
    """A TensorBoard folder problem the user can fix; the message says how."""


def run_dir(topic: str, run: str = "main", root: Path | str | None = None) -> Path:
    """``<runs>/<topic>/<run>``, after checking both names are plain folder names."""
    for what, name in (("topic", topic), ("run", run)):
        if not _NAME.match(name):
            raise BoardError(f"{what} name {name!r} must be a plain folder name (letters, digits,"
                             f" '_', '-', '.'), not a path.")
    return (paths.runs_dir() if root is None else Path(root)) / topic / run


def open_writer(topic: str, run: str = "main", root: Path | str | None = None) -> SummaryWriter:
    """A ``SummaryWriter`` for ``runs/<topic>/<run>``, replacing an earlier run of that name.

    Use it as a context manager (``with open_writer("conv2d") as writer:``) or call
    ``writer.close()`` so every event reaches the disk.
    """
    folder = run_dir(topic, run, root)
    if folder.exists():
        _remove_run(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise BoardError(
            f"cannot write TensorBoard logs to {folder} ({err.strerror}). Make "
            f"{folder.parent.parent} writable or point TORCHNN_RUNS_DIR at a folder you can "
            f"write to."
        ) from None
    return SummaryWriter(log_dir=str(folder))


def _remove_run(folder: Path) -> None:
    """Delete an old run, but only if everything in it is a TensorBoard event file."""
    foreign = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(_EVENT_FILE)]
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


def _load(folder: Path | str):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = Path(folder)
    if not folder.is_dir():
        raise BoardError(f"no TensorBoard run at {folder}")
    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0,
                                                               "histograms": 0, "tensors": 0})
    return accumulator.Reload()
