"""pytest settings shared by the unit tests and nbval.

Tests always run in CI settings, whatever the shell says: the synthetic data set, fast mode,
and private data/runs folders in a temporary directory, so a test run never touches a
learner's data/ or runs/. Kernels started by nbval inherit these variables. Under
pytest-xdist the workers inherit the controller's temporary directory, so every process
writes to the same runs folder.

Notebooks and the tests that read their runs (the ``notebook_runs`` fixture) coordinate
through marker files in that directory: when nbval has run every cell of a notebook, this
file's hook writes ``<test dir>/notebooks-done/<name>`` (``zh.<name>`` for the Chinese edition,
which writes the same runs). Under pytest-xdist, notebooks must be
distributed whole (``--dist loadscope``, as ``make test`` does): nbval runs a notebook's cells
in one kernel, and the fixture waits for the marker instead of executing the notebook again.
"""

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

os.environ["TORCHNN_DATA"] = "synthetic"
os.environ["TORCHNN_FAST"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
# As torchnn_tools.runner does for its kernels: idle OpenMP threads sleep instead of spinning,
# so two xdist workers and their kernels on 2 cores do not steal each other's time
# (CONTRIBUTING.md "Speed").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Two xdist workers, each with a notebook kernel: the cores shared out, as `make run` does for
# its two kernels (torchnn_tools.runner.kernel_threads), so that they do not fight over them.
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // 2)))
os.environ.pop("TORCHNN_DEVICE", None)
if "TORCHNN_TEST_DIR" not in os.environ:
    os.environ["TORCHNN_TEST_DIR"] = tempfile.mkdtemp(prefix="torchnn-test-")
TEST_DIR = Path(os.environ["TORCHNN_TEST_DIR"])
os.environ["TORCHNN_RUNS_DIR"] = str(TEST_DIR / "runs")
os.environ["TORCHNN_DATA_DIR"] = str(TEST_DIR / "data")
NOTEBOOKS_DONE = TEST_DIR / "notebooks-done"

_cells: Counter = Counter()  # notebook name -> nbval items collected in this session
_finished: Counter = Counter()  # notebook name -> nbval items finished in this process


def _notebook_of(nodeid: str) -> str | None:
    """The marker name of a notebook's nbval items: ``01_module`` for
    ``notebooks/01_module.ipynb``, ``zh.01_module`` for the Chinese edition's copy."""
    path = Path(nodeid.split("::", 1)[0])
    if path.suffix != ".ipynb":
        return None
    return path.stem if path.parent.name == "notebooks" else f"{path.parent.name}.{path.stem}"


def pytest_collection_modifyitems(session, config, items):
    """Notebooks first, whatever the command line's order: the tests that read their runs come
    after them (and under xdist, every worker gets its notebooks before any such test)."""
    items.sort(key=lambda item: _notebook_of(item.nodeid) is None)  # stable: order kept


def pytest_collection_finish(session):
    _cells.clear()
    _cells.update(n for n in map(_notebook_of, (i.nodeid for i in session.items)) if n)


def pytest_runtest_logfinish(nodeid, location):
    name = _notebook_of(nodeid)
    if name:
        _finished[name] += 1
        if _finished[name] == _cells[name]:  # nbval ran its last cell (pass or fail)
            NOTEBOOKS_DONE.mkdir(parents=True, exist_ok=True)
            (NOTEBOOKS_DONE / name).touch()


def pytest_sessionfinish(session, exitstatus):
    if not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        shutil.rmtree(TEST_DIR, ignore_errors=True)
