"""The CIFAR-10 path, offline: a local HTTP server or a prepared archive stands in for the
real host. The download, checksum, extraction and decoding code is the one learners run."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import FAKE_CLASSES, files_under
from helpers import data


def test_download_extract_and_load_from_a_local_server(tmp_path, fake_cifar, http_dir,
                                                       fresh_choices):
    served, base = http_dir
    (served / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes)
    spec = fake_cifar.spec(f"{base}/cifar-10-python.tar.gz")
    root = tmp_path / "data"  # does not exist yet: created on demand

    choice = data.choose_source("auto", root, spec)
    assert choice.source == "cifar10" and choice.will_download

    train = data.load_dataset(True, source="auto", root=root, spec=spec)
    test = data.load_dataset(False, source="auto", root=root, spec=spec)
    assert (root / "cifar-10-python.tar.gz").read_bytes() == fake_cifar.archive_bytes
    assert not list(root.glob("*.part")) and not list(root.glob(".extract-*"))
    assert isinstance(train, data.Cifar10)
    assert train.classes == FAKE_CLASSES
    assert len(train) == 20 and len(test) == 4
    # Same layout as torchvision's CIFAR10: (N, 32, 32, 3) uint8, labels as ints.
    expected = fake_cifar.images["data_batch_2"][1].transpose(1, 2, 0)
    np.testing.assert_array_equal(train.data[5], expected)
    image, label = train[5]
    assert image.size == (32, 32) and image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), expected)
    assert label == fake_cifar.labels["data_batch_2"][1]
    assert test.targets == fake_cifar.labels["test_batch"]


def test_a_prepared_archive_is_used_without_any_network(tmp_path, fake_cifar, closed_port_url,
                                                        fresh_choices):
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes)
    spec = fake_cifar.spec(closed_port_url)
    choice = data.choose_source("auto", root, spec)
    assert choice.source == "cifar10" and "found" in choice.reason
    ds = data.load_dataset(False, source="cifar10", root=root, spec=spec)
    assert len(ds) == 4 and (root / "cifar-10-batches-py" / "test_batch").is_file()


def test_truncated_download_names_the_file_and_leaves_nothing_behind(tmp_path, fake_cifar,
                                                                     http_dir, fresh_choices):
    served, base = http_dir
    (served / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes[:-100])
    spec = fake_cifar.spec(f"{base}/cifar-10-python.tar.gz")
    root = tmp_path / "data"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(data.DataError) as err:
        data.load_dataset(True, source="cifar10", root=root, spec=spec)
    message = str(err.value)
    assert "cifar-10-python.tar.gz" in message and "incomplete or corrupt" in message
    assert files_under(root) == {"notes.txt", ".cifar10.lock"}


def test_checked_files_are_hashed_once_until_one_changes(tmp_path, fake_cifar, closed_port_url,
                                                        monkeypatch):
    """The train and the test split both prepare the folder: its ~180 MB are hashed once per
    process, and again only when a file's size or modification time has changed."""
    import os
    from pathlib import Path

    from helpers import _cifar10

    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes)
    spec = fake_cifar.spec(closed_port_url)
    hashed = []
    md5 = _cifar10._md5
    monkeypatch.setattr(_cifar10, "_md5", lambda path: hashed.append(path.name) or md5(path))
    folder = _cifar10.prepare(root, spec)
    assert set(hashed) >= {name for name, _ in spec.files}
    hashed.clear()
    monkeypatch.chdir(tmp_path)
    assert _cifar10.prepare(root, spec) == folder and _cifar10.prepare(Path("data"), spec)
    assert hashed == []
    batch = folder / "data_batch_3"
    before = batch.stat()
    batch.write_bytes(bytes(before.st_size))  # same size, other bytes, a later time
    os.utime(batch, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    with pytest.raises(data.DataError, match="data_batch_3 is corrupt"):
        _cifar10.prepare(root, spec)
    assert "data_batch_3" in hashed


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_a_corrupt_archive_in_data_is_named_and_kept(tmp_path, fake_cifar, closed_port_url,
                                                     damage, fresh_choices):
    root = tmp_path / "data"
    root.mkdir()
    raw = fake_cifar.archive_bytes
    broken = raw[: len(raw) // 2] if damage == "truncate" else raw[:50] + b"\0" * 50 + raw[100:]
    (root / "cifar-10-python.tar.gz").write_bytes(broken)
    with pytest.raises(data.DataError) as err:
        data.load_dataset(True, source="cifar10", root=root, spec=fake_cifar.spec(closed_port_url))
    assert str(root / "cifar-10-python.tar.gz") in str(err.value)
    assert "Delete it and run again" in str(err.value)
    assert (root / "cifar-10-python.tar.gz").read_bytes() == broken  # nothing deleted


def test_a_corrupt_batch_file_is_named(tmp_path, fake_cifar, closed_port_url, fresh_choices):
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes)
    spec = fake_cifar.spec(closed_port_url)
    data.load_dataset(False, source="cifar10", root=root, spec=spec)
    batch = root / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:200])
    data._decoded.clear()
    before = files_under(root)
    with pytest.raises(data.DataError) as err:
        data.load_dataset(True, source="cifar10", root=root, spec=spec)
    assert str(batch) in str(err.value) and "corrupt" in str(err.value)
    assert files_under(root) == before


def test_auto_falls_back_to_synthetic_quickly_when_offline(tmp_path, closed_port_url, fake_cifar,
                                                           capsys, fresh_choices):
    root = tmp_path / "data"
    start = time.perf_counter()
    ds = data.load_dataset(True, source="auto", root=root, spec=fake_cifar.spec(closed_port_url))
    assert time.perf_counter() - start < 5
    assert isinstance(ds, data.SyntheticShapes)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # one line
    assert "cannot be downloaded" in out and "cifar-10-python.tar.gz" in out and str(root) in out
    data.load_dataset(False, source="auto", root=root, spec=fake_cifar.spec(closed_port_url))
    assert capsys.readouterr().out == ""  # said once per process


def test_auto_falls_back_when_the_probe_hangs(tmp_path, fake_cifar, fresh_choices, monkeypatch):
    """A DNS lookup that never returns is cut off by the probe's own timeout."""
    import threading
    import urllib.request

    released = threading.Event()

    def hang(*args, **kwargs):
        released.wait(30)
        raise OSError("the lookup was abandoned")  # what the probe thread ends with

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    start = time.perf_counter()
    try:
        choice = data.choose_source("auto", tmp_path, fake_cifar.spec("http://example.invalid/x"),
                                    timeout=0.5)
    finally:
        released.set()
    # The lookup hangs for 30 s: well under that means the probe's timeout cut it off (the
    # margin keeps a machine busy with other tests from failing it).
    assert time.perf_counter() - start < 10
    assert choice.source == "synthetic" and "no answer within 0.5 s" in choice.reason


def test_cifar10_without_network_says_where_to_put_the_file(tmp_path, closed_port_url, fake_cifar,
                                                            fresh_choices):
    root = tmp_path / "data"
    with pytest.raises(data.DataError) as err:
        data.load_dataset(True, source="cifar10", root=root, spec=fake_cifar.spec(closed_port_url))
    message = str(err.value)
    assert str(root) in message and "cifar-10-python.tar.gz" in message
    assert "TORCHNN_DATA=synthetic" in message
    assert files_under(root) == {".cifar10.lock"}  # no partial download left


def test_unknown_setting_lists_the_valid_ones(monkeypatch, fresh_choices):
    monkeypatch.setenv("TORCHNN_DATA", "cifar100")
    with pytest.raises(data.DataError, match="auto, cifar10, synthetic"):
        data.load_dataset(True)


def test_data_dir_that_cannot_be_created(tmp_path, fake_cifar, closed_port_url, fresh_choices):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(data.DataError, match="cannot be created"):
        data.load_dataset(True, source="cifar10", root=blocker / "data",
                          spec=fake_cifar.spec(closed_port_url))


def test_the_real_spec_is_torchvisions():
    from torchvision.datasets import CIFAR10

    spec = data.CIFAR10
    assert (spec.url, spec.archive, spec.archive_md5, spec.folder) == (
        CIFAR10.url, CIFAR10.filename, CIFAR10.tgz_md5, CIFAR10.base_folder)
    expected = [tuple(f) for f in CIFAR10.train_list + CIFAR10.test_list]
    expected.append((CIFAR10.meta["filename"], CIFAR10.meta["md5"]))
    assert list(spec.files) == expected
    assert spec.train_files == tuple(name for name, _ in CIFAR10.train_list)
    assert spec.test_files == ("test_batch",) and spec.meta_file == CIFAR10.meta["filename"]


def test_importing_the_data_helpers_leaves_torchvision_alone():
    import subprocess
    import sys

    code = "import sys, helpers.data, helpers.session; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
