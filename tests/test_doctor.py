"""`make doctor`: every line ok or problem with what to do; exit status 1 on a problem."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from torchnn_tools import doctor

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_network_probe(monkeypatch, fresh_choices):
    """`auto` decides without waiting for the real CIFAR-10 host."""
    from helpers import _cifar10

    monkeypatch.setattr(_cifar10, "probe", lambda url, timeout: "no network in the tests")
    monkeypatch.setattr(doctor, "_port_in_use", lambda port: False)  # a shared machine


def test_a_healthy_setup_is_all_ok(capsys, no_network_probe):
    assert doctor.main([]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines()[1:] if line.strip()]
    assert all(line.startswith("ok ") for line in lines[:-1]), out
    assert "All good" in lines[-1]
    for expected in ("Python 3.", "torch ", "device: cpu", "auto would pick synthetic",
                     "data/:", "runs/:", "kernel: JupyterLab's python3 kernel",
                     "imports helpers from " + str(ROOT / "helpers")):
        assert expected in out, expected


def test_bad_settings_are_problems_that_say_what_to_do(monkeypatch, capsys, no_network_probe):
    monkeypatch.setenv("TORCHNN_DATA", "cifar100")
    monkeypatch.setenv("TORCHNN_FAST", "maybe")
    lines, _ = doctor.check_settings()
    assert not lines[0].ok
    assert "auto, cifar10, synthetic" in lines[0].fix and "use 1 (fast) or 0" in lines[0].fix
    monkeypatch.setenv("TORCHNN_DATA", "cifar10")
    source = doctor.check_data_source()
    assert not source[-1].ok and "TORCHNN_DATA=synthetic" in source[-1].fix


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA device is here")
def test_forcing_a_missing_gpu_is_a_problem(monkeypatch):
    monkeypatch.setenv("TORCHNN_DEVICE", "cuda")
    lines, _ = doctor.check_settings()
    assert not lines[-1].ok and "unset TORCHNN_DEVICE" in lines[-1].fix


def test_data_and_runs_folders_are_described(tmp_path, monkeypatch, fake_cifar):
    from helpers import board, data

    spec = fake_cifar.spec("http://127.0.0.1:9/x")
    monkeypatch.setattr(data, "CIFAR10", spec)
    root = tmp_path / "data"
    root.mkdir()
    (root / spec.archive).write_bytes(fake_cifar.archive_bytes[:-10])
    (root / "cifar-10-python.tar.gz.part").write_bytes(b"x")
    monkeypatch.setenv("TORCHNN_DATA_DIR", str(root))
    lines = doctor.check_data_dir(needs_cifar=True)
    bad = [line for line in lines if not line.ok]
    assert len(bad) == 1 and str(root / spec.archive) in bad[0].text
    assert "Delete it and run again" in bad[0].fix
    assert any("leftovers of an interrupted download" in line.text for line in lines)

    runs = tmp_path / "runs"
    monkeypatch.setenv("TORCHNN_RUNS_DIR", str(runs))
    assert doctor.check_runs_dir()[0].ok and "does not exist yet" in doctor.check_runs_dir()[0].text
    with board.open_writer("conv2d", root=runs) as writer:
        writer.add_scalar("x", 1.0, 0)
        (runs / "mine").mkdir()
        text = " | ".join(line.text for line in doctor.check_runs_dir())
    assert "conv2d (1)" in text and "being written right now: conv2d/main" in text
    assert "other folders, not the lessons' (left alone): mine" in text


def test_a_kernel_that_cannot_import_helpers_is_a_problem(tmp_path, monkeypatch, capsys,
                                                          no_network_probe):
    """A `python3` kernel spec that Jupyter finds first and that starts another Python (here
    one that fails the way a Python without helpers does): named, with the fix."""
    other = tmp_path / "other-python"
    other.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'helpers'\" >&2\n"
                     "exit 1\n")
    other.chmod(0o755)
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(other), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    assert doctor.main([]) == 1
    out = capsys.readouterr().out
    assert (f"problem  kernel: JupyterLab's python3 kernel ({other}) cannot import helpers: "
            f"ModuleNotFoundError: No module named 'helpers'") in out
    assert "ipykernel install --sys-prefix" in out and "1 problem:" in out


def test_make_doctor_without_a_venv_says_what_to_do(tmp_path):
    result = subprocess.run(["make", "-s", "doctor", f"PY={tmp_path}/none/bin/python"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, MAKEFLAGS=""))
    assert result.returncode != 0
    assert "problem  no .venv yet -> run `make setup`" in result.stdout


def test_lab_and_tensorboard_bind_localhost_and_keep_the_token(monkeypatch):
    """The commands `make lab` / `make tensorboard` (and their Python commands) run."""
    from torchnn_tools import servers

    lab, board_cmd = servers.lab_command(), servers.tensorboard_command()
    assert "--ServerApp.ip=127.0.0.1" in lab and not any("token" in a.lower() for a in lab)
    assert board_cmd[board_cmd.index("--host") + 1] == "127.0.0.1" and "--bind_all" not in board_cmd
    result = subprocess.run(["make", "-n", "lab", "tensorboard"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    recipes = [line for line in result.stdout.splitlines() if "torchnn_tools" in line]
    assert [r.split()[0] for r in recipes[-2:]] == ["exec", "exec"], recipes  # signals reach them


def test_root_is_reported_and_lab_starts_anyway(monkeypatch, capsys):
    """As root, `make lab` says so in one line and passes --allow-root; the doctor says so too."""
    from torchnn_tools import servers

    started = []
    monkeypatch.setattr(servers, "_become", lambda command: started.append(command) or 0)
    for root in (True, False):
        monkeypatch.setattr(servers, "is_root", lambda root=root: root)
        assert servers.lab([]) == 0
        out = capsys.readouterr().out
        assert ("--allow-root" in started[-1]) is root
        assert ("You are root" in out) is root
        assert "--ServerApp.ip=127.0.0.1" in started[-1]
        lines = doctor.check_user()
        assert bool(lines) is root and all(line.ok for line in lines)


def test_a_signal_to_make_tensorboard_stops_the_server(tmp_path):
    """`make tensorboard &` then `kill $!`: the recipe execs the server, so nothing is left
    holding the port."""
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["make", "-s", "tensorboard", f"BOARD_PORT={port}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, MAKEFLAGS="",
                                     TORCHNN_RUNS_DIR=str(tmp_path / "runs")))

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    deadline = time.monotonic() + 120
    while not listening():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "TensorBoard did not start"
        time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)  # what `kill $!` sends to the backgrounded make
    proc.wait(30)
    deadline = time.monotonic() + 30
    while listening():
        assert time.monotonic() < deadline, f"port {port} still served after make was killed"
        time.sleep(0.3)


def test_an_unsupported_python_is_a_problem_with_the_versions_that_work(monkeypatch):
    """The doctor and `setup` accept the same Pythons (3.10 once passed the doctor)."""
    from torchnn_tools import install

    [line] = doctor.check_python()
    assert line.ok and line.fix == ""
    monkeypatch.setattr(install, "SUPPORTED", ((3, 99),))
    [line] = doctor.check_python()
    assert not line.ok and "wheels for Python 3.99 only" in line.fix and ".venv" in line.fix


def test_every_pinned_package_is_checked(tmp_path):
    """Not only a hand-kept list: a package pinned in requirements.txt that is absent, or at
    another version, is a problem whose fix names this very Python."""
    import sys

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("torch==0.0.1\nfilelock==99.0\nno-such-package-here==1.0\n"
                            "nbval==" + __import__("importlib.metadata").metadata.version("nbval")
                            + "\n")
    lines = doctor.check_packages(requirements)
    assert lines[0].ok and lines[0].text.startswith("packages: nbval ")
    problems = [line.text for line in lines if not line.ok]
    assert len(problems) == 3, problems
    assert any(t.startswith("torch ") and "pins 0.0.1" in t for t in problems)
    assert any(t.startswith("filelock ") and "pins 99.0" in t for t in problems)
    assert any(t.startswith("no-such-package-here is not installed") for t in problems)
    assert all(sys.executable in line.fix for line in lines if not line.ok)


def test_doctor_help_checks_nothing(capsys):
    with pytest.raises(SystemExit) as stop:
        doctor.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "usage: python -m torchnn_tools doctor" in out and "ok " not in out
