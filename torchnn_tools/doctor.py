"""``make doctor``: what to run first when something is off.

``python -m torchnn_tools doctor`` checks, one line each, ``ok`` or ``problem`` with what to do:

- Python and the packages, against the versions ``requirements.txt`` pins;
- that ``helpers`` is this project's, installed in this environment;
- the settings (``TORCHNN_*``) and the device they give;
- which data source ``auto`` would pick and why, and what the current setting gives;
- ``data/``: exists, writable, CIFAR-10's archive and folder present and checked (MD5);
- ``runs/``: exists, writable, the lessons' runs in it, runs being written right now;
- the kernel JupyterLab will start (the ``python3`` kernel spec, found the way Jupyter finds
  it): can it import ``helpers``?
- the ports ``make lab`` and ``make tensorboard`` use.

It changes nothing (no downloads, no folders created) and exits 1 when a line says problem.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers import config
from helpers._folders import nearest_existing, unwritable
from helpers.errors import DataError, SettingError
from torchnn_tools import install
from torchnn_tools.servers import BOARD_PORT, LAB_PORT

SHOWN = ("torch", "torchvision", "numpy", "tensorboard", "jupyterlab", "nbval")  # by name
KERNEL_TIMEOUT = 180  # seconds for the kernel's Python to import helpers (torch is large)
PYTHON = sys.executable  # the commands in the fixes name this very Python (any platform)


@dataclass
class Line:
    ok: bool
    text: str
    fix: str = ""


def check_python() -> list[Line]:
    venv = config.project_root() / ".venv"
    where = "the project's .venv" if Path(sys.prefix).resolve() == venv.resolve() else (
        f"not the project's .venv ({venv})")
    problem = install.check_python()
    fix = problem.removeprefix("error: ") + " Then delete .venv and run setup again." if (
        problem) else ""
    return [Line(not problem, f"Python {platform.python_version()} ({sys.executable}, {where})",
                 fix)]


def check_packages(requirements: Path | None = None) -> list[Line]:
    """Every package ``requirements.txt`` pins, at its version; the main ones by name."""
    pinned = install.pins(requirements or config.project_root() / "requirements.txt")
    reinstall = f"run `make setup`, or `{PYTHON} -m pip install -r requirements.txt -e .`"
    good, lines = [], []
    for name, want in pinned.items():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            lines.append(Line(False, f"{name} is not installed in {sys.prefix}", reinstall))
            continue
        if have.split("+")[0] != want:
            lines.append(Line(False, f"{name} {have} is installed, requirements.txt pins {want}",
                              reinstall))
        else:
            good.append(f"{name} {have}")
    if good:
        named = [g for g in good if g.split()[0] in SHOWN]
        more = len(good) - len(named)
        lines.insert(0, Line(True, "packages: " + ", ".join(named) + (
            f" and {more} more, as pinned" if more else "")))
    return lines


def check_helpers() -> list[Line]:
    import helpers

    origin = Path(helpers.__file__).resolve().parent
    if origin != config.project_root() / "helpers":
        return [Line(False, f"`import helpers` finds {origin}, not this project's",
                     "run `make setup` from this project, and use its .venv")]
    try:
        importlib.metadata.version("torchnn-notebooks-helpers")
    except importlib.metadata.PackageNotFoundError:
        return [Line(False, f"helpers ({origin}) is not installed in {sys.prefix}: JupyterLab "
                     f"kernels started in notebooks/ cannot import it",
                     "run `make setup` (installs it with `pip install -e .`)")]
    return [Line(True, f"helpers {helpers.__version__} from {origin} (installed editable)")]


def check_settings() -> tuple[list[Line], object]:
    """The settings and the device; returns the lines and the device (or None)."""
    import torch

    from helpers.session import pick_device

    lines, device = [], None
    shown = [f"{name}={value}" if value else f"{name} unset ({config.DEFAULTS[name]})"
             for name, value in config.as_set().items()]
    problems = config.problems()
    lines.append(Line(not problems, "settings: " + ", ".join(shown),
                      " ".join(problems) + (" (see README: Settings)" if problems else "")))
    cuda = f"torch built with CUDA {torch.version.cuda}" if torch.version.cuda else (
        "torch built without CUDA")
    try:
        device, why = pick_device()
    except SettingError as err:  # not a device, or one this machine does not have
        lines.append(Line(False, f"device: TORCHNN_DEVICE cannot be used ({cuda})",
                          f"{err} For a GPU see README: Using a GPU."))
        return lines, None
    lines.append(Line(True, f"device: {device} ({why}; {cuda})"))
    return lines, device


def check_data_source() -> list[Line]:
    from helpers import data

    auto = data.choose_source("auto")
    lines = [Line(True, f"data source: auto would pick {auto.source}: {auto.reason}")]
    try:
        setting = config.data_source()
    except DataError:
        return lines  # reported with the settings
    if setting == "cifar10" and auto.source != "cifar10":
        lines.append(Line(False, "data source: TORCHNN_DATA=cifar10, but CIFAR-10 is not in "
                          f"{config.data_dir()} and cannot be downloaded",
                          f"put {data.CIFAR10.archive} into {config.data_dir()}, or set "
                          f"TORCHNN_DATA=synthetic"))
    elif setting != "auto":
        lines.append(Line(True, f"data source: TORCHNN_DATA={setting} is set, so the notebooks "
                          f"use {setting}"))
    return lines


def _absent_folder(label: str, root: Path, variable: str, fatal: bool, later: str
                   ) -> list[Line]:
    """The line for a folder that does not exist yet (can it be created?) or is not a
    folder; nothing when it is a folder. ``fatal``: whether failing to create it is a
    problem."""
    if not root.exists():
        parent = nearest_existing(root)
        why = unwritable(parent) if parent.is_dir() else "not a folder"
        if why:
            return [Line(not fatal, f"{label}: {root} does not exist and cannot be created "
                         f"({parent}: {why})", f"create it, or point {variable} at a "
                         "folder you can write to")]
        return [Line(True, f"{label}: {root} does not exist yet ({later})")]
    if not root.is_dir():
        return [Line(False, f"{label}: {root} is not a folder",
                     f"move that file away, or point {variable} at a folder")]
    return []


def check_data_dir(needs_cifar: bool) -> list[Line]:
    from helpers import data

    root, spec = config.data_dir(), data.CIFAR10
    absent = _absent_folder("data/", root, "TORCHNN_DATA_DIR", fatal=needs_cifar,
                            later="created on the first download; the synthetic set needs "
                                  "no files")
    if absent:
        return absent
    lines = []
    folder, archive = root / spec.folder, root / spec.archive
    why = unwritable(root)
    if why and needs_cifar and not folder.is_dir():
        lines.append(Line(False, f"data/: {root} is not writable ({why}), so CIFAR-10 cannot be "
                          f"downloaded or unpacked there",
                          "make it writable, point TORCHNN_DATA_DIR at a folder you can write "
                          "to, or set TORCHNN_DATA=synthetic"))
    else:
        state = "writable" if not why else f"read-only ({why}; fine while nothing must be saved)"
        lines.append(Line(True, f"data/: {root} exists, {state}"))
    found = data.check_cifar10(root, spec)
    for problem in found:
        lines.append(Line(False, f"CIFAR-10: {problem.what}", problem.fix))
    broken = {problem.path for problem in found}
    if archive.is_file() and archive not in broken:
        lines.append(Line(True, f"CIFAR-10 archive {archive.name}: present, MD5 checked"))
    if folder.is_dir() and not any(folder in path.parents for path in broken):
        lines.append(Line(True, f"CIFAR-10 folder {folder.name}/: all {len(spec.files)} files "
                          f"present, MD5 checked"))
    if not archive.is_file() and not folder.is_dir():
        lines.append(Line(True, f"CIFAR-10: not in {root} (no {spec.archive}, no "
                          f"{spec.folder}/); `auto` downloads it when it can, else uses the "
                          f"synthetic set"))
    leftovers = sorted(p.name for p in root.iterdir()
                       if p.name.endswith(".part") or p.name.startswith(".extract-"))
    if leftovers:
        lines.append(Line(True, f"data/: leftovers of an interrupted download: "
                          f"{', '.join(leftovers)} (harmless; safe to delete)"))
    return lines


def check_runs_dir() -> list[Line]:
    from helpers.board import TOPICS, event_files, runs_being_written

    root = config.runs_dir()
    absent = _absent_folder("runs/", root, "TORCHNN_RUNS_DIR", fatal=True,
                            later="created by the first notebook or `make run`")
    if absent:
        return absent
    why = unwritable(root)
    lines = [Line(not why, f"runs/: {root} exists, " + ("writable" if not why else
                                                          f"not writable ({why})"),
                  "" if not why else "make it writable, or point TORCHNN_RUNS_DIR at a folder "
                  "you can write to: the notebooks log their TensorBoard runs there")]
    present = {t: sorted(p.name for p in (root / t).iterdir() if p.is_dir() and event_files(p))
               for t in TOPICS if (root / t).is_dir()}
    lessons = ", ".join(f"{t} ({len(r)})" for t, r in present.items() if r)
    missing = [t for t in TOPICS if not present.get(t)]
    lines.append(Line(True, f"runs/: lesson runs: {lessons or 'none yet'}" + (
        f"; none yet for {', '.join(missing)} (`make run` writes them)" if missing else "")))
    busy = runs_being_written(root)
    if busy:
        lines.append(Line(True, f"runs/: being written right now: {', '.join(busy)}"))
    others = sorted(p.name for p in root.iterdir()
                    if p.is_dir() and p.name not in TOPICS and p.name != "notebooks")
    if others:
        lines.append(Line(True, f"runs/: other folders, not the lessons' (left alone): "
                          f"{', '.join(others)}"))
    executed = root / "notebooks"
    if executed.is_dir():
        copies = sorted(executed.glob("*.ipynb"))
        tmp = sorted(executed.glob(".*.tmp"))
        lines.append(Line(True, f"runs/notebooks/: {len(copies)} executed notebooks from "
                          f"`make run`" + (f"; {len(tmp)} temporary files of an interrupted run "
                                           f"(safe to delete)" if tmp else "")))
    return lines


def kernel_python() -> tuple[list[str], str]:
    """The command JupyterLab starts for the ``python3`` kernel, and where its spec lives."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    argv = list(spec.argv)
    # jupyter_client runs a spec's bare `python`/`python3` as its own interpreter.
    if argv and argv[0] in {"python", f"python{sys.version_info[0]}",
                            "python{}.{}".format(*sys.version_info[:2])}:
        argv[0] = sys.executable
    return argv, spec.resource_dir


def check_kernel() -> list[Line]:
    from jupyter_client.kernelspec import NoSuchKernel

    try:
        argv, where = kernel_python()
    except NoSuchKernel:
        return [Line(False, "kernel: Jupyter finds no `python3` kernel",
                     f"run `{PYTHON} -m ipykernel install --sys-prefix`")]
    fix = (f"the python3 kernel spec in {where} starts {argv[0]}; register this environment's "
           f"instead: `{PYTHON} -m ipykernel install --sys-prefix` (or remove {where})")
    probe = "import sys, helpers; print(helpers.__file__); print(sys.executable)"
    try:
        done = subprocess.run([argv[0], "-c", probe], cwd=(config.project_root() / "notebooks"),
                              capture_output=True, text=True, timeout=KERNEL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [Line(False, f"kernel: {argv[0]} (from {where}) could not run: {err}", fix)]
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["exit status " + str(done.returncode)])[-1]
        return [Line(False, f"kernel: JupyterLab's python3 kernel ({argv[0]}) cannot import "
                     f"helpers: {last}", fix)]
    found = Path(done.stdout.split("\n")[0].strip()).resolve().parent
    if found != config.project_root() / "helpers":
        return [Line(False, f"kernel: JupyterLab's python3 kernel ({argv[0]}) imports another "
                     f"helpers: {found}", fix)]
    return [Line(True, f"kernel: JupyterLab's python3 kernel ({argv[0]}) imports helpers "
                 f"from {found}")]


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def check_user() -> list[Line]:
    """Root (a container, a cloud notebook) is fine, but Jupyter needs to be told."""
    from torchnn_tools.servers import is_root

    if is_root():
        return [Line(True, "user: you are root; `make lab` says so and starts JupyterLab with "
                     "--allow-root (still on 127.0.0.1 only, with its token)")]
    return []


def check_ports() -> list[Line]:
    lines = []
    if _port_in_use(LAB_PORT):
        lines.append(Line(True, f"port {LAB_PORT} is in use (another JupyterLab?): `make lab` "
                          f"takes the next free one and prints its address"))
    if _port_in_use(BOARD_PORT):
        lines.append(Line(False, f"port {BOARD_PORT} is in use: `make tensorboard` cannot "
                          f"start there", f"if it is a TensorBoard of yours, just browse "
                          f"http://127.0.0.1:{BOARD_PORT}; else stop what holds it, or run "
                          f"`make tensorboard BOARD_PORT=6007` (without make: "
                          f"`{PYTHON} -m torchnn_tools tensorboard --port 6007`)"))
    if not lines:
        lines.append(Line(True, f"ports {LAB_PORT} (make lab) and {BOARD_PORT} (make tensorboard)"
                          f" are free on 127.0.0.1"))
    return lines


def _needs_cifar() -> bool:
    """Whether the notebooks would use CIFAR-10 here (so data/ must hold or receive it)."""
    from helpers import data

    with contextlib.suppress(Exception):
        setting = config.data_source()
        return setting == "cifar10" or (setting == "auto" and
                                        data.choose_source("auto").source == "cifar10")
    return False


def run_checks() -> list[Line]:
    lines: list[Line] = []

    def guarded(name, check, *args):
        try:
            result = check(*args)
        except Exception as err:  # a check that breaks is itself a problem to report
            result = [Line(False, f"{name}: the check failed: {type(err).__name__}: {err}",
                           "run `make setup`; if it persists, report it with this output")]
        lines.extend(result)
        return result

    guarded("python", check_python)
    guarded("packages", check_packages)
    guarded("helpers", check_helpers)
    settings = []
    with contextlib.suppress(Exception):
        settings, _ = check_settings()
    lines.extend(settings or [Line(False, "settings: could not be read", "see README: Settings")])
    guarded("data source", check_data_source)
    guarded("data", check_data_dir, _needs_cifar())
    guarded("runs", check_runs_dir)
    guarded("kernel", check_kernel)
    guarded("user", check_user)
    guarded("ports", check_ports)
    return lines


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m torchnn_tools doctor",
                            description="Check the setup, one line each: ok, or problem "
                                        "with what to do.",
                            epilog="It changes nothing and exits 1 when a line says problem."
                            ).parse_args(argv)
    print(f"torch.nn notebooks: doctor ({config.project_root()})", flush=True)
    lines = run_checks()
    for line in lines:
        print(f"{'ok' if line.ok else 'problem':<8} {line.text}")
        if not line.ok and line.fix:
            print(f"{'':<8} -> {line.fix}")
    problems = sum(not line.ok for line in lines)
    if problems:
        print(f"\n{problems} problem{'s' if problems > 1 else ''}: fix the lines marked "
              f"`problem` (each says how), then run `make doctor` again.")
        return 1
    print("\nAll good. `make run` executes the notebooks; `make lab` and `make tensorboard` "
          "show them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
