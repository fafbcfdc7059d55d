"""One skeleton in all eight lessons, so a learner always knows where they are.

    # 0N · Title                 intro, **Learning goals** (three), **Source:** the section
                                 of the source tutorial it follows, **Glossary:** its Chinese
                                 terms for the notebook's key words
    ## Setup                     then the setup cell: `settings = setup(seed=0)`
    ## 1. ...  ## 2. ...         numbered concept sections (### sub-sections inside)
    ## N. TensorBoard            the last numbered section: what was logged, how to look at it
                                 (`make tensorboard`, and `%tensorboard` inside JupyterLab)
    ## Common pitfalls
    ## Exercises                 at least one where the learner writes code (check_code)
    ## Summary
    ## Solutions                 the answers, checked again by the same checks
"""

from __future__ import annotations

import re

import nbformat
import pytest

from torchnn_tools import editions

NOTEBOOKS = editions.lessons()
TAIL = ["Common pitfalls", "Exercises", "Summary", "Solutions"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def sections(nb) -> list[tuple[str, list]]:
    """``(level-2 heading, cells up to the next one)``; the title cell's part is ``""``."""
    found: list[tuple[str, list]] = [("", [])]
    for cell in nb.cells:
        heading = re.match(r"## (.+)", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            found.append((heading.group(1).strip(), [cell]))
        else:
            found[-1][1].append(cell)
    return found


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_title_goals_source_and_glossary(notebook):
    path, nb = notebook
    title = nb.cells[0]
    assert title.cell_type == "markdown"
    assert title.source.startswith(f"# {path.stem[:2]} · "), title.source.splitlines()[0]
    goals = title.source.split("**Learning goals**", 1)
    assert len(goals) == 2, "no **Learning goals**"
    assert re.findall(r"^\d\. ", goals[1], re.M) == ["1. ", "2. ", "3. "], "three goals"
    assert re.search(r"^\*\*Source:\*\* .+", title.source, re.M), "no **Source:** line"
    glossary = re.search(r"^\*\*Glossary[^\n]*", title.source, re.M)
    assert glossary and len(CJK.findall(glossary.group(0))) >= 4, "no glossary of Chinese terms"


def test_headings_in_order(notebook):
    _, nb = notebook
    names = [name for name, _ in sections(nb)[1:]]
    assert names[0] == "Setup"
    numbered = names[1:-len(TAIL)]
    assert names[-len(TAIL):] == TAIL, names
    assert numbered, "no numbered sections"
    for k, name in enumerate(numbered, start=1):
        assert name.startswith(f"{k}. "), (k, name)
    assert "TensorBoard" in numbered[-1], "the last numbered section is TensorBoard"


def test_setup_cell_comes_first(notebook):
    _, nb = notebook
    setup_part = dict(sections(nb))["Setup"]
    code = [c for c in setup_part if c.cell_type == "code"]
    assert code and "setup(seed=" in code[0].source


def test_tensorboard_section_says_how_to_look(notebook):
    _, nb = notebook
    name, cells = [s for s in sections(nb) if "TensorBoard" in s[0]][-1]
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "make tensorboard" in text and "%tensorboard" in text, name


def test_exercises_ask_for_code_and_solutions_check_it(notebook):
    _, nb = notebook
    parts = dict(sections(nb))
    exercise_code = "\n".join(c.source for c in parts["Exercises"] if c.cell_type == "code")
    solution_code = "\n".join(c.source for c in parts["Solutions"] if c.cell_type == "code")
    assert "check_code(" in exercise_code, "no exercise where the learner writes code"
    assert "NotImplementedError" in exercise_code, "exercise code has no placeholder to fill in"
    assert "check_code(" in solution_code, "the solutions are not checked"


def test_no_answer_is_printed_next_to_its_exercise(notebook):
    """In the committed outputs, every exercise's check says "not answered yet"; "correct"
    appears only under Solutions."""
    _, nb = notebook
    parts = dict(sections(nb))
    shown = "".join(str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
                    for cell in parts["Exercises"] if cell.cell_type == "code"
                    for out in cell.get("outputs", []))
    assert "not answered yet" in shown and "correct." not in shown
    solved = "".join(str(out.get("text", "")) for cell in parts["Solutions"]
                     if cell.cell_type == "code" for out in cell.get("outputs", []))
    assert "correct." in solved and "not answered yet" not in solved
