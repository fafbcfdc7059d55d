"""``setup()``: the one call in every notebook's first cell.

It seeds Python, NumPy and torch, picks the device, reads the settings (``helpers.config``),
decides the data source and prints every choice it made, so a reader of the notebook's output
always knows what produced it. Nothing happens until it is called.
"""

from __future__ import annotations

import platform
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from helpers import config
from helpers.errors import SettingError

T = TypeVar("T")


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
    forced = config.forced_device()
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
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            have = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise SettingError(
                f"TORCHNN_DEVICE={forced!r} asks for a CUDA GPU this machine does not have "
                f"(it has {have}); use one of those, or unset TORCHNN_DEVICE."
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
    from helpers import data

    seed_everything(seed)
    fast = config.fast_mode()
    device, why_device = pick_device()
    choice = data.choose_source()
    settings = Settings(
        seed=seed,
        device=device,
        data_source=choice.source,
        data_reason=choice.reason,
        fast=fast,
        data_dir=config.data_dir(),
        runs_dir=config.runs_dir(),
    )
    if verbose:
        from importlib.metadata import version  # not `import torchvision`: that takes 2 s

        print(f"Python {platform.python_version()} | torch {torch.__version__} | "
              f"torchvision {version('torchvision')}")
        print(f"device : {device} ({why_device})")
        print(f"data   : {choice.source} ({choice.reason})")
        mode = "on: small subsets, few epochs" if fast else "off: full-size lessons"
        print(f"fast   : {mode} (TORCHNN_FAST)")
        print(f"folders: data={config.shown(settings.data_dir, folder=True)} "
              f"runs={config.shown(settings.runs_dir, folder=True)}")
        print(f"seed   : {seed} (Python, NumPy and torch)")
    data.announce(choice, already_printed=verbose)
    return settings
