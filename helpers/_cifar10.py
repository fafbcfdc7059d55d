"""CIFAR-10's files: where they come from, downloading, checking and unpacking them.

Machinery behind ``helpers.data`` (a learner never needs to read it). Nothing here deletes a
file it did not write; every failure is a ``DataError`` that names the file and what to do.
:func:`problems` is the one check of the files on disk: the data errors and ``make doctor``
both use it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tarfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers import _folders, _locks
from helpers.errors import DataError

PROBE_TIMEOUT = 3.0  # seconds `auto` waits to learn whether CIFAR-10 can be downloaded
DOWNLOAD_TIMEOUT = 30.0  # seconds without a byte before a download gives up


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


@dataclass(frozen=True)
class Problem:
    """One thing wrong with CIFAR-10's files on disk: what, and what to do about it."""

    path: Path
    kind: str  # "missing" or "corrupt"
    what: str  # "<path> is missing"
    fix: str  # "Delete the folder ... and run again: ..."

    @property
    def message(self) -> str:
        return f"{self.what}. {self.fix}"


def problems(root: Path, spec: Cifar10Spec = CIFAR10) -> list[Problem]:
    """What is wrong with ``root``'s CIFAR-10: the archive (if present) and the unpacked folder
    (if present), each file against its MD5 sum. An empty list: nothing wrong."""
    root = Path(root)
    found = []
    archive, folder = root / spec.archive, root / spec.folder
    if archive.is_file() and _md5(archive) != spec.archive_md5:
        found.append(_corrupt_archive(archive, spec))
    if folder.is_dir():
        found.extend(_folder_problems(folder, spec))
    return found


def _folder_problems(folder: Path, spec: Cifar10Spec) -> list[Problem]:
    found = []
    fix = (f"Delete the folder {folder} and run again: it is unpacked again from "
           f"{spec.archive} (downloaded if needed).")
    for name, md5 in spec.files:
        path = folder / name
        if not path.is_file():
            found.append(Problem(path, "missing", f"{path} is missing", fix))
        elif _md5(path) != md5:
            found.append(Problem(path, "corrupt", f"{path} is corrupt (its MD5 sum is wrong)",
                                 fix))
    return found


def _corrupt_archive(archive: Path, spec: Cifar10Spec) -> Problem:
    return Problem(archive, "corrupt", f"{archive} is incomplete or corrupt (its MD5 sum is "
                   f"wrong)", f"Delete it and run again to download a fresh copy, or replace it "
                   f"with a good copy of {spec.url}.")


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """``None`` when ``url`` answers within ``timeout`` seconds, else what went wrong.

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
        except (OSError, ValueError) as err:  # URLError is an OSError
            outcome.append(str(getattr(err, "reason", err)) or type(err).__name__)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def prepare(root: Path, spec: Cifar10Spec = CIFAR10, timeout: float = DOWNLOAD_TIMEOUT) -> Path:
    """Make sure ``root/<folder>`` holds good batch files: download and extract if needed."""
    root = Path(root)
    folder = root / spec.folder
    if folder.is_dir():
        _check_once(folder, spec)
        return folder
    _ensure_writable(root)
    with _locks.locked(root / ".cifar10.lock"):
        if folder.is_dir():  # another process finished while we waited
            _check_once(folder, spec)
            return folder
        archive = root / spec.archive
        if archive.exists():
            if _md5(archive) != spec.archive_md5:
                raise DataError(_corrupt_archive(archive, spec).message)
        else:
            download(spec.url, archive, spec.archive_md5, timeout)
        _extract(archive, root, spec.folder)
        _check_once(folder, spec)
    return folder


def _raise_first(found: list[Problem]) -> None:
    if found:
        raise DataError(found[0].message)


# unpacked folder (resolved) and spec -> its files' (size, mtime) when they last hashed right
_verified: dict[tuple[str, Cifar10Spec], tuple] = {}


def _check_once(folder: Path, spec: Cifar10Spec) -> None:
    """``_folder_problems``, raised, but hashed once per process (the train and the test split
    both prepare): again only when a file's size or modification time has changed."""
    def stamp(path: Path) -> tuple[int, int] | None:
        try:
            info = path.stat()
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns

    key = (str(folder.resolve()), spec)
    state = tuple(stamp(folder / name) for name, _ in spec.files)
    if _verified.get(key) == state:
        return
    _raise_first(_folder_problems(folder, spec))
    _verified[key] = state


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
    except OSError as err:  # URLError (no connection, DNS, timeout) is an OSError
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


def read(folder: Path, train: bool, spec: Cifar10Spec = CIFAR10):
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
    if _folders.unwritable(root):
        raise DataError(
            f"the data folder {root} is read-only, so CIFAR-10 cannot be downloaded or unpacked "
            f"there. Make it writable, point TORCHNN_DATA_DIR at a folder you can write to, or "
            f"set TORCHNN_DATA=synthetic."
        )
