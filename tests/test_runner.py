"""The notebook runner behind `make run` / `make notebooks`, on two tiny notebooks."""

import os
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

GOOD = [
    "from helpers.board import open_writer",
    "with open_writer('module', 'tiny') as w:\n    w.add_scalar('x', 1.0, 0)",
    "print(6 * 7)",
]
BAD = ["x = 1", "raise ValueError('this lesson is broken')", "print('never')"]


def make_notebook(path, cells):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path.read_bytes()


@pytest.fixture
def two_notebooks(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    good, bad = folder / "01_good.ipynb", folder / "02_bad.ipynb"
    return good, make_notebook(good, GOOD), bad, make_notebook(bad, BAD)


def run(args, tmp_path):
    env = dict(os.environ, TORCHNN_RUNS_DIR=str(tmp_path / "runs"))
    return subprocess.run([sys.executable, "-m", "helpers.runner", *map(str, args)],
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
    assert "module/tiny (0/1/0/0)" in out
    executed = nbformat.read(tmp_path / "runs" / "notebooks" / "01_good.ipynb", as_version=4)
    assert executed.cells[2].outputs[0]["text"] == "42\n"
    assert (tmp_path / "runs" / "notebooks" / "02_bad.ipynb").exists()
    assert good.read_bytes() == good_bytes and bad.read_bytes() == bad_bytes


def test_in_place_updates_good_notebooks_and_keeps_failing_ones(tmp_path, two_notebooks):
    good, _, bad, bad_bytes = two_notebooks
    result = run(["--in-place", good, bad], tmp_path)
    assert result.returncode == 1
    assert nbformat.read(good, as_version=4).cells[2].outputs[0]["text"] == "42\n"
    assert bad.read_bytes() == bad_bytes
    assert not list(good.parent.glob(".*.tmp"))


def test_an_empty_notebooks_folder_is_fine(tmp_path, monkeypatch, capsys):
    from helpers import runner

    monkeypatch.setattr(runner.paths, "notebooks_dir", lambda: tmp_path)
    assert runner.main([]) == 0
    assert "nothing to run" in capsys.readouterr().out
