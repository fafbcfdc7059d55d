"""The book (``make book``, ``torchnn_tools/book.py``): the static site of both editions.

The site is built once per test session (``built_site``: under pytest-xdist, the first worker
to ask builds it under a lock into the session's ``TORCHNN_TEST_DIR``, the other waits for
it), from the committed notebooks, with Sphinx warnings as errors. These tests read the files;
``tests/test_browser.py`` looks at the same site in a real browser.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from helpers import _locks
from torchnn_tools import book, editions

EDITIONS = editions.EDITIONS


def built_site() -> Path:
    """``<test dir>/book/html``: both editions, built once per test session."""
    test_dir = Path(os.environ["TORCHNN_TEST_DIR"])
    out, done, failed = test_dir / "book", test_dir / "book.done", test_dir / "book.failed"
    with _locks.locked(test_dir / ".book.lock"):
        if not done.exists() and not failed.exists():
            code = book.build(out, quiet=True)
            if code != 0:
                logs = "\n".join(p.read_text(encoding="utf-8", errors="replace")[-3000:]
                                 for p in sorted(out.glob("sphinx-*.log")))
                failed.write_text(logs, encoding="utf-8")
            else:
                done.touch()
    if failed.exists():
        pytest.fail(f"the book did not build:\n{failed.read_text(encoding='utf-8')}")
    return out / "html"


@pytest.fixture(scope="module")
def site() -> Path:
    return built_site()


@pytest.fixture(scope="module")
def lessons(site) -> dict[str, dict[str, str]]:
    """edition -> lesson -> title, as the build saw them."""
    return json.loads((site.parent / "src" / "lessons.json").read_text(encoding="utf-8"))


class _Links(HTMLParser):
    """Every ``href``/``src`` of a page, and which of them the browser fetches by itself."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.fetched: list[str] = []  # scripts, stylesheets, icons, images, iframes

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            value = attrs.get(name)
            if not value:
                continue
            self.links.append(value)
            rel = attrs.get("rel") or ""
            if tag in ("script", "img", "iframe", "source", "video", "audio") or (
                    tag == "link" and not {"canonical", "alternate"} & set(rel.split())):
                self.fetched.append(value)


def links_of(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_both_editions_have_every_lesson_they_have_notebooks_for(site, lessons):
    for edition in EDITIONS:
        stems = [p.stem for p in editions.lessons(edition)]
        assert list(lessons[edition]) == stems, edition  # in order, 01 first
        assert (site / edition / "index.html").is_file()
        assert (site / edition / "search.html").is_file()
        for stem in stems:
            assert (site / edition / f"{stem}.html").is_file(), (edition, stem)
    assert len(lessons["en"]) == 8, lessons["en"]
    assert (site / "index.html").is_file() and (site / ".nojekyll").is_file()


def test_the_front_page_lists_both_editions_lessons_in_order(site, lessons):
    page = (site / "index.html").read_text(encoding="utf-8")
    for edition in EDITIONS:
        section = page.split(f'<section class="edition" lang="{edition}">')[1]
        section = section.split("</section>")[0]
        hrefs = re.findall(rf'<li><a href="{edition}/(\d\d_\w+)\.html">', section)
        assert hrefs == list(lessons[edition]), edition
    assert "make run" in page and "make test" in page


def test_each_edition_s_first_page_lists_its_lessons_in_order(site, lessons):
    for edition in EDITIONS:
        page = (site / edition / "index.html").read_text(encoding="utf-8")
        article = page[page.index('<article'):page.index('</article>')]
        toctree = re.findall(r'class="reference internal" href="(\d\d_\w+)\.html"', article)
        assert toctree == list(lessons[edition]), edition
        text = re.sub(r"<[^>]+>", "", article)
        assert "make run" in text and "make test" in text


def test_every_link_and_file_of_the_site_is_on_the_site(site):
    """Nothing a page loads comes from elsewhere (no CDN), and no relative link is broken."""
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) > 20
    for page in pages:
        found = links_of(page)
        for url in found.fetched:
            parts = urlsplit(url)
            assert parts.scheme in ("", "data") and not parts.netloc, (page, url)
        for url in found.links:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.exists(), (page.relative_to(site), url)
            assert site.resolve() in target.parents, (page.relative_to(site), url)


def test_stylesheets_load_no_fonts_or_files_from_elsewhere(site):
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        remote = [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", text)
                  if urlsplit(u).scheme not in ("", "data")]
        remote += re.findall(r"@import\s+(?:url\()?['\"]?(?:https?:)?//[^;]+", text)
        assert not remote, (css.relative_to(site), remote[:3])


def test_math_is_typeset_by_the_site_s_own_mathjax(site, lessons):
    for edition in EDITIONS:
        assert (site / edition / "_static" / "mathjax" / "tex-chtml.js").is_file()
        assert (site / edition / "_static" / "mathjax" / "output" / "chtml" / "fonts").is_dir()
        page = (site / edition / "04_activations.html")
        if "04_activations" not in lessons[edition]:
            continue
        text = page.read_text(encoding="utf-8")
        assert 'src="_static/mathjax/tex-chtml.js' in text
        assert text.count('class="math notranslate nohighlight"') > 20


def test_every_lesson_page_offers_its_notebook_and_the_other_edition(site, lessons):
    figures = 0
    for edition in EDITIONS:
        other = "zh" if edition == "en" else "en"
        for stem in lessons[edition]:
            page = site / edition / f"{stem}.html"
            links = links_of(page).links
            assert f"_sources/{stem}.ipynb" in links, page
            served = site / edition / "_sources" / f"{stem}.ipynb"
            # the committed notebook as it was copied for the build, byte for byte
            assert served.read_bytes() == (site.parent / "src" / edition / f"{stem}.ipynb"
                                           ).read_bytes()
            assert json.loads(served.read_text(encoding="utf-8"))["cells"], served
            switch = f"../{other}/{stem}.html" if stem in lessons[other] else (
                f"../{other}/index.html")
            assert switch in links, (page, switch)
            # the lesson's figures are on the page, as files of the site
            images = [u for u in links_of(page).fetched if u.startswith("_images/")]
            stored = sum("image/png" in output.get("data", {})
                         for cell in json.loads(served.read_text(encoding="utf-8"))["cells"]
                         for output in cell.get("outputs", []))
            assert len(images) >= stored, (page, len(images), stored)
            figures += stored
    assert figures > 0  # a lesson may have none while it is being rewritten, not all of them


def search_index(site: Path, edition: str) -> dict:
    text = (site / edition / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def test_the_chinese_search_index_holds_chinese_words(site, lessons):
    """jieba splits the Chinese text into words: 卷积 (convolution) is a term, not only a part
    of titles, and Latin words (Conv2d) are in the Chinese index too."""
    index = search_index(site, "zh")
    docnames = index["docnames"]
    assert "卷积" in index["terms"]
    assert "conv2d" in index["terms"]
    if "02_conv2d" in lessons["zh"]:
        def docs(term):  # a page's title words are indexed as such, not again as text
            found = []
            for kind in ("terms", "titleterms"):
                hit = index[kind].get(term, [])
                found += [hit] if isinstance(hit, int) else hit
            return {docnames[i] for i in found}

        assert "02_conv2d" in docs("卷积") and "02_conv2d" in docs("conv2d")
    english = search_index(site, "en")
    assert "conv2d" in english["terms"] and "卷积" not in english["terms"]


def test_a_sphinx_warning_fails_the_build(tmp_path, monkeypatch, capsys):
    """Warnings are errors: a notebook with a broken cross-reference stops the build."""
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    monkeypatch.setattr(editions, "english_dir", lambda: tmp_path / "notebooks")
    for edition in EDITIONS:
        folder = editions.edition_dir(edition)
        folder.mkdir(parents=True, exist_ok=True)
        nb = new_notebook(cells=[new_markdown_cell("# 01 · A lesson\n\nSee {ref}`nowhere`.")])
        nbformat.write(nb, folder / "01_module.ipynb")
    assert book.build(tmp_path / "out", quiet=True) == 1
    err = capsys.readouterr().err
    assert "did not build" in err and "nowhere" in err
    assert not (tmp_path / "out" / "html" / "index.html").exists()
