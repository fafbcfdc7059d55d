"""``setup``: check the Python, create ``.venv`` and install the pinned packages into it.

Only the standard library is used (this runs before anything is installed), and the code
parses on old Pythons too, so that an unsupported one gets a clear line instead of a
traceback. It reinstalls only when ``requirements.txt`` or ``pyproject.toml`` changed since the
last install (``.venv/.installed`` records that), or with ``--force``. ``--book`` also installs
``requirements-book.txt`` (the static site and the browser tests: ``make book``, ``make test``),
again only when it changed or the main packages were reinstalled (``.venv/.installed-book``).

    python3 -m torchnn_tools setup          # Linux, macOS (make setup runs this)
    py -3.12 -m torchnn_tools setup         # Windows
    python3 -m torchnn_tools setup --book   # and the book's packages (make book, make test)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
INPUTS = (ROOT / "requirements.txt", ROOT / "pyproject.toml")
BOOK_STAMP = VENV / ".installed-book"
BOOK_INPUTS = (ROOT / "requirements-book.txt",)
# Pythons the pinned stack has wheels for (tests/test_install.py resolves the pins for each).
SUPPORTED = ((3, 11), (3, 12), (3, 13), (3, 14))

WHAT = """\
Installing into {venv}:
  PyTorch 2.14.1 and torchvision 0.29.1, JupyterLab, TensorBoard, matplotlib, pytest and nbval
  (requirements.txt). On Linux x86_64 pip's default PyTorch is a CUDA build that also runs on
  the CPU: about 6 GB with its NVIDIA libraries (3.2 GB of them). On macOS and Windows, or with
  the CPU-only build (README: Installing), it is about 1.5 GB.
  The first time takes a few minutes; pip shows its progress below."""


def supported_text() -> str:
    return ", ".join(f"{major}.{minor}" for major, minor in SUPPORTED)


def check_python(version: tuple[int, int] | None = None) -> str | None:
    """``None`` if this Python can install the pins, else the one line that says what to use."""
    major, minor = version or sys.version_info[:2]
    if (major, minor) in SUPPORTED:
        return None
    return (f"error: Python {major}.{minor} cannot install the pinned packages (PyTorch 2.14.1 "
            f"and friends have wheels for Python {supported_text()} only). Run this with one "
            f"of those: `make setup PYTHON=python3.12`, `python3.12 -m torchnn_tools setup`, or "
            f"on Windows `py -3.12 -m torchnn_tools setup`.")


def venv_python(folder: Path = VENV) -> Path:
    """The Python inside a virtual environment (``bin/python``, or ``Scripts\\python.exe``)."""
    windows = folder / "Scripts" / "python.exe"
    return windows if os.name == "nt" or windows.exists() else folder / "bin" / "python"


def up_to_date(stamp_file: Path = STAMP, inputs: tuple[Path, ...] = INPUTS) -> bool:
    if not (stamp_file.is_file() and venv_python().exists()):
        return False
    stamp = stamp_file.stat().st_mtime
    return all(path.stat().st_mtime <= stamp for path in inputs)


def book_up_to_date() -> bool:
    """The book's packages are installed, and neither they nor the main ones changed since."""
    return up_to_date(BOOK_STAMP, (*BOOK_INPUTS, STAMP))


def pins(requirements: Path = INPUTS[0]) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line in ``requirements``."""
    found = {}
    with contextlib.suppress(OSError):
        for line in requirements.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;#]+)", line)
            if match:
                found[normalised(match[1])] = match[2]
    return found


def normalised(name: str) -> str:
    """A package's name as pip compares it (``Sphinx_Book.Theme`` -> ``sphinx-book-theme``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def missing(requirements: Path) -> list[str]:
    """The packages ``requirements`` pins that this Python does not have installed."""
    gone = []
    for name in pins(requirements):
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            gone.append(name)
    return gone


def install_book(python: Path) -> int:
    """pip install requirements-book.txt, holding requirements.txt's pins where they meet."""
    print("Installing the book's packages into .venv (requirements-book.txt): Sphinx, myst-nb, "
          "sphinx-book-theme, jieba, MathJax for offline use and Playwright (about 300 MB).",
          flush=True)
    code = pip_install(python, ["-r", str(BOOK_INPUTS[0]), "-c", str(INPUTS[0])],
                       "the book's packages")
    if code == 0 and Path(python) == venv_python() and VENV.is_dir():
        BOOK_STAMP.touch()
    return code


def pip_install(python: Path, arguments: list[str], what: str) -> int:
    """``pip install`` into .venv with its progress shown; on failure, one line on what to do."""
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check",
               "--progress-bar", "on", *arguments]
    print(" ".join(command), flush=True)
    code = subprocess.call(command, cwd=ROOT)
    if code != 0:
        print(f"error: pip could not install {what} (its message is above). Behind a slow or "
              f"blocked connection, point pip at a mirror near you (README: Installing) and run "
              f"setup again.", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torchnn_tools setup",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true",
                        help="install again even if nothing changed")
    parser.add_argument("--book", action="store_true",
                        help="also install requirements-book.txt (the static site, the browser "
                             "tests)")
    args = parser.parse_args(argv)
    python = venv_python()
    if not args.force and up_to_date():
        if args.book and not book_up_to_date():
            return install_book(python)
        print(f".venv is up to date ({python}).")
        return 0
    if not python.exists():
        problem = check_python()
        if problem:
            print(problem, file=sys.stderr)
            return 2
        print(f"Creating {VENV} with Python {sys.version.split()[0]} ({sys.executable}) ...",
              flush=True)
        venv.create(VENV, with_pip=True)
    else:
        found = subprocess.run([str(python), "-c", "import sys; print(*sys.version_info[:2])"],
                               capture_output=True, text=True)
        parts = found.stdout.split()
        problem = check_python((int(parts[0]), int(parts[1]))) if len(parts) == 2 else (
            f"error: {python} does not run ({found.stderr.strip()[-200:]}).")
        if problem:
            print(f"{problem}\n(.venv was made with that Python: delete .venv, then run setup "
                  f"again with a supported one.)", file=sys.stderr)
            return 2
    print(WHAT.format(venv=VENV), flush=True)
    code = pip_install(python, ["-r", str(INPUTS[0]), "-e", str(ROOT)], "the packages")
    if code != 0:
        return code
    STAMP.touch()
    if args.book:
        code = install_book(python)
        if code != 0:
            return code
    print(f"Done: {VENV} is ready. Next: `make run` (or `{python} -m torchnn_tools run`).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
