"""Can this folder be written? One probe, used by every part that writes (and the doctor).

A folder's mode bits do not answer it (root ignores them; Windows has ACLs), so the probe
really creates a file there and removes it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def unwritable(folder: Path, create: bool = False) -> str | None:
    """``None`` when a file can be created in ``folder``, else why not (``"Permission denied"``).

    With ``create=True`` the folder (and its parents) is made first if missing; otherwise a
    missing folder is itself the reason.
    """
    try:
        if create:
            Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            return None
    except OSError as err:
        return err.strerror or str(err)


def nearest_existing(folder: Path) -> Path:
    """``folder`` itself, or the closest parent of it that exists."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
