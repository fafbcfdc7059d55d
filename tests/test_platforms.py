"""Linux, macOS and Windows: what differs on Windows, simulated here, and paths with spaces
and Chinese characters (a Chinese user name, a folder called "我的 文档").

Windows itself cannot run here, so these tests take away what it lacks: the POSIX-only modules
(``fcntl``, ``termios``, ``resource``), ``os.killpg`` and ``signal.SIGKILL``, and ``make``.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import POSIX_ONLY_MODULES, make_notebook, windows_like

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"
POSIX_ONLY_CALLS = {("os", "killpg"), ("os", "getpgid"), ("os", "setsid"), ("os", "fork"),
                    ("signal", "SIGKILL"), ("os", "geteuid")}
CHINESE = "中文 目录"


def learner_modules() -> list[str]:
    """Every module of ``helpers``, private machinery included (a notebook imports them all,
    directly or not)."""
    return sorted(f"helpers.{p.stem}" for p in HELPERS.glob("*.py") if p.stem != "__init__")


def test_every_learner_module_is_listed_in_the_package_docstring():
    import helpers

    public = [m.split(".")[1] for m in learner_modules() if not m.split(".")[1].startswith("_")]
    for name in public:
        assert f"``{name}``" in helpers.__doc__, f"helpers/__init__.py does not list {name}"


def test_no_learner_module_uses_posix_only_modules_or_calls():
    """Read the source: no `import fcntl`, no `os.killpg(...)`, in anything a notebook imports,
    nor in the runner that stops their kernels."""
    found = []
    for path in [*sorted(HELPERS.glob("*.py")), ROOT / "torchnn_tools" / "runner.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            found += [f"{path.name}: import {n}" for n in names if n in POSIX_ONLY_MODULES]
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in POSIX_ONLY_CALLS):
                found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not found, found


USE_THE_HELPERS = """
import importlib, sys, warnings
from pathlib import Path
warnings.simplefilter("ignore")  # filelock says it falls back to a marker-file lock
modules = sys.argv[1].split(",")
for name in modules:
    importlib.import_module(name)
import helpers
from helpers import board, data, loaders
settings = helpers.setup(seed=0, verbose=False)
with board.open_writer("module", "windows") as writer:
    writer.add_scalar("x", 1.0, 0)
assert board.read_scalars(board.run_dir("module", "windows"), "x") == [(0, 1.0)]
X, y = next(iter(loaders.InMemoryLoader(data.load_dataset(train=False), batch_size=8)))
print("imported", len(modules), tuple(X.shape))
"""


def test_learner_modules_import_and_work_without_posix_only_modules(tmp_path):
    env = dict(os.environ, TORCHNN_RUNS_DIR=str(tmp_path / "runs"))
    done = subprocess.run([sys.executable, "-c", windows_like() + USE_THE_HELPERS,
                           ",".join(learner_modules())], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["imported", str(len(learner_modules())), "(8,", "3,", "32,",
                                   "32)"]


def test_runs_and_data_under_a_path_with_spaces_and_chinese(tmp_path, fake_cifar, http_dir,
                                                            fresh_choices):
    """A CIFAR-10 download, its check and its images, and a TensorBoard run written and read
    back, all in folders named like a Chinese learner's."""
    from helpers import board, data

    base = tmp_path / CHINESE
    served, url = http_dir
    (served / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes)
    spec = fake_cifar.spec(f"{url}/cifar-10-python.tar.gz")
    test_set = data.load_dataset(False, source="cifar10", root=base / "数据", spec=spec)
    assert len(test_set) == 4 and data.check_cifar10(base / "数据", spec) == []
    with board.open_writer("linear", "我的实验", root=base / "runs") as writer:
        writer.add_scalar("loss", 0.5, 0)
    run = base / "runs" / "linear" / "我的实验"
    assert board.read_scalars(run, "loss") == [(0, 0.5)] and len(board.event_files(run)) == 1


def _copy_of_the_project(dest: Path) -> Path:
    """The project as a fresh clone has it: the files git tracks (and new ones it does not
    ignore), without .venv, data or runs."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.mark.skipif(os.name != "posix", reason="simulates Windows on a POSIX machine")
def test_the_readme_path_without_make_on_a_fresh_clone(tmp_path):
    """README "Without make", step by step, in a fresh copy of the project under a folder
    named with spaces and Chinese characters, with no `make` on the PATH: create the venv,
    pip install, then `python -m torchnn_tools run` in CI settings. It must succeed and write
    every lesson's runs into the copy's own runs/.

    To keep it to a minute, the new venv sees this environment's installed packages (one .pth
    line), so pip finds the pinned versions already there and installs only the project itself;
    everything else is the README's commands as a learner types them.
    """
    import sysconfig

    clone = _copy_of_the_project(tmp_path / CHINESE / "torch.nn notebooks")
    no_make = tmp_path / "bin"
    no_make.mkdir()
    for tool in ("git",):  # what pip may need; `make` is deliberately not there
        if shutil.which(tool):
            (no_make / tool).symlink_to(shutil.which(tool))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHNN_")}
    env.update(PATH=str(no_make), TORCHNN_DATA="synthetic", TORCHNN_FAST="1", HOME=str(tmp_path),
               PIP_DISABLE_PIP_VERSION_CHECK="1")

    def step(*command):
        done = subprocess.run([str(c) for c in command], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=1200)
        assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    assert shutil.which("make", path=env["PATH"]) is None
    base_python = getattr(sys, "_base_executable", sys.executable)
    step(base_python, "-m", "venv", ".venv")
    python = clone / ".venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_shared_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    step(python, "-m", "pip", "install", "-r", "requirements.txt", "-e", ".")
    out = step(python, "-m", "torchnn_tools", "run")
    assert "8 notebooks in" in out and ", 0 failed" in out, out[-3000:]
    helpers_file = step(python, "-c", "import helpers; print(helpers.__file__)").strip()
    assert Path(helpers_file).resolve() == (clone / "helpers" / "__init__.py").resolve()
    from helpers.board import TOPICS

    assert {p.name for p in (clone / "runs").iterdir() if p.is_dir()} >= set(TOPICS)
    assert len(list((clone / "runs" / "notebooks").glob("*.ipynb"))) == 8


def test_jobs_must_be_at_least_one(tmp_path, capsys, monkeypatch):
    from torchnn_tools import runner

    monkeypatch.setenv("TORCHNN_RUNS_DIR", str(tmp_path / "runs"))  # nothing may appear there

    notebook = tmp_path / "01_x.ipynb"
    make_notebook(notebook, ["print(1)"])
    for jobs in ("0", "-3"):
        assert runner.main(["--jobs", jobs, str(notebook)]) == runner.EXIT_SETUP
        assert capsys.readouterr().err == (f"error: --jobs {jobs}: give at least 1 (notebooks "
                                           f"executed at once).\n")
    assert not (tmp_path / "runs").exists()


def test_help_without_make_lists_every_makefile_target():
    """`python -m torchnn_tools help` and `make help` name the same commands."""
    out = subprocess.run([sys.executable, "-m", "torchnn_tools", "help"], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    makefile = (ROOT / "Makefile").read_text()
    targets = {line.split(":")[0] for line in makefile.splitlines() if " ## " in line}
    for target in targets - {"help", "clean"}:
        assert f"\n  {target} " in out, target
        assert f"torchnn_tools {target}" in makefile, f"make {target} does not call its command"
