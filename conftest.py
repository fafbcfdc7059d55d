"""pytest settings shared by the unit tests and nbval.

Tests always run in CI settings, whatever the shell says: the synthetic data set, fast mode,
and private data/runs folders in a temporary directory, so a test run never touches a
learner's data/ or runs/. Kernels started by nbval inherit these variables. Under
pytest-xdist the workers inherit the controller's temporary directory, so every process
writes to the same runs folder.
"""

import os
import shutil
import tempfile
from pathlib import Path

os.environ["TORCHNN_DATA"] = "synthetic"
os.environ["TORCHNN_FAST"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("TORCHNN_DEVICE", None)
if "TORCHNN_TEST_DIR" not in os.environ:
    os.environ["TORCHNN_TEST_DIR"] = tempfile.mkdtemp(prefix="torchnn-test-")
TEST_DIR = Path(os.environ["TORCHNN_TEST_DIR"])
os.environ["TORCHNN_RUNS_DIR"] = str(TEST_DIR / "runs")
os.environ["TORCHNN_DATA_DIR"] = str(TEST_DIR / "data")


def pytest_sessionfinish(session, exitstatus):
    if not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        shutil.rmtree(TEST_DIR, ignore_errors=True)
