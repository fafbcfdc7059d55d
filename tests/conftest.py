"""Fixtures: a tiny CIFAR-10-format archive and a local HTTP server that serves it."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import pickle
import socket
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from helpers.data import Cifar10Spec

FAKE_CLASSES = [f"class{k}" for k in range(10)]

# Windows, as far as a POSIX machine can play it: a prelude for `python -c` that takes away the
# POSIX-only modules and process-group calls (tests/test_platforms.py, tests/test_runner.py).
# signal.SIGKILL stays: the standard library's own POSIX code (Popen.kill) needs it here, and
# on Windows it takes another branch; tests/test_platforms.py checks that our code never names it.
POSIX_ONLY_MODULES = ("fcntl", "termios", "resource", "pwd", "grp")


def windows_like(modules: tuple[str, ...] = POSIX_ONLY_MODULES) -> str:
    """The prelude, making ``modules`` unimportable."""
    return f"""
import sys
for name in {modules!r}:
    sys.modules[name] = None  # `import fcntl` now raises ImportError, as on Windows
import os
for name in ("killpg", "getpgid"):
    if hasattr(os, name):
        delattr(os, name)
"""
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class FakeCifar:
    """A CIFAR-10-format archive with 4 images per batch file, and its spec."""

    archive_bytes: bytes
    files: dict[str, bytes]
    images: dict[str, np.ndarray]  # batch file -> (4, 3, 32, 32) uint8
    labels: dict[str, list[int]]

    def spec(self, url: str) -> Cifar10Spec:
        return Cifar10Spec(
            url=url,
            archive="cifar-10-python.tar.gz",
            archive_md5=md5(self.archive_bytes),
            folder="cifar-10-batches-py",
            files=tuple((name, md5(data)) for name, data in self.files.items()),
            train_files=TRAIN_FILES,
            test_files=("test_batch",),
            meta_file="batches.meta",
        )


@pytest.fixture(scope="session")
def fake_cifar() -> FakeCifar:
    rng = np.random.default_rng(0)
    files, images, labels = {}, {}, {}
    for i, name in enumerate(TRAIN_FILES + ("test_batch",)):
        imgs = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
        labs = [(i + j) % 10 for j in range(4)]
        images[name], labels[name] = imgs, labs
        batch = {b"batch_label": name.encode(), b"labels": labs, b"data": imgs.reshape(4, -1)}
        files[name] = pickle.dumps(batch)
    files["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in FAKE_CLASSES]})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return FakeCifar(buffer.getvalue(), files, images, labels)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_dir(tmp_path):
    """(folder, base_url): a real HTTP server on 127.0.0.1 serving ``folder``."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: the connection is refused, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"


@pytest.fixture
def fresh_choices():
    """Forget the per-process data-source decisions, before and after a test."""
    from helpers import data

    data._choices.clear()
    data._announced.clear()
    data._decoded.clear()
    yield
    data._choices.clear()
    data._announced.clear()
    data._decoded.clear()


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def make_notebook(path: Path, cells: list[str]) -> bytes:
    """Write a notebook of code ``cells`` for the ``python3`` kernel; return its bytes."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path.read_bytes()


NOTEBOOK_WAIT = 1800  # seconds a test waits for another xdist worker's nbval run of a notebook


def _marker(path: Path) -> str:
    """As the root conftest names a notebook's marker: ``01_module``, ``zh.01_module``."""
    return path.stem if path.parent.name == "notebooks" else f"{path.parent.name}.{path.stem}"


@pytest.fixture(scope="session")
def notebook_runs(request) -> Path:
    """The runs folder holding every lesson's TensorBoard runs from this test session.

    ``make test`` runs nbval on the notebooks first (``testpaths`` order), and nbval's kernels
    write into this session's private runs folder; the root conftest marks each notebook done
    when nbval has run its last cell. For each lesson notebook, this fixture

    - uses nbval's runs once it is done;
    - waits for that, under pytest-xdist, while another worker's nbval is executing it;
    - executes it here with the runner's code when nbval is not going to (only ``tests/`` was
      selected), under a per-notebook lock, so two workers never execute the same notebook
      into the same runs folder at once.
    """
    import time

    from helpers import _locks, config
    from torchnn_tools import editions, runner

    root = config.runs_dir()
    done_dir = Path(os.environ["TORCHNN_TEST_DIR"]) / "notebooks-done"
    done_dir.mkdir(parents=True, exist_ok=True)
    by_nbval = {_marker(Path(item.nodeid.split("::")[0])) for item in request.session.items
                if item.nodeid.split("::")[0].endswith(".ipynb")}
    in_worker = hasattr(request.config, "workerinput")
    for notebook in editions.lessons():
        if not runner.topic_of(notebook):
            continue
        # Every edition of a lesson writes the same runs: wait for all that nbval runs.
        copies = [m for m in (notebook.stem, f"zh.{notebook.stem}") if m in by_nbval]
        if copies and in_worker:  # other workers' nbval have them, or had them
            deadline = time.monotonic() + NOTEBOOK_WAIT
            while not all((done_dir / m).exists() for m in copies):
                assert time.monotonic() < deadline, f"nbval did not finish {notebook.name}"
                time.sleep(1)
            continue
        done = done_dir / notebook.stem
        if copies and all((done_dir / m).exists() for m in copies):
            continue
        with _locks.locked(done_dir / f".{notebook.stem}.lock"):
            if not done.exists():
                nb, err = runner.execute(notebook)
                assert err is None, runner.describe_failure(nb, err)
                done.touch()
    return root
