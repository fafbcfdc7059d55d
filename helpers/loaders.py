"""Batches of a dataset: the source's ``DataLoader`` way, and a faster in-memory way.

- :func:`make_loader`: a plain ``torch.utils.data.DataLoader``, the way the source does it;
- :class:`InMemoryLoader`: the whole dataset decoded once into a ``uint8`` tensor, batches cut
  by indexing. Same numbers as ``DataLoader`` + ``lesson_transform()``, many times faster.

Both take one sizing knob, ``limit``: how many images (the first ones) to use. Left at
``None`` it means the whole dataset, or ``config.FAST_LIMIT`` (2048) images under
``TORCHNN_FAST=1``, so CI runs every lesson on a small subset. A lesson that wants other sizes
says so in both modes: ``limit=settings.choose(full=20_000, fast=1_024)``. ``InMemoryLoader``
also takes a ``start``: it then holds ``limit`` images from image ``start`` on (the same
default counted from there), e.g. a validation split right after the images trained on.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from helpers import config
from helpers.data import MEAN, STD, ImageDataset


def image_count(dataset: Dataset, limit: int | None = None, start: int = 0) -> int:
    """How many images a loader with this ``limit`` uses from image ``start`` on (see the
    module's docstring). A ``start`` outside the dataset is a ``ValueError``."""
    if not 0 <= start < len(dataset):
        raise ValueError(
            f"start={start} is outside the dataset, which holds {len(dataset)} images "
            f"(0 to {len(dataset) - 1}): start must be one of them."
        )
    available = len(dataset) - start
    if limit is None and config.fast_mode():
        limit = config.FAST_LIMIT
    return available if limit is None else min(limit, available)


def make_loader(dataset: Dataset, batch_size: int = 64, shuffle: bool = False,
                drop_last: bool = False, limit: int | None = None, seed: int = 0,
                **kwargs) -> DataLoader:
    """A ``DataLoader`` over the first ``limit`` images of ``dataset`` (see the module's
    docstring for ``None``). Shuffling uses its own generator seeded with ``seed``, so the
    order is reproducible. ``num_workers`` stays 0 unless you pass it (Windows and notebooks
    need worker processes to be importable, and these datasets are fast to read).
    """
    count = image_count(dataset, limit)
    subset = dataset if count == len(dataset) else Subset(dataset, range(count))
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(subset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      generator=generator, **kwargs)


class InMemoryLoader:
    """Batches cut from one ``uint8`` tensor ``(N, 3, 32, 32)`` that holds the whole dataset.

    The images are decoded once; each batch is an index into that tensor, converted to float
    and normalised like ``data.lesson_transform()`` (the same operations, so the same numbers).
    It therefore refuses a dataset that carries a ``transform`` (it would be ignored): pass the
    dataset without one. With a CUDA ``device`` the tensor lives on the GPU, so batches never
    cross the bus. It holds the first ``limit`` images (see the module's docstring for
    ``None``). Iterating yields ``(images float32 (B, 3, 32, 32), labels int64 (B,))``.

    With ``start`` it holds images ``start``, ``start + 1``, ... instead (``limit`` of them, or
    the same default counted from ``start``), so a validation split can be taken from the
    training images right after those trained on:
    ``InMemoryLoader(train_set, start=6_400, limit=1_000)`` holds training images 6,400 to
    7,399, and ``InMemoryLoader(train_set, limit=6_400)`` the 6,400 before them.
    """

    def __init__(self, dataset: ImageDataset, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, limit: int | None = None, seed: int = 0,
                 device: torch.device | str | None = None, normalize: bool = True,
                 start: int = 0):
        if getattr(dataset, "transform", None) is not None or getattr(
                dataset, "target_transform", None) is not None:
            raise ValueError(
                "InMemoryLoader converts and normalises the images itself and would ignore the "
                "dataset's transform; load the dataset without one (load_dataset(train=...)), "
                "or use make_loader for a dataset with a transform."
            )
        index = np.arange(start, start + image_count(dataset, limit, start))
        self.dataset = dataset
        self.start = start
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.normalize = normalize
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        images = torch.from_numpy(dataset.images(index)).permute(0, 3, 1, 2).contiguous()
        self.images = images.to(self.device)  # (N, 3, 32, 32) uint8
        self.labels = torch.from_numpy(dataset.labels(index)).to(self.device)  # (N,) int64
        self._generator = torch.Generator().manual_seed(seed)
        self._mean = torch.tensor(MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(STD, device=self.device).view(1, 3, 1, 1)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = None
        if self.shuffle:  # a new order every epoch, moved to the device once, not per batch
            order = torch.randperm(n, generator=self._generator).to(self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            if order is None:
                rows = slice(start, min(start + self.batch_size, n))
            else:
                rows = order[start:start + self.batch_size]
            x = self.images[rows].float().div_(255)
            if self.normalize:
                x = x.sub_(self._mean).div_(self._std)
            yield x, self.labels[rows]
