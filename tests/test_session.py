"""setup(): seeding, device, settings from the environment, folders from the project root."""

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import config, session, setup
from helpers.errors import SettingError

ROOT = Path(__file__).resolve().parent.parent


def test_setup_seeds_everything_and_prints_its_choices(capsys):
    s = setup(seed=123)
    draws = random.random(), np.random.rand(), torch.rand(1).item()
    setup(seed=123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws
    out = capsys.readouterr().out
    for word in ("torch", "torchvision", "device", "data", "synthetic", "fast", "seed   : 123"):
        assert word in out
    assert s.device == torch.device("cpu") and s.fast and s.data_source == "synthetic"
    assert s.runs_dir == Path(os.environ["TORCHNN_RUNS_DIR"])
    assert s.choose(full=10, fast=2) == 2


@pytest.mark.parametrize(
    ("value", "fast"), [("1", True), ("true", True), ("0", False), ("", False)]
)
def test_fast_mode_values(monkeypatch, value, fast):
    monkeypatch.setenv("TORCHNN_FAST", value)
    assert config.fast_mode() is fast


def test_fast_mode_rejects_a_typo(monkeypatch):
    monkeypatch.setenv("TORCHNN_FAST", "yes please")
    with pytest.raises(SettingError, match="use 1 .* or 0"):
        config.fast_mode()


def test_device_can_be_forced_and_typos_are_explained(monkeypatch):
    monkeypatch.setenv("TORCHNN_DEVICE", "cpu")
    assert session.pick_device()[0] == torch.device("cpu")
    monkeypatch.setenv("TORCHNN_DEVICE", "gpu0")
    with pytest.raises(SettingError, match="cpu, cuda or mps"):
        session.pick_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here")
def test_forcing_a_device_this_machine_lacks_is_a_setting_error(monkeypatch):
    """setup() says so at once, instead of the lesson failing later inside `.to("cuda")`."""
    monkeypatch.setenv("TORCHNN_DEVICE", "cuda")
    with pytest.raises(SettingError, match="asks for a CUDA GPU, but none is available "
                                                   "here; unset TORCHNN_DEVICE or set it to cpu"):
        session.setup(verbose=False)


def test_forcing_a_gpu_number_this_machine_lacks_is_a_setting_error(monkeypatch):
    """TORCHNN_DEVICE=cuda:5 on a machine with two GPUs: said at once, with the ones it has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for ok in ("cuda", "cuda:0", "cuda:1"):
        monkeypatch.setenv("TORCHNN_DEVICE", ok)
        assert session.pick_device() == (torch.device(ok), "TORCHNN_DEVICE")
    monkeypatch.setenv("TORCHNN_DEVICE", "cuda:5")
    with pytest.raises(SettingError, match=r"'cuda:5' asks for a CUDA GPU this machine does not "
                                           r"have \(it has cuda:0 to cuda:1\); use one of"):
        session.pick_device()


def test_paths_do_not_depend_on_the_current_directory(monkeypatch):
    monkeypatch.delenv("TORCHNN_DATA_DIR")
    monkeypatch.delenv("TORCHNN_RUNS_DIR")
    code = "from helpers import config; print(config.data_dir()); print(config.runs_dir())"
    for cwd in (ROOT, ROOT / "notebooks", Path("/")):
        out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                             text=True, check=True, env=os.environ.copy()).stdout.split()
        assert out == [str(ROOT / "data"), str(ROOT / "runs")]


def test_folders_can_be_overridden(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHNN_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("TORCHNN_RUNS_DIR", str(tmp_path / "r"))
    assert config.data_dir() == tmp_path / "d" and config.runs_dir() == tmp_path / "r"


def test_importing_helpers_does_nothing():
    """No seeding, no data decision and no device probing at import time."""
    code = (
        "import torch; torch.manual_seed(7); expected = torch.rand(1)\n"
        "torch.manual_seed(7)\n"
        "import helpers, helpers.data, helpers.board, helpers.train, helpers.models\n"
        "assert torch.equal(torch.rand(1), expected), 'import touched the RNG'\n"
        "assert not helpers.data._choices, 'import chose a data source'\n"
        "assert not torch.cuda.is_initialized()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
