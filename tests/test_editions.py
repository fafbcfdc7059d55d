"""The Chinese edition never drifts from the English: built from it plus one translation file
per notebook, and refused when they are out of step (torchnn_tools/editions.py)."""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest

from torchnn_tools import editions

LESSONS = [p.name for p in editions.lessons()]
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_there_are_eight_lessons_in_each_edition():
    assert len(LESSONS) == 8
    assert sorted(p.name for p in editions.edition_dir().glob("*.ipynb")) == LESSONS


@pytest.mark.parametrize("name", LESSONS)
def test_every_cell_is_translated_in_step_with_the_english(name):
    problems = editions.check(name)
    assert not problems, editions.describe(problems)


@pytest.mark.parametrize("name", LESSONS)
def test_the_chinese_notebook_is_what_the_build_makes(name):
    """Byte for byte: its cells, ids, tags and outputs are the English notebook's (so stale
    outputs, a hand edit or a forgotten rebuild fail here), its prose the translation's."""
    stored = (editions.edition_dir() / name).read_text(encoding="utf-8")
    assert stored == editions.expected_text(name), (
        f"notebooks/zh/{name} is not what `python -m torchnn_tools translations --build` "
        f"makes from notebooks/{name} and its translation: rebuild it")


@pytest.mark.parametrize("name", LESSONS)
def test_the_prose_is_chinese(name):
    chinese = nbformat.read(editions.edition_dir() / name, as_version=4)
    for cell in chinese.cells:
        if cell.cell_type == "markdown":
            assert CJK.search(cell.source), f"{name} cell {cell.id} has no Chinese in it"


@pytest.fixture
def english_copy(tmp_path, monkeypatch):
    """The project's notebooks and translations, copied, so a test may change the English."""
    folder = tmp_path / "notebooks"
    shutil.copytree(editions.english_dir(), folder,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    monkeypatch.setattr(editions, "english_dir", lambda: folder)
    return folder


def test_one_changed_english_sentence_makes_its_cell_stale(english_copy):
    name = LESSONS[0]
    notebook = nbformat.read(english_copy / name, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "markdown" and ". " in c.source)
    cell.source = cell.source.replace(". ", ". Also, a new sentence. ", 1)
    nbformat.write(notebook, english_copy / name)
    problems = editions.check(name)
    assert [(p.cell_id, p.kind) for p in problems] == [(cell.id, "stale")]
    with pytest.raises(ValueError, match=f"{name} cell {cell.id}: stale"):
        editions.build(name)
    with pytest.raises(ValueError, match="out of step"):
        editions.write_all()


def test_a_new_english_cell_must_be_translated(english_copy):
    name = LESSONS[1]
    notebook = nbformat.read(english_copy / name, as_version=4)
    new = nbformat.v4.new_markdown_cell("A paragraph nobody has translated yet.")
    notebook.cells.insert(3, new)
    nbformat.write(notebook, english_copy / name)
    assert [(p.cell_id, p.kind) for p in editions.check(name)] == [(new.id, "missing")]


def test_a_chinese_code_cell_may_differ_in_its_comments_only(english_copy):
    name = LESSONS[2]
    notebook = nbformat.read(english_copy / name, as_version=4)
    code = next(c for c in notebook.cells if c.cell_type == "code" and "\n" in c.source)
    cells = editions.load_translation(name)
    cells[code.id] = {"en": code.source, "zh": "# 中文注释\n" + code.source}
    editions.save_translation(name, cells)
    assert editions.check(name) == []
    cells[code.id]["zh"] = code.source + "\nprint('changed')"
    editions.save_translation(name, cells)
    assert [(p.cell_id, p.kind) for p in editions.check(name)] == [(code.id, "code differs")]


def test_code_without_comments_keeps_what_matters():
    same = editions.code_without_comments
    assert same("x = 1  # one\n# note\n\ny = 2") == same("x = 1  # 一\ny = 2  # 二")
    assert same("s = '# not a comment'") != same("s = '# 不是注释'")  # strings are code
    assert same("for i in r:\n    a()\nb()") != same("for i in r:\n    a()\n    b()")
    assert same("%timeit f()\nx = 1") == same("%timeit f()\nx = 1  # 计时")
    assert same("%timeit f()") != same("%timeit g()")
    documented = 'class A:\n    """Holds x."""\n    def f(self):\n        "Return 1."\n' + " " * 8
    translated = 'class A:\n    """保存 x。"""\n    def f(self):\n        "返回 1。"\n' + " " * 8
    documented, translated = documented + "return 1", translated + "return 1"
    assert same(documented) == same(translated)  # docstrings are documentation
    assert same(documented) != same(translated.replace("return 1", "return 2"))


ZH_TAIL = ["常见误区", "练习", "小结", "参考答案"]


@pytest.mark.parametrize("name", LESSONS)
def test_the_chinese_skeleton_uses_the_same_words_everywhere(name):
    """The fixed parts have one Chinese name in all eight (notebooks/zh/README.md)."""
    from test_skeleton import sections

    chinese = nbformat.read(editions.edition_dir() / name, as_version=4)
    title = chinese.cells[0].source
    for words in ("**学习目标**", "**出处：**", "**术语：**"):
        assert words in title, f"{name}: the title cell has no {words}"
    names = [heading for heading, _ in sections(chinese)[1:]]
    assert names[0] == "准备工作" and names[-len(ZH_TAIL):] == ZH_TAIL, names
    numbered = names[1:-len(ZH_TAIL)]
    assert all(h.startswith(f"{k}. ") for k, h in enumerate(numbered, start=1)), numbered
    assert "TensorBoard" in numbered[-1]
