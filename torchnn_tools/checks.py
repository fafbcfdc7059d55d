"""``test`` and ``lint``: ruff, then the whole pytest suite (nbval on every notebook included).

``python -m torchnn_tools test`` runs two pytest-xdist workers, each notebook whole on one of
them (``--dist loadscope``; the root ``conftest.py`` makes the tests that read the notebooks'
runs wait for them): measured on 2 cores, about 10% faster than one process. ``--serial``
runs everything in one process; any other argument goes to pytest (``test -k board``).
Like ``make test``, it first installs the book's packages (requirements-book.txt) if this
Python lacks any: the book and browser tests need them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import config
from torchnn_tools import install

XDIST = ["-n", "2", "--dist", "loadscope"]


def lint(argv: list[str] | None = None) -> int:
    """ruff over the code and the notebooks (pyproject.toml says which rules)."""
    return subprocess.call([sys.executable, "-m", "ruff", "check", ".", *(argv or [])],
                           cwd=config.project_root())


def test(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    serial = "--serial" in argv
    args = [a for a in argv if a != "--serial"]
    code = lint([])
    if code != 0:
        print("ruff found problems (above): fix them, then run the tests again.",
              file=sys.stderr)
        return code
    lacking = install.missing(install.BOOK_INPUTS[0])
    if lacking:
        print(f"The book and browser tests need {', '.join(lacking)}, which this Python does not "
              f"have.", flush=True)
        code = install.install_book(Path(sys.executable))
        if code != 0:
            return code
    return subprocess.call([sys.executable, "-m", "pytest", *([] if serial else XDIST), *args],
                           cwd=config.project_root())
