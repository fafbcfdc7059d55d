"""``setup()``: the one call in every notebook's first cell.

It seeds Python, NumPy and torch, picks the device, reads the environment variables, decides
the data source and prints every choice it made, so a reader of the notebook's output always
knows what produced it. Nothing happens until it is called.

Environment variables:

- ``TORCHNN_DATA``: ``auto`` (default), ``cifar10`` or ``synthetic``;
- ``TORCHNN_FAST``: ``1`` sizes every loop for CI (small subsets, few epochs), ``0`` (default)
  runs the full lessons;
- ``TORCHNN_DATA_DIR`` / ``TORCHNN_RUNS_DIR``: other folders for data and TensorBoard runs;
- ``TORCHNN_DEVICE``: force a device (``cpu``, ``cuda``, ``mps``) instead of the best one.
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from helpers import paths
from helpers.errors import OneLineError

T = TypeVar("T")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class SettingError(OneLineError, ValueError):
    """An environment variable holds a value the helpers do not understand."""


@dataclass(frozen=True)
class Settings:
    """What ``setup()`` chose. Pass the parts a helper needs; helpers never read globals."""

    seed: int
    device: torch.device
    data_source: str  # "cifar10" or "synthetic"
    data_reason: str
    fast: bool
    data_dir: Path
    runs_dir: Path

    def choose(self, full: T, fast: T) -> T:
        """``fast`` under ``TORCHNN_FAST=1``, else ``full``: ``s.choose(full=10, fast=2)``."""
        return fast if self.fast else full


def fast_mode() -> bool:
    """Whether ``TORCHNN_FAST`` asks for CI-sized loops."""
    value = os.environ.get("TORCHNN_FAST", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingError(f"TORCHNN_FAST={value!r} is not understood; use 1 (fast) or 0 (full).")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (every device) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device() -> tuple[torch.device, str]:
    """CUDA, then Apple MPS, then CPU (or ``TORCHNN_DEVICE``); returns the device and why.

    A ``TORCHNN_DEVICE`` that is not a device, or names one this machine does not have, is a
    ``SettingError`` here, before any lesson code tries to use it.
    """
    forced = os.environ.get("TORCHNN_DEVICE", "").strip().lower()
    if forced:
        try:
            device = torch.device(forced)
        except RuntimeError:
            raise SettingError(
                f"TORCHNN_DEVICE={forced!r} is not a device; use cpu, cuda or mps."
            ) from None
        if not _available(device.type):
            kind = {"cuda": "a CUDA GPU", "mps": "an Apple GPU"}.get(device.type, device.type)
            raise SettingError(
                f"TORCHNN_DEVICE={forced!r} asks for {kind}, but none is available here; "
                f"unset TORCHNN_DEVICE or set it to cpu."
            )
        return device, "TORCHNN_DEVICE"
    if _available("cuda"):
        return torch.device("cuda"), torch.cuda.get_device_name(0)
    if _available("mps"):
        return torch.device("mps"), "Apple GPU"
    return torch.device("cpu"), "no CUDA or MPS device found"


def _available(device_type: str) -> bool:
    if device_type == "cuda":
        return torch.cuda.is_available()
    if device_type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps and mps.is_available())
    return True


def setup(seed: int = 0, verbose: bool = True) -> Settings:
    """Seed, pick the device and the data source, print the choices, return them."""
    from helpers import data  # imported here: data imports this module

    seed_everything(seed)
    fast = fast_mode()
    device, why_device = pick_device()
    choice = data.choose_source()
    settings = Settings(
        seed=seed,
        device=device,
        data_source=choice.source,
        data_reason=choice.reason,
        fast=fast,
        data_dir=paths.data_dir(),
        runs_dir=paths.runs_dir(),
    )
    if verbose:
        from importlib.metadata import version  # not `import torchvision`: that takes 2 s

        print(f"Python {platform.python_version()} | torch {torch.__version__} | "
              f"torchvision {version('torchvision')}")
        print(f"device : {device} ({why_device})")
        print(f"data   : {choice.source} ({choice.reason})")
        mode = "on: small subsets, few epochs" if fast else "off: full-size lessons"
        print(f"fast   : {mode} (TORCHNN_FAST)")
        print(f"folders: data={_shown(settings.data_dir)} runs={_shown(settings.runs_dir)}")
        print(f"seed   : {seed} (Python, NumPy and torch)")
    data.announce(choice, already_printed=verbose)
    return settings


def _shown(folder: Path) -> str:
    """A folder relative to the project root when it lies inside it (``data/``), else absolute."""
    try:
        return f"{folder.relative_to(paths.project_root())}/"
    except ValueError:
        return str(folder)
