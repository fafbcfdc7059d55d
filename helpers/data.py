"""One call for a lesson's images, whatever their source: ``load_dataset(train=...)``.

Sources, chosen by ``TORCHNN_DATA``:

- ``cifar10``: the real CIFAR-10, downloaded into ``data/`` (170 MB, once) and checked
  against the MD5 sums torchvision publishes;
- ``synthetic``: ten classes of drawn shapes (``helpers.synthetic``), no network, no files;
- ``auto`` (default): CIFAR-10 when it is in ``data/`` or can be downloaded, else synthetic,
  with one printed line that says why.

Both sources return the same kind of dataset: ``classes``, ``len()``, and ``ds[i] ->
(PIL image, label)`` like ``torchvision.datasets.CIFAR10``, so the same transforms and
``DataLoader`` work. Two ways to batch them:

- ``make_loader``: a plain ``torch.utils.data.DataLoader``, the way the source does it;
- ``InMemoryLoader``: the whole dataset decoded once into a ``uint8`` tensor, batches cut by
  indexing. Same numbers as ``DataLoader`` + ``lesson_transform()``, many times faster.

Under ``TORCHNN_FAST=1`` both use only the first ``fast_limit`` images.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pickle
import shutil
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset

from helpers import paths, synthetic
from helpers.errors import OneLineError
from helpers.session import fast_mode

SOURCES = ("auto", "cifar10", "synthetic")
PROBE_TIMEOUT = 3.0  # seconds `auto` waits to learn whether CIFAR-10 can be downloaded
DOWNLOAD_TIMEOUT = 30.0  # seconds without a byte before a download gives up

# The lesson's input scaling: ToTensor's [0, 1], then Normalize(0.5, 0.5) to [-1, 1].
# Centred inputs keep SGD with momentum stable on the tutorial's activation-free network.
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


class DataError(OneLineError, RuntimeError):
    """A data problem the user can fix; the message says how."""


@dataclass(frozen=True)
class Cifar10Spec:
    """Where CIFAR-10 comes from and what its files must hash to."""

    url: str
    archive: str
    archive_md5: str
    folder: str
    files: tuple[tuple[str, str], ...] = ()  # (file name, MD5) of every extracted file
    train_files: tuple[str, ...] = ()
    test_files: tuple[str, ...] = ()
    meta_file: str = "batches.meta"


# torchvision's own values (``torchvision.datasets.CIFAR10``; a test checks they agree), written
# out so that importing helpers.data does not import torchvision (2 s) for lessons without it.
CIFAR10 = Cifar10Spec(
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    archive="cifar-10-python.tar.gz",
    archive_md5="c58f30108f718f92721af3b95e74349a",
    folder="cifar-10-batches-py",
    files=(
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        ("test_batch", "40351d587109b95175f43aff81a1287e"),
        ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
    ),
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",),
    meta_file="batches.meta",
)


# --------------------------------------------------------------------------------------------
# Datasets


class ImageDataset(Dataset):
    """32x32 RGB images with integer labels, interface of ``torchvision.datasets.CIFAR10``.

    ``ds[i]`` returns ``(PIL.Image, int)``, transformed by ``transform`` / ``target_transform``.
    ``images(indices)`` returns the raw ``uint8`` array ``(n, 32, 32, 3)`` for fast batching.
    """

    classes: list[str]
    source: str

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
            _decoded[key] = _read_cifar10(prepare_cifar10(Path(root), spec), train, spec)
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


def source_setting() -> str:
    """``TORCHNN_DATA`` (default ``auto``), checked against :data:`SOURCES`."""
    value = os.environ.get("TORCHNN_DATA", "").strip().lower() or "auto"
    if value not in SOURCES:
        raise DataError(
            f"TORCHNN_DATA={value!r} is not a data source; use one of: {', '.join(SOURCES)}."
        )
    return value


def choose_source(setting: str | None = None, root: Path | None = None,
                  spec: Cifar10Spec = CIFAR10, timeout: float = PROBE_TIMEOUT) -> DataChoice:
    """Decide which source a setting means here; ``auto`` probes the network once per process."""
    setting = source_setting() if setting is None else setting
    if setting not in SOURCES:
        raise DataError(f"data source {setting!r} is unknown; use one of: {', '.join(SOURCES)}.")
    root = paths.data_dir() if root is None else Path(root)
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
    problem = _probe(spec.url, timeout)
    if problem is None:
        return DataChoice("cifar10", f"auto: not in {root} yet, will download it from {spec.url}",
                          will_download=True)
    return DataChoice(
        "synthetic",
        f"auto: CIFAR-10 is not in {root} and cannot be downloaded ({problem}); using the "
        f"synthetic set. For CIFAR-10, put {spec.archive} into {root} and restart.",
        fell_back=True,
    )


def _probe(url: str, timeout: float) -> str | None:
    """None when ``url`` answers within ``timeout`` seconds, else what went wrong.

    Runs in a thread because a DNS lookup ignores socket timeouts.
    """
    outcome: list[str | None] = []

    def ask() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"),
                                        timeout=timeout):
                outcome.append(None)
        except urllib.error.HTTPError as err:
            outcome.append(f"the server answered HTTP {err.code}")
        except (urllib.error.URLError, OSError, ValueError) as err:
            outcome.append(str(getattr(err, "reason", err)) or type(err).__name__)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


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
    root = paths.data_dir() if root is None else Path(root)
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
        _choices[(source or source_setting(), str(root), spec)] = fallback
        announce(fallback)
        return SyntheticShapes(train=train, transform=transform)


def prepare_cifar10(root: Path, spec: Cifar10Spec = CIFAR10, timeout: float = DOWNLOAD_TIMEOUT
                    ) -> Path:
    """Make sure ``root/<folder>`` holds good batch files: download and extract if needed.

    Never deletes a file it did not write; every failure is a :class:`DataError` that names
    the file and what to do.
    """
    root = Path(root)
    folder = root / spec.folder
    if folder.is_dir():
        _check_files(folder, spec)
        return folder
    _ensure_writable(root)
    with _locked(root / ".cifar10.lock"):
        if folder.is_dir():  # another process finished while we waited
            _check_files(folder, spec)
            return folder
        archive = root / spec.archive
        if archive.exists():
            if _md5(archive) != spec.archive_md5:
                raise DataError(
                    f"{archive} is incomplete or corrupt (its MD5 sum is wrong). Delete it and "
                    f"run again to download a fresh copy, or replace it with a good copy of "
                    f"{spec.url}."
                )
        else:
            download(spec.url, archive, spec.archive_md5, timeout)
        _extract(archive, root, spec.folder)
        _check_files(folder, spec)
    return folder


def download(url: str, dest: Path, md5: str, timeout: float = DOWNLOAD_TIMEOUT) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``; ``dest`` appears only when complete.

    A progress bar shows the bytes; the MD5 sum is checked before the final rename.
    """
    from tqdm.auto import tqdm

    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            digest = hashlib.md5()
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as err:
        part.unlink(missing_ok=True)
        reason = getattr(err, "reason", err)
        raise DataError(
            f"could not download {url} ({reason}). Put {dest.name} into {dest.parent} by hand "
            f"(from another machine) or set TORCHNN_DATA=synthetic."
        ) from None
    if digest.hexdigest() != md5:
        part.unlink(missing_ok=True)
        raise DataError(
            f"the download of {url} is incomplete or corrupt (MD5 sum mismatch). Run again to "
            f"retry, or put a good copy of {dest.name} into {dest.parent}."
        )
    part.replace(dest)
    return dest


def _extract(archive: Path, root: Path, folder: str) -> None:
    """Unpack into a private temporary folder, then move ``folder`` into place in one rename."""
    tmp = root / f".extract-{os.getpid()}"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        (tmp / folder).replace(root / folder)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(
            f"{archive} could not be unpacked ({err}). Delete it and run again to download a "
            f"fresh copy."
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_files(folder: Path, spec: Cifar10Spec) -> None:
    for name, md5 in spec.files:
        path = folder / name
        if not path.is_file():
            raise DataError(
                f"{path} is missing. Delete the folder {folder} and run again: it is unpacked "
                f"again from {spec.archive} (downloaded if needed)."
            )
        if _md5(path) != md5:
            raise DataError(
                f"{path} is corrupt (its MD5 sum is wrong). Delete the folder {folder} and run "
                f"again: it is unpacked again from {spec.archive} (downloaded if needed)."
            )


def _read_cifar10(folder: Path, train: bool, spec: Cifar10Spec):
    """Decode checked batch files: images ``(N, 32, 32, 3)`` uint8, labels, class names."""
    images, labels = [], []
    for name in spec.train_files if train else spec.test_files:
        batch = _unpickle(folder / name)
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch.get("labels") or batch["fine_labels"])
    meta = _unpickle(folder / spec.meta_file)
    classes = [c.decode() if isinstance(c, bytes) else c for c in meta["label_names"]]
    data = np.concatenate(images).transpose(0, 2, 3, 1).copy()  # (N, 32, 32, 3), like torchvision
    return data, np.asarray(labels, dtype=np.int64), classes


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            raw = pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise DataError(
            f"{path} cannot be read ({err}). Delete the folder {path.parent} and run again."
        ) from None
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _ensure_writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"the data folder {root} does not exist and cannot be created ({err.strerror}). "
            f"Create it, or point TORCHNN_DATA_DIR at a folder you can write to."
        ) from None
    if not os.access(root, os.W_OK):
        raise DataError(
            f"the data folder {root} is read-only, so CIFAR-10 cannot be downloaded or unpacked "
            f"there. Make it writable, point TORCHNN_DATA_DIR at a folder you can write to, or "
            f"set TORCHNN_DATA=synthetic."
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, so two notebooks never download at once."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# Batching


def lesson_transform():
    """``ToTensor()`` then ``Normalize(MEAN, STD)``: PIL image -> ``(3, 32, 32)`` in [-1, 1]."""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def fast_subset(dataset: Dataset, fast_limit: int | None, limit: int | None = None) -> Dataset:
    """The first ``limit`` items, or ``fast_limit`` under ``TORCHNN_FAST=1`` if that is fewer.

    Without either cap (``None``) it is the whole dataset.
    """
    caps = [c for c in (limit, fast_limit if fast_mode() else None) if c is not None]
    if not caps or len(dataset) <= min(caps):
        return dataset
    return Subset(dataset, range(min(caps)))


def make_loader(dataset: Dataset, batch_size: int = 64, shuffle: bool = False,
                drop_last: bool = False, fast_limit: int | None = 512, seed: int = 0,
                limit: int | None = None, **kwargs) -> DataLoader:
    """A ``DataLoader`` over ``dataset``, cut to ``fast_limit`` images under ``TORCHNN_FAST=1``.

    ``limit`` caps the number of images in every mode. Shuffling uses its own generator
    seeded with ``seed``, so the order is reproducible.
    """
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(fast_subset(dataset, fast_limit, limit), batch_size=batch_size,
                      shuffle=shuffle, drop_last=drop_last, generator=generator, **kwargs)


class InMemoryLoader:
    """Batches cut from one ``uint8`` tensor ``(N, 3, 32, 32)`` that holds the whole dataset.

    The images are decoded once; each batch is an index into that tensor, converted to float
    and normalised like :func:`lesson_transform` (the same operations, so the same numbers).
    With a CUDA ``device`` the tensor lives on the GPU, so batches never cross the bus.
    It holds the first ``limit`` images (all if ``None``), or ``fast_limit`` under
    ``TORCHNN_FAST=1`` if that is fewer.
    Iterating yields ``(images float32 (B, 3, 32, 32), labels int64 (B,))``.
    """

    def __init__(self, dataset: ImageDataset, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, fast_limit: int | None = 2048, seed: int = 0,
                 device: torch.device | str | None = None, normalize: bool = True,
                 limit: int | None = None):
        count = len(fast_subset(dataset, fast_limit, limit))
        index = np.arange(count)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.normalize = normalize
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        images = torch.from_numpy(dataset.images(index)).permute(0, 3, 1, 2).contiguous()
        self.images = images.to(self.device)  # (N, 3, 32, 32) uint8
        self.labels = torch.from_numpy(dataset.labels(index)).to(self.device)  # (N,) int64
        self._generator = torch.Generator().manual_seed(seed)
        mean = torch.tensor(MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(STD, device=self.device).view(1, 3, 1, 1)
        self._mean, self._std = mean, std

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


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo :func:`lesson_transform`'s ``Normalize``: values in [-1, 1] back to [0, 1].

    Works on one image ``(3, H, W)`` or a batch ``(N, 3, H, W)``.
    """
    mean = torch.tensor(MEAN, device=images.device).view(3, 1, 1)
    std = torch.tensor(STD, device=images.device).view(3, 1, 1)
    return (images * std + mean).clamp(0, 1)
