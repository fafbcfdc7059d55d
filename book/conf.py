"""Sphinx settings of the book: one build per edition (``python -m torchnn_tools book``).

``torchnn_tools/book.py`` assembles each edition's sources under ``book/_build/src/<edition>/``
(the landing page from ``book/<edition>/index.md`` and the committed notebooks, copied as they
are) and runs Sphinx once per edition with this folder as the configuration directory. It says
(in the Sphinx process's environment only: these are not user settings, which all live in
``helpers.config``) which edition through ``BOOK_EDITION`` (``en`` or ``zh``) and which lessons each
edition has through ``BOOK_LESSONS`` (a JSON file: edition -> lesson -> title), so that
every lesson page links to the same lesson in the other edition. The two builds differ only in
their language: ``html_search_language`` is per project, and the Chinese index needs jieba.

Nothing is fetched from the network, at build or view time: the notebooks are not executed,
MathJax is served from the site (``sphinx-mathjax-offline``), myst-nb's widget scripts (CDN)
are off, and the theme's fonts and icons are its own static files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sphinx.search import languages as search_languages
from sphinx.search.zh import SearchChinese

EDITION = os.environ.get("BOOK_EDITION", "en")
if EDITION not in ("en", "zh"):
    raise ValueError(f"BOOK_EDITION={EDITION!r}: use en or zh")
OTHER = "zh" if EDITION == "en" else "en"
HERE = Path(__file__).resolve().parent
_lessons_file = os.environ.get("BOOK_LESSONS")
LESSONS: dict[str, dict[str, str]] = (
    json.loads(Path(_lessons_file).read_text(encoding="utf-8")) if _lessons_file
    else {"en": {}, "zh": {}})

if EDITION == "en":
    project = "Torch.nn notebooks"
    language = "en"
    html_search_language = "en"
else:
    project = "Torch.nn 笔记本"
    language = "zh_CN"
    html_search_language = "zh"  # Sphinx splits Chinese text into words with jieba
author = "the Torch.nn notebooks authors"
copyright = "the Torch.nn notebooks authors"

extensions = ["myst_nb", "sphinx-mathjax-offline"]
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
templates_path = [str(HERE / "_templates")]

# The committed notebooks, with their stored outputs: never executed here.
nb_execution_mode = "off"
nb_ipywidgets_js: dict = {}  # the default loads require.js and the widget manager from CDNs
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = [str(HERE / "_static")]
html_css_files = ["book.css"]
html_favicon = str(HERE / "_static" / "favicon.svg")  # else browsers ask for /favicon.ico
html_sourcelink_suffix = ""  # _sources/02_conv2d.ipynb: the notebook itself, downloadable
html_last_updated_fmt = None
html_theme_options = {
    "home_page_in_toc": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "article_header_end": ["edition-switch.html", "article-header-buttons.html"],
    "show_toc_level": 2,
}
html_context = {
    "default_mode": "auto",  # light or dark as the reader's system says (else a console error)
    "edition": EDITION,
    "other_edition": OTHER,
    "other_lessons": sorted(LESSONS.get(OTHER, {})),
    "other_label": {"en": "English", "zh": "中文"}[OTHER],
    "download_label": {"en": "Notebook (.ipynb)", "zh": "下载笔记本 (.ipynb)"}[EDITION],
}


def _drop_other_mathjax_bundles(app, exception):
    """``sphinx-mathjax-offline`` copies all of MathJax 3 (24 MB); the site loads
    ``tex-chtml.js``, which loads its extensions, fonts, menu and accessibility parts on
    demand. The other combined entry points are never loaded: leave them out (13 MB a build)."""
    if exception is not None:
        return
    folder = Path(app.outdir) / "_static" / "mathjax"
    for name in ("tex-mml-chtml.js", "tex-chtml-full.js", "tex-chtml-full-speech.js",
                 "tex-mml-svg.js", "tex-svg.js", "tex-svg-full.js", "mml-chtml.js",
                 "mml-svg.js", "node-main.js", "latest.js"):
        (folder / name).unlink(missing_ok=True)


class _SearchChinese(SearchChinese):
    """Sphinx 9.0's Chinese search: the index splits words with jieba, and the page stems
    Latin words with the English stemmer, but ``language_data.js`` ends with ``window.Stemmer =
    ChineseStemmer;``, a class that does not exist: every page throws, and search finds nothing
    (sphinx-doc/sphinx#14229, fixed after 9.0). The JS class is named after ``language_name``."""

    language_name = "English"


def setup(app):
    search_languages["zh"] = _SearchChinese
    # After sphinx-mathjax-offline's own build-finished handler (priority 500) copied MathJax.
    app.connect("build-finished", _drop_other_mathjax_bundles, priority=900)
