"""The notebook runner behind `make run` / `make notebooks`, on two tiny notebooks."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import make_notebook, windows_like

GOOD = [
    "from helpers.board import open_writer",
    "with open_writer('module', 'tiny') as w:\n    w.add_scalar('x', 1.0, 0)",
    "print(6 * 7)",
]
BAD = ["get_ipython().kernel.log.error('a low-level detail')",
       "raise ValueError('this lesson is broken')", "print('never')"]


@pytest.fixture
def two_notebooks(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    good, bad = folder / "01_good.ipynb", folder / "02_bad.ipynb"
    return good, make_notebook(good, GOOD), bad, make_notebook(bad, BAD)


def run(args, tmp_path):
    env = dict(os.environ, TORCHNN_RUNS_DIR=str(tmp_path / "runs"))
    return subprocess.run([sys.executable, "-m", "torchnn_tools", "run", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_failure_is_reported_others_still_run_sources_untouched(tmp_path, two_notebooks):
    good, good_bytes, bad, bad_bytes = two_notebooks
    result = run([bad, good], tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert "ValueError: this lesson is broken" in out
    assert "| raise ValueError('this lesson is broken')" in out  # the failing cell
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("01_good", "02_bad"))}
    assert rows["02_bad.ipynb"][2] == "FAILED" and rows["01_good.ipynb"][2] == "ok"
    # Each notebook says when it is done, as it finishes (two run at once by default).
    assert re.search(r"^finished 01_good\.ipynb in \d+\.\d s: ok$", out, re.M)
    assert re.search(r"^finished 02_bad\.ipynb in \d+\.\d s: FAILED$", out, re.M)
    assert "module/tiny (0/1/0/0)" in out
    executed = nbformat.read(tmp_path / "runs" / "notebooks" / "01_good.ipynb", as_version=4)
    assert executed.cells[2].outputs[0]["text"] == "42\n"
    assert (tmp_path / "runs" / "notebooks" / "02_bad.ipynb").exists()
    # The kernel process's own output (not a cell's) is kept for the failed notebook only.
    log = tmp_path / "runs" / "notebooks" / "02_bad.kernel.log"
    assert f"(the kernel's own output: {log})" in out and "a low-level detail" in log.read_text()
    assert sorted(p.name for p in log.parent.iterdir()) == [
        "01_good.ipynb", "02_bad.ipynb", "02_bad.kernel.log"]
    assert good.read_bytes() == good_bytes and bad.read_bytes() == bad_bytes


def test_in_place_updates_good_notebooks_and_keeps_failing_ones(tmp_path, two_notebooks):
    good, _, bad, bad_bytes = two_notebooks
    result = run(["--in-place", good, bad], tmp_path)
    assert result.returncode == 1
    assert nbformat.read(good, as_version=4).cells[2].outputs[0]["text"] == "42\n"
    assert bad.read_bytes() == bad_bytes
    assert not list(good.parent.glob(".*.tmp"))


def test_an_empty_notebooks_folder_is_fine(tmp_path, monkeypatch, capsys):
    from torchnn_tools import editions, runner

    monkeypatch.setattr(editions, "english_dir", lambda: tmp_path)
    assert runner.main([]) == 0
    assert "nothing to run" in capsys.readouterr().out


def slow_cells(marker):
    """A notebook that writes its kernel's pid to ``marker``, then sleeps for five minutes."""
    return ["import os, time\nfrom pathlib import Path",
            f"Path({str(marker)!r}).write_text(str(os.getpid()))\n"
            "for _ in range(3000):\n    time.sleep(0.1)"]


def _gone(pid: int, within: float = 20.0) -> bool:
    import psutil

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


# The runner's process keeps `resource`, `pwd` and `grp`: psutil's Linux backend needs them, and
# on Windows psutil has its own.
WINDOWS_RUNNER = windows_like(("fcntl", "termios")) + (
    "import runpy\nrunpy.run_module('torchnn_tools', run_name='__main__', alter_sys=True)\n")


@pytest.mark.parametrize(("in_place", "jobs", "windows"),
                         [(False, 1, False), (True, 1, False), (False, 2, False),
                          (False, 2, True)],
                         ids=["make-run", "make-notebooks", "make-run-two-at-once",
                              "windows-like-no-killpg"])
def test_ctrl_c_leaves_no_half_written_notebook(tmp_path, two_notebooks, in_place, jobs,
                                                windows):
    """Ctrl-C (SIGINT to the runner's process group) while the slow notebooks execute (one
    after the first has finished, or two at once with ``--jobs 2``): the first is saved
    complete, no slow one is saved (its old copy or source is intact), no temporary file is
    left, every kernel is gone, and the exit status is 130. ``windows``: the runner has no
    ``fcntl``, ``os.killpg`` or ``signal.SIGKILL``, as on Windows, and still stops them."""
    good, good_bytes, _, _ = two_notebooks
    out = tmp_path / "runs" / "notebooks"
    out.mkdir(parents=True)
    slow = [good.parent / f"0{3 + i}_slow.ipynb" for i in range(jobs)]
    markers = [tmp_path / f"kernel-pid-{i}" for i in range(jobs)]
    slow_bytes = [make_notebook(path, slow_cells(m)) for path, m in zip(slow, markers)]
    for path in slow:
        (out / path.name).write_text("an old executed copy")
    env = dict(os.environ, TORCHNN_RUNS_DIR=str(tmp_path / "runs"))
    args = ["--in-place"] * in_place + ["--jobs", str(jobs), str(good), *map(str, slow)]
    done = good if in_place else out / good.name
    start = [sys.executable, "-c", WINDOWS_RUNNER] if windows else [
        sys.executable, "-m", "torchnn_tools"]
    proc = subprocess.Popen(
        [*start, "run", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, process_group=0,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        deadline = time.monotonic() + 240
        while not (all(m.exists() for m in markers) and done.exists()
                   and done.read_bytes() != good_bytes):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.1)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, output
    for path, marker, original in zip(slow, markers, slow_bytes):
        assert f"interrupted: {path.name} was stopped and not saved" in output
        assert _gone(int(marker.read_text())), f"{path.name}'s kernel survived the interrupt"
        assert path.read_bytes() == original
        assert (out / path.name).read_text() == "an old executed copy"
    assert nbformat.read(done, as_version=4).cells[2].outputs[0]["text"] == "42\n"
    assert not [p.name for p in [*good.parent.iterdir(), *out.iterdir()]
                if p.name.endswith(".tmp")]


def test_merge_streams_joins_consecutive_prints_of_one_stream_only():
    from nbformat.v4 import new_output

    from torchnn_tools.runner import merge_streams

    cell = new_code_cell("...", outputs=[
        new_output("stream", name="stdout", text="a\n"),
        new_output("stream", name="stdout", text="b"),
        new_output("stream", name="stdout", text=["c", "\n"]),
        new_output("stream", name="stderr", text="warning\n"),
        new_output("stream", name="stdout", text="d\n"),
        new_output("execute_result", data={"text/plain": "1"}, execution_count=1),
        new_output("stream", name="stdout", text="e\n"),
    ])
    nb = new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    merge_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in cell.outputs] == [
        ("stream", "stdout", "a\nbc\n"), ("stream", "stderr", "warning\n"),
        ("stream", "stdout", "d\n"), ("execute_result", None, None),
        ("stream", "stdout", "e\n")]


def test_write_atomic_interrupted_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    import nbformat as nbf

    from torchnn_tools import runner

    dest = tmp_path / "lesson.ipynb"
    dest.write_text("old")

    def interrupted(nb, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nbf, "writes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.write_atomic(new_notebook(), dest)
    assert dest.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [dest.name]


def test_settings_and_unreadable_notebooks_give_one_line(tmp_path, two_notebooks):
    """A bad setting stops `make run` before any kernel starts, with one line; a notebook that
    is not JSON fails alone, named, and the others run."""
    good, _, _, _ = two_notebooks
    env = dict(os.environ, TORCHNN_RUNS_DIR=str(tmp_path / "runs"), TORCHNN_DATA="cifar100")
    result = subprocess.run([sys.executable, "-m", "torchnn_tools", "run", str(good)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: TORCHNN_DATA='cifar100' is not a data source; use "
                                     "one of: auto, cifar10, synthetic.")
    assert "running" not in result.stdout

    broken = good.parent / "00_broken.ipynb"
    broken.write_text('{"cells": [')
    result = run([broken], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "RuntimeError: cannot read 00_broken.ipynb as a notebook" in result.stdout


def test_full_size_lessons_have_no_cell_time_limit(monkeypatch):
    """Full-size training cells take many minutes on a CPU: only CI's fast mode bounds them."""
    from torchnn_tools import runner

    monkeypatch.setenv("TORCHNN_FAST", "1")
    assert runner.cell_timeout() == runner.FAST_CELL_TIMEOUT
    monkeypatch.setenv("TORCHNN_FAST", "0")
    assert runner.cell_timeout() is None


def test_cifar10_problems_are_found_once_before_any_notebook(tmp_path, monkeypatch, capsys,
                                                            fresh_choices):
    """`auto` finding a broken archive in data/ stops `make run` with one line (every notebook
    would fail on it); `auto` that could reach the host but not download says so and goes on
    with the synthetic set, as the notebooks will."""
    from helpers import _cifar10, data
    from torchnn_tools import runner

    monkeypatch.setenv("TORCHNN_DATA", "auto")
    monkeypatch.setenv("TORCHNN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TORCHNN_RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "data").mkdir()
    archive = tmp_path / "data" / data.CIFAR10.archive
    archive.write_bytes(b"not an archive")
    notebook = tmp_path / "01_x.ipynb"
    make_notebook(notebook, ["print(1)"])
    assert runner.main([str(notebook)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {archive} is incomplete or corrupt (its MD5 sum is wrong). Delete it "
                   f"and run again to download a fresh copy, or replace it with a good copy of "
                   f"{data.CIFAR10.url}.\n")
    assert archive.read_bytes() == b"not an archive"

    archive.unlink()
    data._choices.clear()
    monkeypatch.setattr(_cifar10, "probe", lambda url, timeout: None)  # the host seems reachable
    monkeypatch.setattr(_cifar10, "download", lambda *a, **k: (_ for _ in ()).throw(
        data.DataError("could not download it (a test).")))
    assert "data cifar10" in runner.preflight(None)
    assert capsys.readouterr().out == ("auto: could not download it (a test). The notebooks "
                                       "use the synthetic set.\n")


def test_saved_outputs_name_no_folder_of_this_machine(tmp_path):
    """An error raised inside torch and a printed path of the project: the executed copy shows
    `<site-packages>/...` and `helpers/...`, and the error as one short line."""
    from torchnn_tools.runner import machine_folders

    notebook = tmp_path / "01_paths.ipynb"
    make_notebook(notebook, [
        "import helpers, torch\nprint(helpers.__file__)",
        "import torch.nn.functional as F\nprint(F.__file__)",
        "torch.zeros(2, 3) @ torch.zeros(2, 3)",
    ])
    nb_raw = nbformat.read(notebook, as_version=4)
    nb_raw.cells[2].metadata["tags"] = ["raises-exception"]
    nbformat.write(nb_raw, notebook)
    result = run([notebook], tmp_path)
    assert result.returncode == 0, result.stdout
    saved = (tmp_path / "runs" / "notebooks" / notebook.name).read_text()
    for folder, _ in machine_folders():
        assert json.dumps(folder)[1:-1] not in saved, folder
    cells = nbformat.reads(saved, as_version=4).cells
    assert cells[0].outputs[0]["text"] == "helpers/__init__.py\n"
    assert cells[1].outputs[0]["text"] == "<site-packages>/torch/nn/functional.py\n"
    [error] = cells[2].outputs
    assert error["ename"] == "RuntimeError" and len(error["traceback"]) <= 2, error["traceback"]


def test_progress_lines_say_where_a_long_notebook_is(tmp_path):
    """Two notebooks at once: each line is whole (none run together), and a notebook that
    runs long says which cell and epoch it is in."""
    from torchnn_tools import runner

    slow = tmp_path / "01_slow.ipynb"
    make_notebook(slow, ["import time", "for e in range(1, 4):\n    print(f'epoch {e}/3 done')"
                                        "\n    time.sleep(1.2)"])
    other = tmp_path / "02_other.ipynb"
    make_notebook(other, ["import time\ntime.sleep(2)"])
    seen = []
    nb, err = runner.execute(slow, progress=seen.append, every=0.5)
    assert err is None
    assert "starting its kernel" in seen[0] or seen[0].startswith("cell ")
    assert any(s.startswith("cell 2/2, epoch ") for s in seen), seen
    assert runner.last_epoch(nb.cells[1]) == "epoch 3/3"

    env = dict(os.environ, TORCHNN_RUNS_DIR=str(tmp_path / "runs"))
    result = subprocess.run([sys.executable, "-m", "torchnn_tools", "run", "--jobs", "2",
                             str(slow), str(other)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    # The two start at once, so either may say so first; each says it on a line of its own.
    starts = [line for line in lines if "running " in line]
    assert sorted(starts) == ["running 01_slow.ipynb ...", "running 02_other.ipynb ..."], lines
    assert all(line.count(".ipynb") <= 1 for line in lines if not line.startswith("  ")), lines


def test_the_summary_skips_a_run_it_cannot_read(tmp_path, monkeypatch):
    """A run TensorBoard's reader fails on (an event file another program is still writing
    raises its own DataLossError) does not crash the summary: that run is left out."""
    import time

    from tensorboard.compat.tensorflow_stub.errors import DataLossError
    from torch.utils.tensorboard import SummaryWriter

    from helpers import board
    from torchnn_tools.runner import runs_written_since

    since = time.time() - 1
    for run in ("good", "cut"):
        with SummaryWriter(str(tmp_path / "module" / run)) as writer:
            writer.add_scalar("x", 1.0, 0)
    real = board.read_run

    def reader(folder):
        if Path(folder).name == "cut":
            raise DataLossError(None, None, "truncated record")
        return real(folder)

    monkeypatch.setattr(board, "read_run", reader)
    found = runs_written_since(tmp_path, since)
    assert list(found) == ["module/good"] and found["module/good"]["scalars"] == ["x"]


def test_kernels_share_out_the_cores(monkeypatch):
    """Two notebooks at once get half the cores each (OMP_NUM_THREADS), unless it is set."""
    from torchnn_tools import runner

    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    assert [runner.kernel_threads(jobs) for jobs in (1, 2, 3, 16)] == [8, 4, 2, 1]
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    spec = runner._kernel_manager_class(4)().kernel_spec
    assert spec.env["OMP_NUM_THREADS"] == "4" and spec.env["OMP_WAIT_POLICY"]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's own choice wins
    assert runner._kernel_manager_class(4)().kernel_spec.env["OMP_NUM_THREADS"] == "3"
    assert "OMP_NUM_THREADS" not in runner._kernel_manager_class(None)().kernel_spec.env


def test_a_notebook_run_alone_gets_every_core(monkeypatch, tmp_path):
    """`run --jobs 2 one.ipynb` (or `make notebooks` on one lesson): one kernel, all cores."""
    from torchnn_tools import runner

    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    given = []
    monkeypatch.setattr(runner, "_run_one", lambda path, out, in_place, runs, threads:
                        given.append(threads) or runner.Result(path.name, 0.0, True))
    monkeypatch.setattr(runner, "_report", lambda result, seen: None)
    monkeypatch.setenv("TORCHNN_RUNS_DIR", str(tmp_path))
    runner.run_all([tmp_path / "01_a.ipynb"], None, False, jobs=2)
    runner.run_all([tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb"], None, False, jobs=2)
    assert given == [8, 4, 4]


def test_the_longest_notebook_starts_first_next_time(tmp_path):
    """With two at once, notebooks start longest first by their last time (unknown ones first,
    in order); results are still listed in order."""
    import json

    from torchnn_tools import runner

    names = [tmp_path / f"0{k}_x.ipynb" for k in range(1, 5)]
    runs = tmp_path / "runs"
    assert runner.start_order(names, runs) == names  # nothing known yet
    runs.mkdir()
    (runs / runner.SECONDS_FILE).write_text(json.dumps(
        {"01_x.ipynb": 4.0, "02_x.ipynb": 30.0, "04_x.ipynb": 6.0}))
    assert [p.name for p in runner.start_order(names, runs)] == [
        "03_x.ipynb", "02_x.ipynb", "04_x.ipynb", "01_x.ipynb"]
    runner._remember_seconds([runner.Result("01_x.ipynb", 9.04, True),
                              runner.Result("03_x.ipynb", 2.0, False)], runs)
    remembered = json.loads((runs / runner.SECONDS_FILE).read_text())
    assert remembered == {"01_x.ipynb": 9.0, "02_x.ipynb": 30.0, "04_x.ipynb": 6.0}
