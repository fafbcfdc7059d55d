"""``book``: the lessons as a static site, both editions, from the committed notebooks.

    python -m torchnn_tools book              # make book: book/_build/html/
    python -m torchnn_tools book --out DIR    # build under DIR instead (DIR/html/)

The notebooks are not executed: the site shows the outputs they are committed with. Each
edition is its own Sphinx build (myst-nb, sphinx-book-theme; Sphinx's search language is per
build, and the Chinese one splits words with jieba): ``html/en/`` and ``html/zh/``, with
``html/index.html`` (``book/index.html``) linking both. The sources are assembled under
``<out>/src/<edition>/``: the edition's landing page (``book/<edition>/index.md``, its lesson
list filled in) and a copy of each lesson notebook that edition has now. Sphinx warnings are
errors. Nothing is fetched from the network, at build or view time (``book/conf.py``).

The result can be published as it is on any static host; to look at it here:
``python -m http.server --bind 127.0.0.1 --directory book/_build/html 8000``.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path

from torchnn_tools import editions, install

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
OUT = BOOK / "_build"
LABELS = {"en": "English", "zh": "中文"}
MARKER = "<!-- lessons -->"
NOT_YET = {"en": "Not in English yet; the Chinese lessons:",  # on an edition's first page
           "zh": "以下课程尚未翻译，请先看英文版："}
NOT_YET_SHORT = {"en": "not in English yet:", "zh": "尚未翻译："}  # on the front page


def title_of(notebook: Path) -> str:
    """The lesson's title: the first Markdown heading of its notebook."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return notebook.stem


def assemble(out: Path) -> dict[str, dict[str, str]]:
    """Copy each edition's sources to ``<out>/src/<edition>/``; edition -> lesson -> title.

    The notebooks are copied first and read from the copies, so that a notebook rewritten
    while this runs (``make notebooks``, a translation being built) is seen once, whole.
    """
    lessons: dict[str, dict[str, str]] = {}
    for edition in editions.EDITIONS:
        src = out / "src" / edition
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        lessons[edition] = {}
        for notebook in editions.lessons(edition):
            copy = src / notebook.name
            shutil.copyfile(notebook, copy)
            try:
                lessons[edition][notebook.stem] = title_of(copy)
            except (ValueError, KeyError) as err:
                raise SystemExit(f"error: {notebook} is not a readable notebook ({err}); "
                                 f"is it being written? Run the build again.") from err
    for edition, own in lessons.items():
        other = "zh" if edition == "en" else "en"
        lines = ["```{toctree}", ":maxdepth: 1", "", *own, "```"]
        missing = [stem for stem in lessons[other] if stem not in own]
        if missing:
            lines += ["", f"<p>{NOT_YET[edition]}</p>", "<ul>"]
            lines += [f'<li><a href="../{other}/{stem}.html">{_html_title(lessons[other][stem])}'
                      f"</a></li>" for stem in missing]
            lines.append("</ul>")
        page = (BOOK / edition / "index.md").read_text(encoding="utf-8")
        assert MARKER in page, f"book/{edition}/index.md has no {MARKER} line"
        (out / "src" / edition / "index.md").write_text(
            page.replace(MARKER, "\n".join(lines)), encoding="utf-8")
    (out / "src" / "lessons.json").write_text(
        json.dumps(lessons, ensure_ascii=False, indent=1), encoding="utf-8")
    return lessons


def _html_title(title: str) -> str:
    """A lesson title for HTML: escaped, with its `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(title, quote=False))


def sphinx_command(out: Path, edition: str) -> list[str]:
    """Sphinx for one edition, into ``<out>/sphinx/<edition>/html`` (myst-nb writes its own
    files beside the output folder, so each edition has a folder of its own)."""
    work = out / "sphinx" / edition
    return [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E", "-q",
            "-c", str(BOOK), "-d", str(work / "doctrees"), str(out / "src" / edition),
            str(work / "html")]


def landing(out: Path, lessons: dict[str, dict[str, str]]) -> None:
    """``<out>/html/index.html``: both editions' lessons, in order, each in its own column."""
    items = {}
    for edition, own in lessons.items():
        other = "zh" if edition == "en" else "en"
        rows = [f'      <li><a href="{edition}/{stem}.html">{_html_title(title)}</a></li>'
                for stem, title in own.items()]
        rows += [f'      <li><span class="pending">{_html_title(lessons[other][stem])} '
                 f'({NOT_YET_SHORT[edition]} <a href="{other}/{stem}.html">{LABELS[other]}</a>)'
                 f"</span></li>" for stem in lessons[other] if stem not in own]
        items[f"{edition}_lessons"] = "\n".join(rows)
    page = string.Template((BOOK / "index.html").read_text(encoding="utf-8")).substitute(items)
    (out / "html" / "index.html").write_text(page, encoding="utf-8")
    # GitHub Pages runs Jekyll unless told not to, and Jekyll drops _static/ and _sources/.
    (out / "html" / ".nojekyll").write_text("", encoding="utf-8")


def build(out: Path = OUT, quiet: bool = False) -> int:
    """Assemble and build both editions under ``out``; 0, or 1 with Sphinx's messages."""
    out = Path(out)
    say = (lambda *_: None) if quiet else (lambda text: print(text, flush=True))
    lessons = assemble(out)
    shutil.rmtree(out / "sphinx", ignore_errors=True)
    logs = {edition: out / f"sphinx-{edition}.log" for edition in editions.EDITIONS}
    running = {}
    for edition in editions.EDITIONS:  # the two builds at once: one core each
        say(f"Building the {LABELS[edition]} edition: {len(lessons[edition])} lessons "
            f"({', '.join(lessons[edition]) or 'none'}) ...")
        env = dict(os.environ, BOOK_EDITION=edition,
                   BOOK_LESSONS=str(out / "src" / "lessons.json"),
                   PYTHONIOENCODING="utf-8")
        with open(logs[edition], "w", encoding="utf-8") as log:
            running[edition] = subprocess.Popen(sphinx_command(out, edition), cwd=ROOT,
                                                stdout=log, stderr=subprocess.STDOUT, env=env)
    failed = []
    for edition, proc in running.items():
        if proc.wait() != 0:
            failed.append(edition)
    for edition in editions.EDITIONS:
        text = logs[edition].read_text(encoding="utf-8", errors="replace").strip()
        # jieba announces its dictionary on every start; everything else is Sphinx's.
        text = "\n".join(line for line in text.splitlines()
                         if not re.match(r"(Building prefix dict|Loading model|Dumping model|"
                                         r"Prefix dict has been built)", line))
        if text and (edition in failed or not quiet):
            print(f"--- Sphinx, {LABELS[edition]} edition:\n{text}", file=sys.stderr)
    if failed:
        print(f"error: the {' and '.join(LABELS[e] for e in failed)} edition did not build "
              f"(Sphinx's warnings count as errors; its messages are above, and in "
              f"{', '.join(str(logs[e]) for e in failed)}).", file=sys.stderr)
        return 1
    shutil.rmtree(out / "html", ignore_errors=True)
    (out / "html").mkdir(parents=True)
    for edition in editions.EDITIONS:
        (out / "sphinx" / edition / "html").rename(out / "html" / edition)
    landing(out, lessons)
    return 0


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torchnn_tools book",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help="build folder (default: book/_build); the site goes to OUT/html/")
    args = parser.parse_args(argv)
    lacking = install.missing(install.BOOK_INPUTS[0])
    if lacking:
        print(f"error: the book needs {', '.join(lacking)} (requirements-book.txt), which this "
              f"Python does not have: run `make book` (it installs them), or install them with "
              f"`{sys.executable} -m pip install -r requirements-book.txt -c requirements.txt`, "
              f"then this again.", file=sys.stderr)
        return 2
    start = time.monotonic()
    code = build(args.out)
    if code != 0:
        return code
    site = args.out.resolve() / "html"
    shown = site.relative_to(ROOT) if ROOT in site.parents else site
    print(f"Done in {time.monotonic() - start:.0f} s: {shown}/ ({size_of(site) / 1e6:.0f} MB), "
          f"both editions ({shown}/en/, {shown}/zh/).\n"
          f"Look at it: python -m http.server --bind 127.0.0.1 --directory {shown} 8000, then "
          f"http://127.0.0.1:8000/ . Publish it: copy {shown}/ as it is to any static host.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
