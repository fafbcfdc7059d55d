"""Project folders, resolved from this file's location rather than the current directory.

Jupyter and nbval start kernels in ``notebooks/``; ``make`` runs at the root. Both must mean
the same ``data/`` and ``runs/``, so nothing here uses relative paths like ``../data``.
``TORCHNN_DATA_DIR`` and ``TORCHNN_RUNS_DIR`` override the defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The folder that holds ``helpers/``, ``notebooks/``, ``data/`` and ``runs/``."""
    return PROJECT_ROOT


def data_dir() -> Path:
    """Dataset root: ``$TORCHNN_DATA_DIR`` if set, else ``<project>/data``."""
    return _from_env("TORCHNN_DATA_DIR", PROJECT_ROOT / "data")


def runs_dir() -> Path:
    """TensorBoard root: ``$TORCHNN_RUNS_DIR`` if set, else ``<project>/runs``."""
    return _from_env("TORCHNN_RUNS_DIR", PROJECT_ROOT / "runs")


def notebooks_dir() -> Path:
    return PROJECT_ROOT / "notebooks"


def _from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else default
