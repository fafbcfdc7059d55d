"""A learner's first hour: read-only and missing folders, two runs at once, the same numbers
twice, the helpers' errors in a notebook. (No network, broken downloads and unknown settings:
tests/test_data_cifar.py; run replacement: tests/test_board.py; Ctrl-C: tests/test_runner.py.)"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from conftest import files_under, make_notebook

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534


# --------------------------------------------------------------------------------------------
# Read-only and missing folders


def _set_writable(paths, writable: bool) -> None:
    for path in paths:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            mode = item.stat().st_mode & 0o777
            item.chmod(mode | 0o200 if writable else mode & ~0o222)


@pytest.fixture
def unprivileged():
    """``(run, base, protect)``: ``run(code, *args, env=...)`` runs Python as a user who cannot
    write what ``protect(*paths)`` protected; ``base`` is a world-readable scratch folder.

    We may be root, for whom a read-only mode means nothing: then the code runs as ``nobody``
    (through ``setpriv``) and everything we create is already out of its reach. As another
    user, ``protect`` takes the write bits away.
    """
    base = Path(tempfile.mkdtemp(prefix="torchnn-ro-"))
    base.chmod(0o755)
    home = base / "home"
    home.mkdir()
    home.chmod(0o777)
    env_base = {"HOME": str(home), "MPLCONFIGDIR": str(home / "mpl")}
    protected = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            shutil.rmtree(base)
            pytest.skip("running as root without setpriv: cannot make a folder read-only for us")
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        probe = subprocess.run([*prefix, sys.executable, "-c", f"open('{base}/x', 'w')"],
                               capture_output=True, text=True)
        if probe.returncode == 0 or "PermissionError" not in probe.stderr:
            shutil.rmtree(base)
            pytest.skip(f"setpriv cannot drop root here: {probe.stderr.strip()[-200:]}")
    else:
        prefix = []

    def run(code, *args, env=None):
        return subprocess.run(
            [*prefix, sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
            capture_output=True, text=True, timeout=300, cwd=base,
            env=dict(os.environ, **env_base, **(env or {})))

    def protect(*paths):
        for path in paths:
            for item in [path, *path.rglob("*")]:
                if item.is_dir():
                    item.chmod(0o755)
            if os.geteuid() != 0:
                _set_writable([path], False)
                protected.append(path)

    yield run, base, protect
    _set_writable(protected, True)
    shutil.rmtree(base, ignore_errors=True)


READ_ONLY_CHECKS = """
import contextlib, io, json, sys
from pathlib import Path
from helpers import board, data
from torchnn_tools import doctor, runner

base = Path(sys.argv[1])
seen = {}

def attempt(name, call):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            result = call()
        seen[name] = f"no error: {result!r} {out.getvalue()}"
    except Exception as err:
        seen[name] = f"{type(err).__module__}.{type(err).__name__}: {err}"

attempt("writer, empty runs/", lambda: board.open_writer("conv2d", root=base / "runs"))
attempt("writer, old run", lambda: board.open_writer("conv2d", root=base / "old-runs"))
attempt("cifar10, data/", lambda: data.load_dataset(True, source="cifar10",
                                                     root=base / "data"))
attempt("cifar10, missing data/", lambda: data.load_dataset(True, source="cifar10",
                                                             root=base / "data" / "sub"))

def run_make_run():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = runner.main([str(base / "tiny.ipynb")])
    return code, out.getvalue()

seen["make run"] = run_make_run()
seen["doctor runs"] = [(l.ok, l.text, l.fix) for l in doctor.check_runs_dir()]
seen["doctor data"] = [(l.ok, l.text, l.fix) for l in doctor.check_data_dir(True)]
print(json.dumps(seen))
"""


def test_read_only_folders_give_one_clear_message(unprivileged):
    """runs/ and data/ that exist but cannot be written: each error says which folder and what
    to do, in our own words (no PermissionError from deep inside TensorBoard or the download),
    and `make run` stops before starting any notebook."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from helpers import board

    run, base, protect = unprivileged
    (base / "runs").mkdir()
    with board.open_writer("conv2d", root=base / "old-runs") as writer:
        writer.add_scalar("loss", 1.0, 0)
    (base / "data").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("print(1)")]), base / "tiny.ipynb")
    before = files_under(base / "old-runs")
    protect(base / "runs", base / "data", base / "old-runs")
    done = run(READ_ONLY_CHECKS, base, env={"TORCHNN_RUNS_DIR": str(base / "runs"),
                                            "TORCHNN_DATA_DIR": str(base / "data"),
                                            "TORCHNN_DATA": "synthetic"})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    runs, old, data_ro = base / "runs", base / "old-runs", base / "data"
    assert seen["writer, empty runs/"] == (
        f"helpers.errors.BoardError: cannot write TensorBoard logs to {runs}/conv2d/main "
        f"(Permission denied). Make {runs} writable or point TORCHNN_RUNS_DIR at a folder you "
        f"can write to.")
    assert seen["writer, old run"].startswith(
        f"helpers.errors.BoardError: cannot write TensorBoard logs to {old}/conv2d/main")
    assert seen["cifar10, data/"] == (
        f"helpers.errors.DataError: the data folder {data_ro} is read-only, so CIFAR-10 cannot be "
        f"downloaded or unpacked there. Make it writable, point TORCHNN_DATA_DIR at a folder "
        f"you can write to, or set TORCHNN_DATA=synthetic.")
    assert seen["cifar10, missing data/"].startswith(
        f"helpers.errors.DataError: the data folder {data_ro}/sub does not exist and cannot be "
        f"created (Permission denied).")
    code, output = seen["make run"]
    assert code == 2
    assert output.strip().splitlines()[-1] == (
        f"error: cannot write to {runs}/notebooks (Permission denied). Make {runs} writable or "
        f"point TORCHNN_RUNS_DIR at a folder you can write to.")
    assert "Traceback" not in output and "running tiny.ipynb" not in output
    ok, text, fix = seen["doctor runs"][0]
    assert not ok and "not writable" in text and "TORCHNN_RUNS_DIR" in fix
    assert any(not ok and "CIFAR-10 cannot be downloaded" in text
               for ok, text, _ in seen["doctor data"])
    assert files_under(old) == before  # the old run is still there, whole


def test_missing_folders_are_created_on_demand(tmp_path, fake_cifar, http_dir, fresh_choices):
    """No data/ and no runs/ (a fresh clone, or deleted by hand): both appear when needed."""
    from helpers import board, data

    served, base = http_dir
    (served / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes)
    root = tmp_path / "deep" / "data"
    data.load_dataset(False, source="cifar10", root=root,
                      spec=fake_cifar.spec(f"{base}/cifar-10-python.tar.gz"))
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()
    runs = tmp_path / "deep" / "runs"
    with board.open_writer("linear", root=runs) as writer:
        writer.add_scalar("x", 1.0, 0)
    assert board.read_run(runs / "linear" / "main")["scalars"] == ["x"]


# --------------------------------------------------------------------------------------------
# Two at once


class _SlowCounting(http.server.SimpleHTTPRequestHandler):
    """Serves files slowly (so two downloads would overlap) and counts the GETs."""

    gets: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).gets.append(self.path)
        path = Path(self.translate_path(self.path))
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), len(body) // 10 + 1):
            self.wfile.write(body[start:start + len(body) // 10 + 1])
            self.wfile.flush()
            time.sleep(0.15)


PREPARE = """
import json, sys, time
from pathlib import Path
from helpers import data
root, go, spec = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
spec = data.Cifar10Spec(**{k: tuple(map(tuple, v)) if k == "files" else
                           tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
while not go.exists():
    time.sleep(0.01)
ds = data.load_dataset(True, source="cifar10", root=root, spec=spec)
print(len(ds), int(ds.data.sum()))
"""


def test_two_processes_share_one_cifar10_download(tmp_path, fake_cifar):
    """Two notebooks that need CIFAR-10 at the same moment: one downloads and unpacks, the
    other waits for it; both read the same images; nothing is left half-written."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "cifar-10-python.tar.gz").write_bytes(fake_cifar.archive_bytes)
    _SlowCounting.gets = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_SlowCounting, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz"
    root, go = tmp_path / "data", tmp_path / "go"
    spec = json.dumps(asdict(fake_cifar.spec(url)))
    try:
        procs = [subprocess.Popen([sys.executable, "-c", PREPARE, str(root), str(go), spec],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        time.sleep(1)
        go.touch()
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        server.shutdown()
        server.server_close()
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert outs[0][0] == outs[1][0] and outs[0][0].split()[0] == "20"
    assert _SlowCounting.gets == ["/cifar-10-python.tar.gz"]  # downloaded once
    assert files_under(root) == {".cifar10.lock", "cifar-10-python.tar.gz",
                                 *(f"cifar-10-batches-py/{n}" for n in fake_cifar.files)}


SLOW_WRITER = """\
import time
from helpers.board import open_writer, read_scalars, run_dir

with open_writer("module", "race") as writer:
    for step in range(6):
        writer.add_scalar("loss", float(step), step)
        writer.flush()
        time.sleep(0.3)
assert read_scalars(run_dir("module", "race"), "loss") == [(s, float(s)) for s in range(6)]
print("read back")
"""


def test_two_make_runs_at_once_leave_one_whole_copy_of_each_run(tmp_path):
    """Two `make run`s executing the same notebook at the same time: each notebook reads back
    a complete run, the run ends up there once (no doubled steps), and nothing outside the
    lessons' runs is touched."""
    import nbformat
    from torch.utils.tensorboard import SummaryWriter

    from helpers import board

    runs = tmp_path / "runs"
    with SummaryWriter(str(runs / "mine" / "exp")) as mine:
        mine.add_scalar("loss", 5.0, 0)
    (runs / "bench.json").write_text("{}")
    before = files_under(runs)
    notebook = tmp_path / "01_race.ipynb"
    make_notebook(notebook, [SLOW_WRITER])
    env = dict(os.environ, TORCHNN_RUNS_DIR=str(runs))
    command = [sys.executable, "-m", "torchnn_tools", "run", str(notebook)]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    if [p.returncode for p in procs] != [0, 0]:  # each runner's whole output, not a repr cut
        logs = sorted((runs / "notebooks").glob("*.kernel.log"))
        pytest.fail("".join(f"\n----- runner {i} (exit status {p.returncode}) -----\n{out}"
                            for i, (p, out) in enumerate(zip(procs, outs))) + "".join(
            f"\n----- {log.name} -----\n{log.read_text()}" for log in logs), pytrace=False)
    run = runs / "module" / "race"
    assert board.read_scalars(run, "loss") == [(s, float(s)) for s in range(6)]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    assert before <= files_under(runs)
    assert json.loads((runs / "bench.json").read_text()) == {}
    executed = nbformat.read(runs / "notebooks" / "01_race.ipynb", as_version=4)
    assert executed.cells[0].outputs[-1]["text"].endswith("read back\n")


# --------------------------------------------------------------------------------------------
# The same numbers twice

FIRST_EPOCH = """
import torch
from helpers import setup
from helpers.data import load_dataset
from helpers.loaders import InMemoryLoader
from helpers.models import CifarNet
from helpers.train import train_one_epoch

settings = setup(seed=0, verbose=False)
loader = InMemoryLoader(load_dataset(train=True), batch_size=64, shuffle=True,
                        seed=settings.seed)
model = CifarNet()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss = train_one_epoch(model, loader, torch.nn.CrossEntropyLoss(), optimizer, "cpu",
                       show_progress=False)
print(repr(loss))
"""


def test_same_settings_give_the_same_first_epoch_loss():
    """The lesson network's first epoch in CI settings, in two fresh processes: equal to the
    last bit (seeding happens in setup(); nothing depends on the time or the process)."""
    procs = [subprocess.Popen([sys.executable, "-c", FIRST_EPOCH], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    first, second = (float(out.strip().splitlines()[-1]) for out, _ in outs)
    assert first == second
    assert 2.0 < first < 2.4  # one short CI epoch: still near ln(10) = 2.30, and finite


# --------------------------------------------------------------------------------------------
# In a notebook: the helpers' errors are one line, not a traceback wall

MISTAKES = [
    ("import os\nos.environ['TORCHNN_DATA'] = 'cifar100'\nfrom helpers import setup\nsetup()",
     "DataError", "auto, cifar10, synthetic"),
    ("os.environ.update(TORCHNN_DATA='synthetic', TORCHNN_DEVICE='tpu')\nsetup()",
     "SettingError", "TORCHNN_DEVICE='tpu' is not a device"),
    ("from helpers.board import open_writer\nopen_writer('no-such-lesson', 'x')",
     "BoardError", "no-such-lesson"),
]


def test_a_notebook_shows_the_helpers_errors_as_one_line(tmp_path):
    """In a real kernel, each of the helpers' errors is shown as `Name: message` (one line,
    no frames from the helpers' code); any other error keeps IPython's full traceback."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [code for code, _, _ in MISTAKES] + ["def broken():\n    return 1 / 0\nbroken()"]
    nb = new_notebook(cells=[new_code_cell(code) for code in cells])
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [[o for o in cell.outputs if o.output_type == "error"] for cell in nb.cells]
    assert all(len(found) == 1 for found in errors), errors
    for (_, name, words), [error] in zip(MISTAKES, errors):
        assert error.ename == name and words in error.evalue
        assert len(error.traceback) == 1, error.traceback
        assert error.traceback[0].endswith(f"{name}\x1b[0m: {error.evalue}")
        assert "helpers/" not in error.traceback[0]
    other = errors[-1][0]
    assert other.ename == "ZeroDivisionError" and len(other.traceback) > 1
