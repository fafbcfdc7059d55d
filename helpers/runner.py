"""Execute the notebooks head-less: ``make run`` and ``make notebooks``.

``python -m helpers.runner`` runs every ``notebooks/*.ipynb`` in order, each in a fresh kernel
started in ``notebooks/`` (as JupyterLab does), saves the executed copies to
``runs/notebooks/`` and prints a table: notebook, seconds, status, TensorBoard runs written.
A failing notebook shows its failing cell and error; the others still run; the exit status
is non-zero. ``--in-place`` (``make notebooks``) writes the outputs back into ``notebooks/``
instead, for maintainers refreshing the committed outputs; a notebook that fails is left as
it was. Every file is written to a temporary name and renamed, so an interrupted run
(Ctrl-C) never leaves a half-written notebook.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers import paths

KERNEL = "python3"  # ipykernel's own spec: the Python running this module, i.e. the project's .venv
CELL_TIMEOUT = 600


@dataclass
class Result:
    name: str
    seconds: float
    ok: bool
    runs: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # run -> tags by kind
    error: str = ""


def topic_of(notebook: Path) -> str | None:
    """The TensorBoard topic a lesson notebook writes to (``None`` for other notebooks)."""
    from helpers.board import LESSONS

    return LESSONS.get(Path(notebook).stem)


def execute(path: Path, timeout: int = CELL_TIMEOUT):
    """Run one notebook top to bottom in a fresh kernel started in its folder.

    Returns ``(notebook, error)``: the executed notebook (outputs up to the failing cell if
    one failed) and ``None`` or the exception that stopped it.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    try:
        client.execute()
    except Exception as err:  # a cell error, a timeout or a dead kernel: report, go on
        return nb, err
    return nb, None


def write_atomic(nb, dest: Path) -> None:
    """Write a notebook next to ``dest`` under a temporary name, then rename it into place."""
    import nbformat

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
            f.write("" if nbformat.writes(nb).endswith("\n") else "\n")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def runs_written_since(root: Path, since: float) -> dict[str, dict[str, list[str]]]:
    """``topic/run`` -> tags of every run under ``root`` with an event file newer than ``since``."""
    from helpers.board import read_run

    found = {}
    for event in sorted(root.glob("*/*/events.out.tfevents.*")):
        if event.stat().st_mtime >= since:
            folder = event.parent
            found[f"{folder.parent.name}/{folder.name}"] = read_run(folder)
    return found


def describe_failure(nb, err: Exception) -> str:
    """The failing cell's first lines and the error's last line."""
    failed = [c for c in nb.cells if c.cell_type == "code" and any(
        o.get("output_type") == "error" for o in c.get("outputs", []))]
    lines = failed[0].source.splitlines()[:8] if failed else []
    source = "\n".join("    | " + line for line in lines)
    name, value = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    return f"{source}\n    {name}: {value}".strip("\n")


def run_all(notebooks: list[Path], out_dir: Path | None, in_place: bool) -> list[Result]:
    results = []
    runs_root = paths.runs_dir()
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        start_wall = time.time()
        start = time.perf_counter()
        try:
            nb, err = execute(path)
        except KeyboardInterrupt:
            print("\ninterrupted: notebooks already saved are complete; nothing half-written.")
            raise
        ok, error = err is None, "" if err is None else describe_failure(nb, err)
        seconds = time.perf_counter() - start
        if ok or not in_place:
            write_atomic(nb, path if in_place else out_dir / path.name)
        runs = runs_written_since(runs_root, start_wall - 1)
        results.append(Result(path.name, seconds, ok, runs, error))
        if not ok:
            print(f"  FAILED after {seconds:.1f} s:\n{error}", flush=True)
    return results


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb, in order)")
    parser.add_argument("--in-place", action="store_true",
                        help="write outputs back into the notebooks (make notebooks)")
    args = parser.parse_args(argv)

    notebooks = args.notebooks or sorted(paths.notebooks_dir().glob("*.ipynb"))
    out_dir = paths.runs_dir() / "notebooks"
    if not notebooks:
        print(f"no notebooks in {paths.notebooks_dir()}: nothing to run.")
        return 0
    start = time.perf_counter()
    try:
        results = run_all([p.resolve() for p in notebooks], out_dir, args.in_place)
    except KeyboardInterrupt:
        return 130
    print()
    print_table(results)
    total = time.perf_counter() - start
    failed = [r.name for r in results if not r.ok]
    where = "notebooks/ (in place)" if args.in_place else out_dir
    print(f"\n{len(results)} notebooks in {total:.1f} s, {len(failed)} failed; executed copies "
          f"in {where}.")
    print("Look at the results: `make tensorboard` (TensorBoard on runs/) and `make lab` "
          "(JupyterLab on notebooks/).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
