"""``lab`` and ``tensorboard``: the two servers a learner looks at, on 127.0.0.1 only.

JupyterLab keeps its token (a kernel runs any code it is sent); TensorBoard has no login at
all, which is why neither listens on other addresses. JupyterLab is started on the project's
folder and opens ``notebooks/``, so the executed copies that ``make run`` writes to
``runs/notebooks/`` are one click away. Run as root (a container, a cloud notebook), it says
so and starts with ``--allow-root``.

On Linux and macOS the command becomes the server (``os.execv``): a signal sent to it (Ctrl-C,
``kill``) reaches the server itself, and nothing is left holding the port.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from helpers import config

HOST = "127.0.0.1"
LAB_PORT, BOARD_PORT = 8888, 6006


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(port: int | None = None) -> list[str]:
    root = config.project_root()
    command = [_tool("jupyter"), "lab", f"--ServerApp.ip={HOST}", "--no-browser",
               f"--ServerApp.root_dir={root}", "--LabApp.default_url=/lab/tree/notebooks"]
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if is_root():
        command.append("--allow-root")
    return command


def tensorboard_command(port: int = BOARD_PORT) -> list[str]:
    return [_tool("tensorboard"), "--logdir", str(config.runs_dir()), "--host", HOST,
            "--port", str(port)]


def lab(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torchnn_tools lab",
                                     description="JupyterLab on 127.0.0.1, with its token.")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default: {LAB_PORT}, or the next free one)")
    args = parser.parse_args(argv)
    if is_root():
        print("You are root: JupyterLab starts with --allow-root (still on 127.0.0.1 only, and "
              "with its token).", flush=True)
    runs = config.runs_dir()
    if config.project_root() not in runs.parents:
        print(f"note: TORCHNN_RUNS_DIR is {runs}, outside the project, so JupyterLab cannot show "
              f"the executed copies in it.", flush=True)
    return _become(lab_command(args.port))


def tensorboard(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torchnn_tools tensorboard",
                                     description="TensorBoard on the runs folder, 127.0.0.1.")
    parser.add_argument("--port", type=int, default=BOARD_PORT, help="port (default: 6006)")
    args = parser.parse_args(argv)
    print(f"TensorBoard on {config.shown(config.runs_dir(), folder=True)}: "
          f"http://{HOST}:{args.port}", flush=True)
    return _become(tensorboard_command(args.port))


def _tool(name: str) -> str:
    """The console script ``name`` installed beside this Python (``.venv/bin/jupyter``)."""
    folder = Path(sys.executable).parent
    for candidate in (folder / name, folder / f"{name}.exe", folder / "Scripts" / f"{name}.exe"):
        if candidate.is_file():
            return str(candidate)
    return name


def _become(command: list[str]) -> int:
    """Run ``command`` in place of this process (POSIX), or as a child we wait for (Windows)."""
    sys.stdout.flush()
    if os.name == "posix":
        os.execvp(command[0], command)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130
