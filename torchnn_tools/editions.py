"""The Chinese edition: ``notebooks/zh/`` built from the English notebooks and one translation
file per notebook, so the two never drift apart.

``notebooks/zh/translations/<name>.json`` holds, for each cell id, the English text it was made
from and its Chinese text::

    {"notebook": "01_module.ipynb",
     "cells": {"29d51a29": {"en": ["# 01 · `nn.Module`: ...", ...], "zh": ["# 01 · ...", ...]}}}

Markdown cells are translated whole. Code cells are the English code; an entry for a code
cell may translate its comments and docstrings, and nothing else (the same program: its syntax
tree, docstrings aside, must be the English one's).
Outputs are copied from the executed English notebook: the same code prints the same thing.

The build refuses, listing every cell, when the translation is out of step with the English:
a markdown cell with no translation, a translation made from English text that has changed
since ("stale"), a Chinese code cell that differs from the English beyond comments, or an entry
for a cell that no longer exists. ``python -m torchnn_tools translations`` lists them, with the
English text to translate; ``make notebooks`` (``python -m torchnn_tools notebooks``) builds the
edition after executing the English notebooks.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers import config

LANGUAGE = "zh"
EDITIONS = ("en", LANGUAGE)  # the English lessons, and the Chinese edition built from them


def english_dir() -> Path:
    return config.project_root() / "notebooks"


def edition_dir(language: str = LANGUAGE) -> Path:
    """An edition's folder: ``notebooks/`` for English, ``notebooks/zh/`` ..."""
    return english_dir() if language == "en" else english_dir() / language


def translations_dir(language: str = LANGUAGE) -> Path:
    return edition_dir(language) / "translations"


def lessons(edition: str = "en") -> list[Path]:
    """The lessons an edition has (``01_module.ipynb`` ...), in order: the one list the
    runner, the book and the tests all use."""
    return sorted(edition_dir(edition).glob("[0-9][0-9]_*.ipynb"))


@dataclass(frozen=True)
class Problem:
    notebook: str
    cell_id: str
    kind: str  # "missing", "stale", "code differs", "orphan", "not a code cell"
    english: str  # the English text now ("" for an orphan)

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell_id}: {self.kind}"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _joined(lines) -> str:
    return "".join(lines) if isinstance(lines, list) else lines


def load_translation(name: str, language: str = LANGUAGE) -> dict[str, dict]:
    """``{cell id: {"en": text, "zh": text}}`` from ``translations/<name>.json`` (empty if none)."""
    path = translations_dir(language) / f"{Path(name).stem}.json"
    if not path.exists():
        return {}
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return {cid: {"en": _joined(entry["en"]), "zh": _joined(entry["zh"])}
            for cid, entry in cells.items()}


def save_translation(name: str, cells: dict[str, dict], language: str = LANGUAGE) -> Path:
    """Write ``cells`` (``{id: {"en": text, "zh": text}}``) in the English notebook's order."""
    import nbformat

    order = [c.id for c in nbformat.read(english_dir() / name, as_version=4).cells]
    ranked = sorted(cells, key=lambda cid: order.index(cid) if cid in order else len(order))
    path = translations_dir(language) / f"{Path(name).stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"notebook": Path(name).name, "cells": {
        cid: {"en": _lines(cells[cid]["en"]), "zh": _lines(cells[cid]["zh"])} for cid in ranked}}
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def code_without_comments(source: str) -> list[str]:
    """What a code cell does, without its comments and docstrings: two cells that differ only
    in those (or in blank lines and line breaks) give the same list. IPython's ``%magic`` and
    ``!shell`` lines are compared as they are."""
    import ast

    kept, plain = [], []
    for line in source.splitlines():
        if line.lstrip().startswith(("%", "!")):
            kept.append(line.strip())
        else:
            plain.append(line)
    try:
        tree = ast.parse("\n".join(plain))
    except SyntaxError:
        return [*kept, source]  # not Python we can read: compare it whole
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[0] = ast.Pass()  # a docstring: documentation, like a comment
    return [*kept, ast.dump(tree)]


def check(name: str, language: str = LANGUAGE) -> list[Problem]:
    """Everything that keeps ``notebooks/<language>/<name>`` from being built right now."""
    import nbformat

    english = nbformat.read(english_dir() / name, as_version=4)
    translated = load_translation(name, language)
    found = []
    for cell in english.cells:
        entry = translated.get(cell.id)
        if cell.cell_type == "markdown":
            if entry is None:
                found.append(Problem(name, cell.id, "missing", cell.source))
            elif entry["en"] != cell.source:
                found.append(Problem(name, cell.id, "stale", cell.source))
        elif entry is not None:
            if cell.cell_type != "code":
                found.append(Problem(name, cell.id, "not a code cell", cell.source))
            elif entry["en"] != cell.source:
                found.append(Problem(name, cell.id, "stale", cell.source))
            elif code_without_comments(entry["zh"]) != code_without_comments(cell.source):
                found.append(Problem(name, cell.id, "code differs", cell.source))
    ids = {cell.id for cell in english.cells}
    found += [Problem(name, cid, "orphan", "") for cid in translated if cid not in ids]
    return found


def build(name: str, language: str = LANGUAGE):
    """The translated notebook: the English one, cell for cell (ids, tags, outputs), with the
    translated text. Raises ``ValueError`` listing the problems if it cannot be built."""
    import nbformat

    problems = check(name, language)
    if problems:
        raise ValueError(f"{len(problems)} cells of {name} are not translated in step with the "
                         f"English: " + "; ".join(map(str, problems)))
    english = nbformat.read(english_dir() / name, as_version=4)
    translated = load_translation(name, language)
    notebook = copy.deepcopy(english)
    for cell in notebook.cells:
        if cell.id in translated:
            cell.source = translated[cell.id]["zh"]
    notebook.metadata["language"] = language
    return notebook


def expected_text(name: str, language: str = LANGUAGE) -> str:
    """The file ``notebooks/<language>/<name>`` must hold, byte for byte."""
    import nbformat

    text = nbformat.writes(build(name, language))
    return text if text.endswith("\n") else text + "\n"


def write_all(language: str = LANGUAGE, names: list[str] | None = None) -> list[Path]:
    """Build the lessons' translations (all, or ``names``) into ``notebooks/<language>/``; all
    of them or none."""
    chosen = [p for p in lessons() if names is None or p.name in names or p.stem in names]
    problems = [p for path in chosen for p in check(path.name, language)]
    if problems:
        raise ValueError(describe(problems))
    written = []
    for path in chosen:
        dest = edition_dir(language) / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = expected_text(path.name, language)
        if not dest.exists() or dest.read_text(encoding="utf-8") != text:
            dest.write_text(text, encoding="utf-8")
        written.append(dest)
    return written


def describe(problems: list[Problem]) -> str:
    lines = [f"the {LANGUAGE} edition is out of step with the English notebooks in "
             f"{len(problems)} cells:"]
    lines += [f"  {p}" for p in problems]
    lines.append("Update notebooks/zh/translations/<name>.json (each entry's \"en\" is the "
                 "English text its \"zh\" was made from); `python -m torchnn_tools translations` "
                 "shows the English text of each.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m torchnn_tools translations``: what needs translating, or build the edition."""
    parser = argparse.ArgumentParser(prog="python -m torchnn_tools translations",
                                     description=main.__doc__)
    parser.add_argument("--build", action="store_true",
                        help="build notebooks/zh/ from the English notebooks and translations")
    parser.add_argument("names", nargs="*", help="only these lessons (e.g. 03_maxpool2d)")
    args = parser.parse_args(argv)
    chosen = [p for p in lessons() if not args.names or p.name in args.names
              or p.stem in args.names]
    problems = [p for path in chosen for p in check(path.name)]
    if not problems:
        if args.build:
            for path in write_all(names=[p.name for p in chosen]):
                print(f"built {config.shown(path)}")
        else:
            print(f"The {LANGUAGE} edition is in step with the English: every cell translated.")
        return 0
    print(describe(problems), file=sys.stderr)
    for problem in problems:
        if problem.english:
            print(f"\n--- {problem} (English now) ---\n{problem.english}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
