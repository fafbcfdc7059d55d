"""The Pythons and platforms the pins install on, and what `setup` says about the others.

`setup` (`make setup`, `python -m torchnn_tools setup`) checks the interpreter before it creates
.venv, so that nobody downloads half a gigabyte of PyTorch for pip to fail on numpy afterwards
(as it did on Python 3.10). These tests resolve requirements.txt for each supported Python
with uv's resolver (it reads the wheels' metadata from PyPI, without downloading them), check
that 3.10 really does not resolve, and that the package metadata and the README say the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from torchnn_tools import install

ROOT = Path(__file__).resolve().parent.parent
LINUX, WINDOWS, MAC = "x86_64-manylinux_2_28", "x86_64-pc-windows-msvc", "aarch64-apple-darwin"


def resolve(version: tuple[int, int], platform: str) -> subprocess.CompletedProcess:
    uv = Path(sys.executable).with_name("uv")
    return subprocess.run(
        [str(uv if uv.exists() else "uv"), "pip", "compile", str(ROOT / "requirements.txt"),
         "--python-version", "{}.{}".format(*version), "--python-platform", platform,
         "--only-binary", ":all:", "--no-header", "--no-annotate", "--no-config"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, MACOSX_DEPLOYMENT_TARGET="14.0"))  # PyTorch's macOS wheels need 14


@pytest.fixture(scope="module")
def pypi():
    try:
        urllib.request.urlopen("https://pypi.org/simple/torch/", timeout=10).close()
    except OSError as err:
        pytest.skip(f"PyPI cannot be reached from here ({err}); these tests ask it what exists")


def test_the_pins_resolve_for_every_supported_python_and_platform(pypi):
    cases = [(v, LINUX) for v in install.SUPPORTED]
    cases += [(v, p) for v in (install.SUPPORTED[0], install.SUPPORTED[-1]) for p in (WINDOWS, MAC)]
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = list(pool.map(lambda case: resolve(*case), cases))
    failed = {f"{v[0]}.{v[1]} {p}": r.stderr[-800:] for (v, p), r in zip(cases, results)
              if r.returncode != 0}
    assert not failed, failed
    for result in results:
        assert re.search(r"^torch==2\.14\.1$", result.stdout, re.M), result.stdout[:500]


def test_python_3_10_really_cannot_install_them(pypi):
    result = resolve((3, 10), LINUX)
    assert result.returncode != 0 and "numpy" in result.stderr


def test_metadata_and_readme_name_the_same_versions():
    import tomllib

    first, last = install.SUPPORTED[0], install.SUPPORTED[-1]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={first[0]}.{first[1]},<{last[0]}.{last[1] + 1}"
    assert list(install.SUPPORTED) == [(3, minor) for minor in range(first[1], last[1] + 1)]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python {install.supported_text()}" in readme or (
        f"Python {first[0]}.{first[1]} to {last[0]}.{last[1]}" in readme)


def test_an_unsupported_python_is_refused_with_one_line():
    message = install.check_python((3, 10))
    assert message.startswith("error: Python 3.10 cannot install the pinned packages")
    assert install.supported_text() in message and "PYTHON=python3.12" in message
    assert install.check_python(install.SUPPORTED[0]) is None


def _old_python() -> str | None:
    """A Python older than the supported ones, if this machine has one (pyenv often does)."""
    found = shutil.which("python3.10")
    candidates = [found] if found else []
    candidates += [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3"))]
    for candidate in candidates:
        done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == "(3, 10)":
            return candidate
    return None


def test_setup_with_an_old_python_stops_before_creating_the_venv(tmp_path):
    old = _old_python()
    if old is None:
        pytest.skip("no Python 3.10 on this machine to try setup with")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "torchnn_tools", project / "torchnn_tools")
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, project / name)
    done = subprocess.run([old, "-m", "torchnn_tools", "setup"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [install.check_python((3, 10))]
    assert not (project / ".venv").exists()


def test_the_test_command_installs_the_book_packages_it_lacks(monkeypatch, capsys):
    """`python -m torchnn_tools test` (the README's route without make) does what `make test`
    does first: the book and browser tests need requirements-book.txt's packages."""
    from torchnn_tools import checks

    calls = []
    monkeypatch.setattr(checks, "lint", lambda argv: 0)
    monkeypatch.setattr(checks.subprocess, "call", lambda command, cwd: calls.append(command) or 0)
    monkeypatch.setattr(install, "install_book", lambda python: calls.append(python) or 0)
    monkeypatch.setattr(install, "missing", lambda requirements: [])
    assert checks.test(["-k", "board"]) == 0
    assert len(calls) == 1 and calls[0][-2:] == ["-k", "board"]
    monkeypatch.setattr(install, "missing", lambda requirements: ["sphinx", "jieba"])
    assert checks.test([]) == 0
    assert calls[1] == Path(sys.executable) and calls[2][1:3] == ["-m", "pytest"]
    assert "need sphinx, jieba" in capsys.readouterr().out
    monkeypatch.setattr(install, "install_book", lambda python: 1)
    assert checks.test([]) == 1 and len(calls) == 3  # no tests without the packages


def test_book_without_its_packages_says_how_to_install_them(monkeypatch, capsys):
    from torchnn_tools import book

    monkeypatch.setattr(install, "missing", lambda requirements: ["sphinx"])
    assert book.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs sphinx" in err
    assert f"{sys.executable} -m pip install -r requirements-book.txt" in err


def test_missing_lists_what_this_python_lacks(tmp_path):
    requirements = tmp_path / "r.txt"
    requirements.write_text("# a comment\nPyTorch_Not.Here==1.0\npytest==0.1  # any version\n")
    assert install.missing(requirements) == ["pytorch-not-here"]
    assert install.pins(requirements) == {"pytorch-not-here": "1.0", "pytest": "0.1"}
