"""One call for a lesson's images, whatever their source: ``load_dataset(train=...)``.

Sources, chosen by ``TORCHNN_DATA``:

- ``cifar10``: the real CIFAR-10, downloaded into ``data/`` (170 MB, once) and checked
  against the MD5 sums torchvision publishes;
- ``synthetic``: ten classes of drawn shapes (``helpers.synthetic``), no network, no files;
- ``auto`` (default): CIFAR-10 when it is in ``data/`` or can be downloaded, else synthetic,
  with one printed line that says why.

Both sources return the same kind of dataset: ``classes``, ``len()``, and ``ds[i] ->
(PIL image, label)`` like ``torchvision.datasets.CIFAR10``, so the same transforms and
``DataLoader`` work. ``helpers.loaders`` batches them. (Downloading, checking and unpacking
CIFAR-10 is machinery, in ``helpers/_cifar10.py``.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from helpers import _cifar10, config, synthetic
from helpers._cifar10 import CIFAR10, Cifar10Spec, Problem
from helpers._cifar10 import prepare as prepare_cifar10
from helpers._cifar10 import problems as check_cifar10
from helpers.errors import DataError

SOURCES = config.SOURCES

# The lesson's input scaling: ToTensor's [0, 1], then Normalize(0.5, 0.5) to [-1, 1].
# Centred inputs keep SGD with momentum stable on the tutorial's activation-free network.
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)

__all__ = ["CIFAR10", "MEAN", "STD", "SOURCES", "Cifar10", "Cifar10Spec", "DataChoice",
           "DataError", "ImageDataset", "Problem", "SyntheticShapes", "check_cifar10",
           "choose_source", "denormalize", "lesson_transform", "load_dataset", "prepare_cifar10"]


class ImageDataset(Dataset):
    """32x32 RGB images with integer labels, interface of ``torchvision.datasets.CIFAR10``.

    ``ds[i]`` returns ``(PIL.Image, int)``, transformed by ``transform`` / ``target_transform``.
    ``images(indices)`` returns the raw ``uint8`` array ``(n, 32, 32, 3)`` for fast batching.
    """

    classes: list[str]
    source: str
    train: bool

    def __init__(self, transform: Callable | None = None, target_transform: Callable | None = None):
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        raise NotImplementedError

    def images(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def labels(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def data(self) -> np.ndarray:
        """Every image, ``(N, 32, 32, 3)`` uint8 (the attribute torchvision's CIFAR10 has)."""
        return self.images(np.arange(len(self)))

    @property
    def targets(self) -> list[int]:
        return self.labels(np.arange(len(self))).tolist()

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} images")
        index %= len(self)
        image = Image.fromarray(self.images([index])[0])
        label = int(self.labels([index])[0])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} images, classes={self.classes})"


_decoded: dict[tuple, tuple] = {}  # decoded CIFAR-10 splits, kept for the process


class Cifar10(ImageDataset):
    """CIFAR-10 from the extracted batch files in ``root/cifar-10-batches-py``."""

    source = "cifar10"

    def __init__(self, root: Path, train: bool, transform=None, target_transform=None,
                 spec: Cifar10Spec = CIFAR10):
        super().__init__(transform, target_transform)
        self.train = train
        key = (str(Path(root).resolve()), train, spec)
        if key not in _decoded:
            _decoded[key] = _cifar10.read(_cifar10.prepare(Path(root), spec), train, spec)
        self._images, self._labels, self.classes = _decoded[key]

    def __len__(self) -> int:
        return len(self._labels)

    def images(self, indices) -> np.ndarray:
        return self._images[np.asarray(indices)]

    def labels(self, indices) -> np.ndarray:
        return self._labels[np.asarray(indices)]


class SyntheticShapes(ImageDataset):
    """The synthetic stand-in: ``size`` images drawn on demand, deterministic for ``seed``."""

    source = "synthetic"
    classes = list(synthetic.CLASSES)

    def __init__(self, train: bool, transform=None, target_transform=None,
                 size: int | None = None, seed: int = 0):
        super().__init__(transform, target_transform)
        self.train = train
        self.size = size if size is not None else (50_000 if train else 10_000)
        self.seed = seed
        self._chunks: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.size

    def _chunk(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in self._chunks:
            split = "train" if self.train else "test"
            self._chunks[k] = synthetic.generate_chunk(self.seed, split, k)
        return self._chunks[k]

    def _gather(self, indices, part: int) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.size):
            raise IndexError(f"indices must lie in [0, {self.size})")
        chunk, offset = np.divmod(indices, synthetic.CHUNK)
        template = self._chunk(int(chunk[0]) if indices.size else 0)[part]
        out = np.empty((indices.size,) + template.shape[1:], dtype=template.dtype)
        for k in np.unique(chunk):
            rows = chunk == k
            out[rows] = self._chunk(int(k))[part][offset[rows]]
        return out

    def images(self, indices) -> np.ndarray:
        return self._gather(indices, 0)

    def labels(self, indices) -> np.ndarray:
        return self._gather(indices, 1)


# --------------------------------------------------------------------------------------------
# Choosing the source


@dataclass(frozen=True)
class DataChoice:
    source: str  # "cifar10" or "synthetic"
    reason: str  # one sentence for the user
    fell_back: bool = False  # True when `auto` wanted CIFAR-10 and could not have it
    will_download: bool = False  # True when `auto` chose CIFAR-10 that is not here yet


_choices: dict[tuple, DataChoice] = {}
_announced: set[tuple] = set()


def choose_source(setting: str | None = None, root: Path | None = None,
                  spec: Cifar10Spec = CIFAR10,
                  timeout: float = _cifar10.PROBE_TIMEOUT) -> DataChoice:
    """Decide which source a setting means here; ``auto`` probes the network once per process."""
    setting = config.data_source() if setting is None else setting
    if setting not in SOURCES:
        raise DataError(f"data source {setting!r} is unknown; use one of: {', '.join(SOURCES)}.")
    root = config.data_dir() if root is None else Path(root)
    key = (setting, str(root), spec)
    if key not in _choices:
        _choices[key] = _choose(setting, root, spec, timeout)
    return _choices[key]


def _choose(setting: str, root: Path, spec: Cifar10Spec, timeout: float) -> DataChoice:
    if setting == "synthetic":
        return DataChoice("synthetic", "TORCHNN_DATA=synthetic")
    if setting == "cifar10":
        return DataChoice("cifar10", "TORCHNN_DATA=cifar10")
    if (root / spec.folder).is_dir():
        return DataChoice("cifar10", f"auto: found {root / spec.folder}")
    if (root / spec.archive).is_file():
        return DataChoice("cifar10", f"auto: found {root / spec.archive}")
    problem = _cifar10.probe(spec.url, timeout)
    if problem is None:
        return DataChoice("cifar10", f"auto: not in {root} yet, will download it from {spec.url}",
                          will_download=True)
    return DataChoice(
        "synthetic",
        f"auto: CIFAR-10 is not in {root} and cannot be downloaded ({problem}); using the "
        f"synthetic set. For CIFAR-10, put {spec.archive} into {root} and restart.",
        fell_back=True,
    )


def announce(choice: DataChoice, already_printed: bool = False) -> None:
    """Print a fallback's reason once per process (``setup()`` prints it in its summary)."""
    key = (choice.source, choice.reason)
    if choice.fell_back and key not in _announced and not already_printed:
        print(choice.reason)
    _announced.add(key)


# --------------------------------------------------------------------------------------------
# Loading


def load_dataset(train: bool, transform: Callable | None = None, *, source: str | None = None,
                 root: Path | str | None = None, spec: Cifar10Spec = CIFAR10) -> ImageDataset:
    """The lesson's train or test split from the configured source.

    ``transform`` is applied to each PIL image, as in torchvision (e.g. ``ToTensor()``).
    ``source`` overrides ``TORCHNN_DATA`` for this call.
    """
    root = config.data_dir() if root is None else Path(root)
    choice = choose_source(source, root, spec)
    announce(choice)
    if choice.source == "synthetic":
        return SyntheticShapes(train=train, transform=transform)
    try:
        return Cifar10(root, train, transform, spec=spec)
    except DataError as err:
        if not choice.will_download:
            raise
        # `auto` reached the server but the download failed: fall back, saying why.
        fallback = DataChoice("synthetic", f"auto: {err} Using the synthetic set.", fell_back=True)
        _choices[(source or config.data_source(), str(root), spec)] = fallback
        announce(fallback)
        return SyntheticShapes(train=train, transform=transform)


def lesson_transform():
    """``ToTensor()`` then ``Normalize(MEAN, STD)``: PIL image -> ``(3, 32, 32)`` in [-1, 1]."""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo :func:`lesson_transform`'s ``Normalize``: values in [-1, 1] back to [0, 1].

    Works on one image ``(3, H, W)`` or a batch ``(N, 3, H, W)``.
    """
    mean = torch.tensor(MEAN, device=images.device).view(3, 1, 1)
    std = torch.tensor(STD, device=images.device).view(3, 1, 1)
    return (images * std + mean).clamp(0, 1)
