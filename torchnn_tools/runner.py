"""Execute the notebooks head-less: ``make run`` and ``make notebooks``.

``python -m torchnn_tools run`` runs every ``notebooks/*.ipynb`` in order (two at a time:
``--jobs``), each in a fresh kernel of this Python (the project's ``.venv``, whatever kernels
Jupyter has registered) started in ``notebooks/`` as JupyterLab does, saves the executed
copies to ``runs/notebooks/`` and prints a table: notebook, seconds, status, TensorBoard runs
written, then the tags of every run.

- A failing notebook shows its failing cell and error (``DataError: ...``, not a traceback);
  the others still run; the exit status is 1.
- A setting the helpers cannot use (``TORCHNN_DATA=cifar100``), CIFAR-10 that cannot be had
  under ``TORCHNN_DATA=cifar10``, or a runs folder that cannot be written stops it before any
  notebook starts, with one line that says what to do; the exit status is 2.
- ``--in-place`` (``make notebooks``) writes the outputs back into ``notebooks/`` instead, for
  maintainers refreshing the committed outputs; a notebook that fails is left as it was.
- Every file is written to a temporary name and renamed, so an interrupted run (Ctrl-C)
  never leaves a half-written notebook: the kernel is stopped, the notebook being executed
  is not saved, those already saved are complete; the exit status is 130.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers import config
from helpers.board import LESSONS, event_files
from helpers.errors import BoardError, DataError, SettingError
from torchnn_tools import editions

KERNEL = "python3"  # the name stored in the notebooks' metadata
FAST_CELL_TIMEOUT = 600  # seconds per cell under TORCHNN_FAST=1, where every cell is short
EXIT_FAILED, EXIT_SETUP, EXIT_INTERRUPTED = 1, 2, 130
JOBS = 2  # notebooks executed at once: each waits on imports much of its time
_STOP = threading.Event()  # set on Ctrl-C: every notebook being executed stops its kernel
# Head-less kernels: errors as one line (`ValueError: ...`, what a lesson's error cell is about,
# without frames from inside torch), and no IPython history (several kernels at once would
# all write to the one SQLite file in ~/.ipython).
KERNEL_OPTIONS = ("--InteractiveShell.xmode=Minimal", "--HistoryManager.enabled=False")
PROGRESS_EVERY = 15.0  # seconds between the progress lines of a notebook that is still running
_say_lock = threading.Lock()


def say(text: str = "", file=None) -> None:
    """Print whole lines, one caller at a time: two notebooks' lines never run together."""
    with _say_lock:
        print(text, file=file or sys.stdout, flush=True)


@dataclass
class Result:
    name: str
    seconds: float
    ok: bool
    runs: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # run -> tags by kind
    error: str = ""


def topic_of(notebook: Path) -> str | None:
    """The TensorBoard topic a lesson notebook writes to (``None`` for other notebooks)."""
    return LESSONS.get(Path(notebook).stem)


def kernel_threads(jobs: int) -> int:
    """Threads for each of ``jobs`` kernels at once: the cores shared out, at least one.

    Two kernels of two threads each on two cores fight over them: measured here, a bfloat16
    training loop fell from about 4,000 to under 200 images/s that way, while one thread per
    kernel kept both at full speed.
    """
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _kernel_manager_class(threads: int | None = None):
    """An ``AsyncKernelManager`` whose kernel is always this Python (like nbval's current-env).

    Its kernels get ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is set: torch's idle
    OpenMP threads then sleep instead of spinning. On a busy 2-core machine that made
    ``make run`` about 20% faster and the optimizer notebook twice as fast (CONTRIBUTING.md,
    Speed); it changes no result. With ``threads``, they also get ``OMP_NUM_THREADS`` (torch's
    threads) unless it is set: see :func:`kernel_threads`.

    Jupyter would look ``python3`` up among the registered kernel specs, where a user's own
    (``~/.local/share/jupyter/kernels/python3``) can point at another Python without
    ``helpers``; ``make doctor`` reports that case for JupyterLab.
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    env = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", str(threads))

    class ProjectKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                      *KERNEL_OPTIONS],
                display_name="Python 3 (torch.nn notebooks)", language="python",
                resource_dir=str(config.project_root()),
                env=env,
            )

    return ProjectKernelManager


def cell_timeout() -> int | None:
    """Seconds a cell may take: bounded in fast mode (CI), unbounded for full-size lessons,
    whose training cells take many minutes on a CPU (Ctrl-C stops a run that hangs)."""
    return FAST_CELL_TIMEOUT if config.fast_mode() else None


def execute(path: Path, timeout: int | None = None, kernel_log: Path | None = None,
            progress=None, every: float = PROGRESS_EVERY, threads: int | None = None):
    """Run one notebook top to bottom in a fresh kernel started in its folder.

    Returns ``(notebook, error)``: the executed notebook (outputs up to the failing cell if
    one failed) and ``None`` or the exception that stopped it. ``timeout`` bounds each cell
    (default: :func:`cell_timeout`). The kernel process's own output (not the cells': they
    are in the notebook) goes to ``kernel_log`` if given. The notebook runs in a worker
    thread, so Ctrl-C reaches this thread as ``KeyboardInterrupt`` (or, when several
    notebooks run at once, sets ``_STOP``): the kernel (its whole process tree) is killed
    and the interrupt re-raised; nothing is returned or written. While it runs, every
    ``every`` seconds ``progress(status)`` is called with where it is (``"cell 12/30, epoch
    2/5"``), if given.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook, unreadable: report, go on
        summary = str(err).splitlines()[0] if str(err) else type(err).__name__
        return None, RuntimeError(f"cannot read {path.name} as a notebook: {summary}")
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    running: list[int] = []  # the index of the cell being executed

    def started(cell, cell_index) -> None:
        running[:] = [cell_index]

    def status() -> str:
        if not running:
            return "starting its kernel"
        index = running[0]
        number = sum(c.cell_type == "code" for c in nb.cells[:index]) + 1
        epoch = last_epoch(nb.cells[index])
        return f"cell {number}/{code_cells}" + (f", {epoch}" if epoch else "")

    client = NotebookClient(
        nb,
        timeout=cell_timeout() if timeout is None else timeout,
        kernel_name=KERNEL,
        kernel_manager_class=_kernel_manager_class(threads),
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        on_cell_start=started,
        # Every output has arrived when the last cell finishes; a polite shutdown of a kernel
        # with torch loaded takes 2 s more for nothing. (Lessons close their writers.)
        shutdown_kernel="immediate",
    )
    outcome: list[BaseException | None] = []
    log = None
    if kernel_log is not None:
        with contextlib.suppress(OSError):
            kernel_log.parent.mkdir(parents=True, exist_ok=True)
            log = open(kernel_log, "w")  # noqa: SIM115 (closed below)

    def work() -> None:
        try:
            client.execute(**({"stdout": log, "stderr": log} if log else {}))
        except BaseException as err:  # a cell error, a timeout or a dead kernel: report, go on
            outcome.append(err)
        else:
            outcome.append(None)
        finally:  # nbclient's exit hook fails on a kernel that never started; it is done here
            atexit.unregister(client._cleanup_kernel)

    worker = threading.Thread(target=work, name=f"execute {path.name}", daemon=True)
    worker.start()
    next_report = time.monotonic() + every
    try:
        while worker.is_alive():
            worker.join(0.2)
            if _STOP.is_set():
                raise KeyboardInterrupt
            if progress is not None and time.monotonic() >= next_report:
                progress(status())
                next_report += every
    except BaseException:
        _kill_kernel(client)
        worker.join(10)
        raise
    finally:
        if log is not None:
            log.close()
    return nb, outcome[0] if outcome else RuntimeError("the notebook did not finish")


def last_epoch(cell) -> str:
    """``"epoch 2/5"`` from the last such words a cell printed so far (``fit`` prints one line
    per epoch), else ``""``."""
    import re

    for out in reversed(cell.get("outputs", [])):
        found = re.findall(r"\bepoch\s*(\d+)\s*/\s*(\d+)", _text(out.get("text", "")))
        if found:
            return "epoch {}/{}".format(*found[-1])
    return ""


def _kill_kernel(client) -> None:
    """Kill the kernel and every process it started, on any platform.

    psutil walks the process tree (``os.killpg`` and ``SIGKILL`` do not exist on Windows):
    the children first, so none is left behind when its parent is gone.
    """
    import psutil

    provisioner = getattr(getattr(client, "km", None), "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    if not pid:
        return
    try:
        kernel = psutil.Process(pid)
        family = [*kernel.children(recursive=True), kernel]
    except psutil.Error:
        return
    for process in family:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(family, timeout=5)


def merge_streams(nb) -> None:
    """Join each cell's consecutive stdout (or stderr) outputs into one, in place.

    How a kernel's prints are cut into messages depends on timing (more so with two notebooks
    running at once); joined, the saved outputs are the same from run to run, and so are their
    diffs. Jupyter shows them the same either way.
    """
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged
                    and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == out.get("name")):
                merged[-1]["text"] = _text(merged[-1]["text"]) + _text(out["text"])
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged


def _text(text) -> str:
    return "".join(text) if isinstance(text, list) else text


def machine_folders() -> list[tuple[str, str]]:
    """``(folder, shown as)`` for the folders of this machine that outputs may name: this
    Python's site-packages and standard library, the project, the home folder."""
    import sysconfig

    pairs = [(sysconfig.get_path(key), "<site-packages>") for key in ("purelib", "platlib")]
    pairs += [(sysconfig.get_path("stdlib"), "<python>"),
              (str(config.project_root()) + os.sep, ""), (str(Path.home()), "~")]
    return sorted({(f, shown) for f, shown in pairs if f and len(f) > 1},
                  key=lambda pair: -len(pair[0]))


def tidy_outputs(nb) -> None:
    """Name no folder of this machine in the outputs, in place: tracebacks and printed paths
    become ``<site-packages>/torch/...``, ``helpers/board.py``, ``~/...``.

    The executed notebooks are committed and read by others: they must not carry the paths of
    the machine that made them (nor change when another machine makes them again).
    """
    folders = machine_folders()

    def tidy(text: str) -> str:
        for folder, replacement in folders:
            text = text.replace(folder, replacement)
        return text

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = tidy(_text(out["text"]))
            if "traceback" in out:
                out["traceback"] = [tidy(line) for line in out["traceback"]]
            if "evalue" in out:
                out["evalue"] = tidy(out["evalue"])
            data = out.get("data", {})
            if "text/plain" in data:
                data["text/plain"] = tidy(_text(data["text/plain"]))


def write_atomic(nb, dest: Path) -> None:
    """Write a notebook next to ``dest`` under a temporary name, then rename it into place."""
    import nbformat

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            text = nbformat.writes(nb)
            f.write(text if text.endswith("\n") else text + "\n")
        with contextlib.suppress(OSError):  # keep the source's permissions for --in-place
            os.chmod(tmp, dest.stat().st_mode & 0o777 if dest.exists() else 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def runs_written_since(root: Path, since: float, topic: str | None = None
                       ) -> dict[str, dict[str, list[str]]]:
    """``topic/run`` -> tags of every run under ``root`` (or ``root/topic``) written since
    ``since`` (an event file modified after it).

    This only feeds the summary, so a run it cannot read is left out, whatever the reason: a
    folder that vanished meanwhile, or an event file another program is still writing, which
    TensorBoard's reader reports with its own errors (``DataLossError``, not ``OSError``).
    """
    from helpers.board import read_run

    found = {}
    for folder in sorted(root.glob(f"{topic or '*'}/*/")):
        try:
            if any(event.stat().st_mtime >= since for event in event_files(folder)):
                found[f"{folder.parent.name}/{folder.name}"] = read_run(folder)
        except Exception:  # noqa: BLE001 (see the docstring)
            continue
    return found


def describe_failure(nb, err: BaseException) -> str:
    """The failing cell's first lines and the error's last line."""
    failed = [c for c in (nb.cells if nb is not None else []) if c.cell_type == "code" and any(
        o.get("output_type") == "error" for o in c.get("outputs", []))]
    lines = failed[0].source.splitlines()[:8] if failed else []
    source = "\n".join("    | " + line for line in lines)
    name = getattr(err, "ename", type(err).__name__)
    value = getattr(err, "evalue", None)
    if value is None:  # nbclient's own errors (a timeout, a dead kernel) quote whole cells
        value = (str(err).strip().splitlines() or [""])[0]
    return f"{source}\n    {name}: {value}".strip("\n")


def run_all(notebooks: list[Path], out_dir: Path | None, in_place: bool,
            jobs: int = 1) -> list[Result]:
    """Execute ``notebooks``, ``jobs`` at a time, each in its own kernel; results in order.

    With several at once they start longest first (:func:`start_order`); each result (and a
    failure's cell and error) is reported in the listed order. Ctrl-C stops every kernel that
    is running and saves none of theirs.
    """
    from concurrent.futures import ThreadPoolExecutor

    _STOP.clear()
    runs_root = config.runs_dir()
    seen_errors: dict[str, str] = {}  # error line -> first notebook that showed it
    results: list[Result] = []

    # One notebook at a time (or only one to run) gets every core.
    threads = kernel_threads(min(jobs, len(notebooks)))

    def one(path: Path) -> Result:
        return _run_one(path, out_dir, in_place, runs_root, threads)

    if jobs <= 1 or len(notebooks) <= 1:
        for path in notebooks:
            results.append(one(path))
            _report(results[-1], seen_errors)
        _remember_seconds(results, runs_root)
        return results
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook")
    started = {path: pool.submit(one, path) for path in start_order(notebooks, runs_root)}
    try:
        for path in notebooks:
            results.append(started[path].result())
            _report(results[-1], seen_errors)
    except BaseException:
        _STOP.set()  # the other notebooks' kernels are killed within a fraction of a second
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    _remember_seconds(results, runs_root)
    return results


SECONDS_FILE = ".notebook-seconds.json"  # in the runs folder: how long each notebook took last time


def start_order(notebooks: list[Path], runs_root: Path) -> list[Path]:
    """The order to start ``notebooks`` in when several run at once: longest first, by the
    seconds each took last time (one never run yet keeps its place at the front). A long
    notebook started last would otherwise run alone at the end, with the other cores idle.
    Results are still reported in the listed order."""
    import json

    try:
        seconds = json.loads((runs_root / SECONDS_FILE).read_text())
    except (OSError, ValueError):
        seconds = {}
    return sorted(notebooks, key=lambda path: -seconds.get(path.name, float("inf")))


def _remember_seconds(results: list[Result], runs_root: Path) -> None:
    import json

    path = runs_root / SECONDS_FILE
    with contextlib.suppress(OSError, ValueError):
        seconds = json.loads(path.read_text()) if path.exists() else {}
        seconds.update({r.name: round(r.seconds, 1) for r in results if r.ok})
        path.write_text(json.dumps(seconds, indent=1, sort_keys=True) + "\n")


def _run_one(path: Path, out_dir: Path | None, in_place: bool, runs_root: Path,
             threads: int | None = None) -> Result:
    """Execute one notebook, save it (atomically), and collect what it wrote."""
    say(f"running {path.name} ...")
    start_wall = time.time()
    start = time.perf_counter()

    def progress(status: str) -> None:
        say(f"  {path.name}: {status} ({time.perf_counter() - start:.0f} s so far)")

    # This process's own name for it: two `make run`s may execute the same notebook at once.
    log = runs_root / "notebooks" / f".{path.stem}.{os.getpid()}.kernel.log"
    try:
        nb, err = execute(path, kernel_log=log, progress=progress, threads=threads)
    except KeyboardInterrupt:
        log.unlink(missing_ok=True)
        say(f"interrupted: {path.name} was stopped and not saved; the notebooks saved before it "
            f"are complete.")
        raise
    ok, error = err is None, "" if err is None else describe_failure(nb, err)
    seconds = time.perf_counter() - start
    saved = ""
    if nb is not None and (ok or not in_place):
        dest = path if in_place else out_dir / path.name
        merge_streams(nb)
        tidy_outputs(nb)
        try:
            write_atomic(nb, dest)
        except OSError as problem:
            ok, saved = False, (f"    cannot save {dest} ({problem.strerror or problem}); "
                                f"make its folder writable or set TORCHNN_RUNS_DIR.")
    runs = runs_written_since(runs_root, start_wall - 1, topic_of(path))
    result = Result(path.name, seconds, ok, runs, "\n".join(filter(None, [error, saved])))
    kept = _keep_kernel_log(log, f"{path.stem}.kernel.log", failed=not ok)
    if kept:
        result.error += f"\n    (the kernel's own output: {kept})"
    say(f"finished {path.name} in {seconds:.1f} s: {'ok' if ok else 'FAILED'}")
    return result


def _report(result: Result, seen_errors: dict[str, str]) -> None:
    """Print a failed notebook's cell and error (once per distinct error)."""
    if result.ok:
        return
    last = result.error.splitlines()[-1].strip()
    if last in seen_errors:
        say(f"  {result.name} FAILED after {result.seconds:.1f} s with the same error as "
            f"{seen_errors[last]}:\n    {last}")
    else:
        seen_errors[last] = result.name
        say(f"  {result.name} FAILED after {result.seconds:.1f} s:\n{result.error}")


def _keep_kernel_log(log: Path, name: str, failed: bool) -> Path | None:
    """Keep a failed notebook's kernel log as ``name`` (``<notebook>.kernel.log``) if it says
    more than ipykernel's start-up notice; delete it otherwise. Returns the kept path."""
    try:
        text = log.read_text(errors="replace") if log.exists() else ""
        noise = "Kernel is running over TCP without encryption"
        if failed and any(line.strip() and noise not in line for line in text.splitlines()):
            kept = log.with_name(name)
            log.replace(kept)
            return kept
        log.unlink(missing_ok=True)
    except OSError:
        pass
    return None


def print_table(results: list[Result]) -> None:
    rows = [("notebook", "seconds", "status", "TensorBoard runs (images/scalars/histograms/graph)")]
    for r in results:
        runs = ", ".join(
            f"{name} ({len(t['images'])}/{len(t['scalars'])}/{len(t['histograms'])}/"
            f"{len(t['graph'])})" for name, t in r.runs.items()
        ) or "-"
        rows.append((r.name, f"{r.seconds:.1f}", "ok" if r.ok else "FAILED", runs))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
        if i == 0:
            print("  ".join("-" * w for w in widths) + "  " + "-" * len(row[3]))


def print_tags(results: list[Result]) -> None:
    """Every run's tags, one line per kind: what to look for in TensorBoard."""
    runs = {name: tags for r in results for name, tags in r.runs.items()}
    if not runs:
        return
    print("\nTags written:")
    for name, tags in runs.items():
        print(f"  {name}")
        for kind in ("images", "scalars", "histograms"):
            if tags[kind]:
                print(f"    {kind + ':':<11} {', '.join(tags[kind])}")
        if tags["graph"]:
            print("    graph:      yes")


def preflight(out_dir: Path | None) -> str:
    """Check what every notebook would otherwise fail on, once; return the settings line.

    Raises ``SettingError`` / ``DataError`` / ``BoardError`` with a message that says what to do.
    """
    from helpers import _folders, data
    from helpers.session import pick_device

    config.check_all()
    device, _ = pick_device()  # a TORCHNN_DEVICE this machine lacks is a SettingError
    if out_dir is not None:
        why = _folders.unwritable(out_dir, create=True)
        if why:
            raise BoardError(
                f"cannot write to {out_dir} ({why}). Make {config.runs_dir()} writable or point "
                f"TORCHNN_RUNS_DIR at a folder you can write to."
            )
    choice = data.choose_source()
    if choice.source == "cifar10":  # every notebook needs it: download / check it once, here
        try:
            data.prepare_cifar10(config.data_dir())
        except DataError as err:
            if not choice.will_download:  # cifar10 asked for, or a broken copy in data/
                raise
            say(f"auto: {err} The notebooks use the synthetic set.")
    return (f"data {choice.source} ({choice.reason}), fast mode "
            f"{'on' if config.fast_mode() else 'off'}, device {device}, runs in "
            f"{config.shown(config.runs_dir(), folder=True)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb, in order)")
    parser.add_argument("--in-place", action="store_true",
                        help="write outputs back into the notebooks (make notebooks)")
    parser.add_argument("--jobs", "-j", type=int, default=min(JOBS, os.cpu_count() or 1),
                        help=f"notebooks executed at once (default: {JOBS}, at most the CPUs)")
    parser.add_argument("--edition", choices=editions.EDITIONS, default="en",
                        help="which lessons: en (default) or zh, the Chinese edition; both "
                             "write the same TensorBoard runs")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        print(f"error: --jobs {args.jobs}: give at least 1 (notebooks executed at once).",
              file=sys.stderr)
        return EXIT_SETUP

    notebooks = args.notebooks or editions.lessons(args.edition)
    missing = [str(p) for p in notebooks if not Path(p).is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return EXIT_SETUP
    out_dir = None if args.in_place else config.runs_dir() / "notebooks" / (
        "" if args.edition == "en" else args.edition)
    if not notebooks:
        print(f"no notebooks in {editions.edition_dir(args.edition)}: nothing to run.")
        return 0
    # SIGTERM (a closed terminal, `kill`) cleans up like Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    start = time.perf_counter()
    try:
        print(f"settings: {preflight(out_dir)}", flush=True)
        results = run_all([p.resolve() for p in notebooks], out_dir, args.in_place,
                          jobs=args.jobs)
    except (SettingError, DataError, BoardError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    print()
    print_table(results)
    print_tags(results)
    total = time.perf_counter() - start
    failed = [r.name for r in results if not r.ok]
    where = "in place" if args.in_place else f"in {config.shown(out_dir, folder=True)}"
    runs = config.shown(config.runs_dir(), folder=True)
    print(f"\n{len(results)} notebooks in {total:.1f} s, {len(failed)} failed; executed copies "
          f"{where}.")
    copies = (f"the lessons and {runs}notebooks/" if config.project_root() in
              config.runs_dir().parents else "the lessons; the executed copies lie outside it")
    print(f"Look at the results: `make tensorboard` (TensorBoard on {runs}, "
          f"http://127.0.0.1:6006) and `make lab` (JupyterLab: {copies}).")
    if failed:
        print("Something off with the setup itself? `make doctor` checks it.")
    return EXIT_FAILED if failed else 0


def refresh(argv: list[str] | None = None) -> int:
    """``make notebooks``: re-execute the lessons in place at full size on the synthetic set.

    The committed outputs are what a reader sees on the code host, so they come from the full
    lessons (``TORCHNN_FAST=0``), never from CI's fast mode, and from the synthetic set, so
    that they are the same on every machine (seeds are fixed).
    """

    os.environ["TORCHNN_DATA"] = "synthetic"
    os.environ["TORCHNN_FAST"] = "0"
    argv = list(argv or [])
    code = main(["--in-place", *argv])
    if code != 0:
        return code
    names = [Path(a).name for a in argv if a.endswith(".ipynb")] or None
    stale = {path.name: len(editions.check(path.name)) for path in editions.lessons()
             if names is None or path.name in names}
    if any(stale.values()):
        say("The English notebooks are done; the Chinese edition was not rebuilt, because these "
            "have cells not translated in step with the English: " + ", ".join(
                f"{name} ({count})" for name, count in stale.items() if count)
            + ". `python -m torchnn_tools translations` lists them.")
        return EXIT_FAILED
    built = editions.write_all(names=names)
    say(f"Built the Chinese edition from them: {len(built)} notebooks in "
        f"{config.shown(editions.edition_dir(), folder=True)}")
    return 0


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def exit_now(code: int) -> None:
    """Exit with ``code``; after an interrupt, without the interpreter's teardown.

    A kernel client stopped mid-cell leaves zmq sockets and contexts behind, and tearing them
    down at exit can abort the whole process inside libzmq ("Assertion failed: pfd.revents &
    POLLIN (src/signaler.cpp)", seen once under load), turning a clean Ctrl-C into a crash
    with exit status -6. Everything worth keeping is already on disk, and the kernels are
    dead, so the teardown is skipped.
    """
    if code == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_now(main())
