"""Every ``TORCHNN_*`` environment variable, read and checked here and nowhere else.

The other modules ask these functions; none of them reads ``os.environ`` itself. Each call
reads the variable afresh, so a notebook that sets one (``os.environ["TORCHNN_FAST"] = "1"``)
sees the change at its next ``setup()``.

=====================  ============  =========================================================
variable               default       meaning
=====================  ============  =========================================================
``TORCHNN_DATA``       ``auto``      ``auto``, ``cifar10`` or ``synthetic`` (see ``data``)
``TORCHNN_FAST``       ``0``         ``1``: every loop sized for CI (small subsets, few epochs)
``TORCHNN_DEVICE``     best one      ``cpu``, ``cuda`` or ``mps`` instead of the best available
``TORCHNN_DATA_DIR``   ``data/``     where datasets live
``TORCHNN_RUNS_DIR``   ``runs/``     where TensorBoard runs (and ``make run``'s copies) go
=====================  ============  =========================================================

``data/`` and ``runs/`` are the folders at the project's root, found from this file's
location, never from the current directory: Jupyter and nbval start kernels in
``notebooks/``, ``make`` runs at the root, and both must mean the same folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers.errors import DataError, OneLineError, SettingError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("auto", "cifar10", "synthetic")
DEVICES = ("cpu", "cuda", "mps")
FAST_LIMIT = 2048  # images a loader holds under TORCHNN_FAST=1 unless the lesson says otherwise
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


# Every setting, with what it means when it is not set (make doctor lists them).
DEFAULTS = {"TORCHNN_DATA": "auto", "TORCHNN_FAST": "0", "TORCHNN_DEVICE": "best available",
            "TORCHNN_DATA_DIR": "data/", "TORCHNN_RUNS_DIR": "runs/"}


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def as_set() -> dict[str, str]:
    """``{variable: value}`` as the environment holds them now, ``""`` for the unset ones
    (unchecked: the functions below check them)."""
    return {name: _raw(name) for name in DEFAULTS}


def project_root() -> Path:
    """The folder that holds ``helpers/``, ``notebooks/``, ``data/`` and ``runs/``."""
    return PROJECT_ROOT


def data_dir() -> Path:
    """Dataset root: ``$TORCHNN_DATA_DIR`` if set, else ``<project>/data``."""
    return _folder("TORCHNN_DATA_DIR", PROJECT_ROOT / "data")


def runs_dir() -> Path:
    """TensorBoard root: ``$TORCHNN_RUNS_DIR`` if set, else ``<project>/runs``."""
    return _folder("TORCHNN_RUNS_DIR", PROJECT_ROOT / "runs")


def shown(path: Path | str, folder: bool = False) -> str:
    """A path relative to the project root when it lies inside it (``runs/x``), else as is;
    ``folder=True`` adds a trailing ``/``.

    Printed paths in stored notebook outputs must not name the folders of the machine that
    made them; inside the project they never do.
    """
    try:
        text = Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        text = str(path)
    return f"{text.rstrip('/')}/" if folder else text


def _folder(name: str, default: Path) -> Path:
    value = _raw(name)
    return Path(value).expanduser().resolve() if value else default


def data_source() -> str:
    """``TORCHNN_DATA`` (default ``auto``), checked against :data:`SOURCES`."""
    value = _raw("TORCHNN_DATA").lower() or "auto"
    if value not in SOURCES:
        raise DataError(
            f"TORCHNN_DATA={value!r} is not a data source; use one of: {', '.join(SOURCES)}."
        )
    return value


def fast_mode() -> bool:
    """Whether ``TORCHNN_FAST`` asks for CI-sized loops."""
    value = _raw("TORCHNN_FAST").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingError(f"TORCHNN_FAST={value!r} is not understood; use 1 (fast) or 0 (full).")


def forced_device() -> str | None:
    """The device ``TORCHNN_DEVICE`` asks for (``"cuda"``, ``"cuda:1"``, ...), or ``None``.

    Only the spelling is checked here; whether this machine has it is ``session``'s question.
    """
    value = _raw("TORCHNN_DEVICE").lower()
    if not value:
        return None
    if value.split(":", 1)[0] not in DEVICES:
        raise SettingError(f"TORCHNN_DEVICE={value!r} is not a device; use cpu, cuda or mps.")
    return value


CHECKED = (data_source, fast_mode, forced_device)


def check_all() -> None:
    """Read every setting once, raising the first problem (``make run`` calls this before
    anything else)."""
    for read in CHECKED:
        read()


def problems() -> list[str]:
    """Every setting's problem, one message each; empty when all are fine (``make doctor``)."""
    found = []
    for read in CHECKED:
        try:
            read()
        except OneLineError as err:
            found.append(str(err))
    return found
