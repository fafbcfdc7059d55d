"""Every web page a learner uses, in a real browser: Debian's Chromium, driven by Playwright.

- The book (``make book``): the front page and one lesson of each edition load with no console
  error and no request leaving 127.0.0.1 (every request is routed, recorded, and refused if it
  would leave), show their figures (images loaded) and their math (typeset by MathJax), switch
  to the other edition and offer the notebook; the search finds the Conv2d lesson (卷积 and
  ``Conv2d`` in the Chinese site, ``Conv2d`` in the English one).
- TensorBoard, started as ``make tensorboard`` starts it, on this session's notebook runs
  (``notebook_runs``): the images and scalars dashboards list every lesson tag that
  ``tests/lessons.py`` promises.
- JupyterLab, started as ``make lab`` starts it, with its token: a lesson opens with its stored
  outputs, and its setup cell runs in the project's kernel (its new output appears).

Each test saves a screenshot to ``<project>/runs/screenshots/`` for a person to look at.
Playwright's own browser download cannot work here: it drives the Chromium that Debian
installs (``apt-get install chromium``; ``.ci/run`` does it in CI). Without it these tests skip.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lessons import PROMISED
from test_book import built_site
from test_servers import free_port, stop

from helpers import config
from torchnn_tools import servers as commands

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's Chromium is not installed (no `chromium` on PATH, no /usr/bin/chromium): "
                "install it with `sudo apt-get install chromium` (CI's .ci/run does) to run the "
                "browser tests", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: `make test` installs it, or "
    "`.venv/bin/pip install -r requirements-book.txt`")

HOST = "127.0.0.1"
# As headless Chromium needs them here: root (no sandbox), no GPU, and none of the background
# connections to Google that a closed network refuses.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = config.project_root() / "runs" / "screenshots"
TIMEOUT_MS = 60_000  # one step in the browser, on a machine busy with the notebooks' kernels
START_TIMEOUT = 90  # seconds for a server to answer
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


class Watch:
    """What the pages of one browser context did: requests that would leave 127.0.0.1 (refused),
    console errors, uncaught exceptions, failed requests and HTTP errors."""

    def __init__(self, context):
        self.outside: list[str] = []
        self.errors: list[str] = []
        context.route("**/*", self._route)
        context.on("page", self.attach)

    def _route(self, route):
        url = route.request.url
        if urlsplit(url).hostname == HOST:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def attach(self, page):
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"console: {msg.text} ({msg.location.get('url', '')})"))
        page.on("pageerror", lambda err: self.errors.append(f"uncaught: {err}"))
        page.on("requestfailed", lambda req: self.errors.append(
            f"failed: {req.url} ({req.failure})"))
        page.on("response", lambda resp: resp.status >= 400 and self.errors.append(
            f"HTTP {resp.status}: {resp.url}"))

    def check(self):
        assert not self.outside, f"requests that would have left {HOST}: {self.outside}"
        assert not self.errors, "\n".join(self.errors)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def tab(browser):
    """``(page, watch)``: a new page in a fresh browser context, every request watched."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch(context)
    page = context.new_page()
    yield page, watch
    context.close()


# --- the book ------------------------------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url():
    """The built site, served on 127.0.0.1 as the README says (a plain static server)."""
    site = built_site()
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}", site
    server.shutdown()
    server.server_close()


def lessons_built(site: Path) -> dict[str, dict[str, str]]:
    return json.loads((site.parent / "src" / "lessons.json").read_text(encoding="utf-8"))


def lesson_to_show(site: Path) -> str:
    """A lesson both editions have, with figures and math: 02_conv2d, while the Chinese edition
    is still being translated the first one that has both."""
    built = lessons_built(site)
    shared = [stem for stem in built["en"] if stem in built["zh"]]
    assert shared, "the two editions have no lesson in common"
    for stem in ["02_conv2d", *shared]:
        if stem in shared:
            cells = json.loads((site / "zh" / "_sources" / f"{stem}.ipynb").read_text(
                encoding="utf-8"))["cells"]
            has_math = any("$" in "".join(c["source"]) for c in cells
                           if c["cell_type"] == "markdown")
            if has_math and figures_in(site / "zh" / "_sources" / f"{stem}.ipynb"):
                return stem
    pytest.fail(f"no lesson of both editions has figures and math ({shared})")


def figures_in(notebook: Path) -> int:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum("image/png" in out.get("data", {}) for c in cells for out in c.get("outputs", []))


def test_the_front_page_lists_both_editions_and_leads_to_them(tab, site_url):
    page, watch = tab
    url, site = site_url
    built = lessons_built(site)
    page.goto(f"{url}/index.html")
    for edition in ("en", "zh"):
        links = page.locator(f"section.edition[lang={edition}] ol li a[href^='{edition}/']")
        assert links.count() == len(built[edition]), edition
    assert "make run" in page.locator("pre").inner_text()
    screenshot(page, "site-front-page")
    page.locator("section.edition[lang=zh] h2 a").click()
    page.wait_for_url(f"{url}/zh/index.html")
    page.locator("article").wait_for()
    watch.check()


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_a_lesson_shows_its_figures_and_math_and_links_the_other_edition(tab, site_url, edition):
    page, watch = tab
    url, site = site_url
    stem = lesson_to_show(site)
    other = "zh" if edition == "en" else "en"
    page.goto(f"{url}/{edition}/{stem}.html", wait_until="load")
    # Math: every formula typeset by the site's MathJax, none of them an error.
    page.wait_for_function("""() => {
        const math = document.querySelectorAll('article .math');
        return math.length > 0 && [...math].every(m => m.querySelector('mjx-container'));
    }""")
    assert page.locator("article mjx-container").count() > 0
    assert page.locator("article mjx-merror").count() == 0
    # Figures: every stored figure of the notebook, loaded (a broken image has no width).
    stored = figures_in(site / edition / "_sources" / f"{stem}.ipynb")
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    widths = page.locator("article .cell_output img").evaluate_all(
        "images => images.map(i => i.naturalWidth)")
    assert len(widths) >= stored > 0 and all(w > 0 for w in widths), (stored, widths)
    first_figure = page.locator("article .cell_output img").first
    first_figure.scroll_into_view_if_needed()
    page.mouse.wheel(0, -250)  # the figure with the text above it
    page.wait_for_timeout(300)
    screenshot(page, f"site-{edition}-lesson")
    # The notebook, downloadable, is the one the page was built from.
    download = page.locator("a.notebook-download")
    response = page.request.get(f"{url}/{edition}/{download.get_attribute('href')}")
    assert response.ok and json.loads(response.body())["cells"]
    # The edition switch leads to the same lesson in the other edition.
    page.locator("a.edition-link").click()
    page.wait_for_url(f"{url}/{other}/{stem}.html")
    page.locator("article .cell_output img").first.wait_for()
    watch.check()


SEARCHES = {"zh-juanji": ("zh", "卷积"), "zh-Conv2d": ("zh", "Conv2d"),
            "en-Conv2d": ("en", "Conv2d")}


@pytest.mark.parametrize("case", list(SEARCHES))
def test_search_finds_the_conv2d_lesson(tab, site_url, case):
    """Typed into the site's search box, as a reader would: 卷积 (convolution) must be a word
    of the Chinese index (jieba), not only part of a title."""
    page, watch = tab
    url, site = site_url
    edition, words = SEARCHES[case]
    if "02_conv2d" not in lessons_built(site)[edition]:
        pytest.skip(f"the {edition} edition has no 02_conv2d lesson yet")
    page.goto(f"{url}/{edition}/index.html")
    page.keyboard.press("Control+k")  # the theme's search dialog
    box = page.locator("input[name=q]:visible")
    box.fill(words)
    box.press("Enter")
    page.wait_for_url(re.compile(rf"/{edition}/search\.html\?q="))
    summary = page.locator("#search-results .search-summary")
    summary.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#search-results .search-summary').textContent.trim()")
    found = page.locator("#search-results ul.search li a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert any(href.startswith("02_conv2d.html") for href in found), (words, found)
    screenshot(page, f"site-search-{case}")
    watch.check()


# --- the servers: started as `make tensorboard` and `make lab` start them ----------------------

def answers(url: str) -> bool:
    try:
        with _direct.open(url, timeout=10) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def start(command: list[str], log: Path, ready: str, env: dict | None = None):
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=config.project_root())
    deadline = time.monotonic() + START_TIMEOUT
    while not answers(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"{command[0]} did not answer {ready}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return proc


@pytest.fixture(scope="module")
def tensorboard(notebook_runs, tmp_path_factory):
    port = free_port()
    command = commands.tensorboard_command(port)
    assert command[command.index("--logdir") + 1] == str(notebook_runs)
    url = f"http://{HOST}:{port}"
    proc = start([*command, "--reload_interval", "1"],
                 tmp_path_factory.mktemp("tensorboard") / "tensorboard.log", f"{url}/data/runs")
    expected = {f"{topic}/{run}" for topic, runs in PROMISED.items() for run in runs}
    deadline = time.monotonic() + START_TIMEOUT  # it loads the runs in the background
    while not expected <= set(json.loads(_direct.open(f"{url}/data/runs").read())):
        assert time.monotonic() < deadline, "TensorBoard did not load every lesson run"
        time.sleep(0.5)
    yield url
    stop(proc)


# Every (run, tag) a dashboard lists, from its categories (it renders the cards of the open
# ones only): an images card is one run's tag, a scalars card one tag with a series per run.
LISTED = """views => {
    const pairs = [];
    for (const view of views) {
        for (const item of (view.category && view.category.items) || []) {
            if (item.run) pairs.push([item.run, item.tag]);
            for (const s of item.series || []) pairs.push([s.run, s.tag]);
        }
    }
    return pairs;
}"""


@pytest.mark.parametrize("dashboard", ["images", "scalars"])
def test_tensorboard_dashboards_list_the_lessons_tags(tab, tensorboard, dashboard):
    page, watch = tab
    expected = {(f"{topic}/{run}", tag) for topic, runs in PROMISED.items()
                for run, kinds in runs.items() for tag in kinds.get(dashboard, [])}
    page.goto(f"{tensorboard}/#{dashboard}")
    views = page.locator("tf-category-paginated-view")  # inside shadow roots: Playwright's
    views.first.wait_for(state="attached")               # locators look there, querySelector not
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        listed = {(run, tag) for run, tag in views.evaluate_all(LISTED)
                  if run.split("/")[0] in PROMISED}
        if listed >= expected or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
    assert listed == expected, (sorted(expected - listed), sorted(listed - expected))
    # The open categories show their cards, each headed with its tag.
    cards = page.get_by_text(re.compile(r"^\s*tag: ")).filter(visible=True)
    cards.first.wait_for()
    shown = {text.strip().removeprefix("tag: ") for text in cards.all_inner_texts()}
    assert shown and shown <= {tag for _, tag in expected}, shown
    if dashboard == "images":  # the open categories' pictures, loaded
        pictures = page.locator("tf-image-loader img")
        pictures.first.wait_for()
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not all(w > 0 for w in pictures.evaluate_all(
                "images => images.map(i => i.complete ? i.naturalWidth : 0)")):
            assert time.monotonic() < deadline, "TensorBoard's pictures did not load"
            page.wait_for_timeout(250)
    page.wait_for_timeout(1000)  # the charts draw their lines
    screenshot(page, f"tensorboard-{dashboard}")
    assert not watch.outside, watch.outside


LESSON = "01_module"  # the lesson JupyterLab opens


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as ``make lab`` starts it (``lab_command``), on a free port with a token.

    Its settings are this module's own: no autosave (running a cell must never rewrite a
    lesson), no news check, every cell rendered. Checkpoints go to a temporary folder instead of
    ``notebooks/.ipynb_checkpoints/``.
    """
    tmp = tmp_path_factory.mktemp("lab")
    settings = tmp / "config" / "lab" / "user-settings" / "@jupyterlab"
    for plugin, values in {
        "docmanager-extension/plugin": {"autosave": False},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
    url = f"http://{HOST}:{port}"
    proc = start([*commands.lab_command(port), "--ServerApp.port_retries=0",
                  f"--IdentityProvider.token={token}",
                  f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}"],
                 tmp / "lab.log", f"{url}/api/status?token={token}", env)
    yield url, token
    stop(proc)


def test_jupyterlab_opens_a_lesson_and_runs_its_setup_cell(tab, lab):
    page, watch = tab
    url, token = lab
    notebook = config.project_root() / "notebooks" / f"{LESSON}.ipynb"
    before = notebook.read_bytes()
    cells = json.loads(before)["cells"]
    setup_index = next(i for i, c in enumerate(cells)
                       if c["cell_type"] == "code" and "setup(" in "".join(c["source"]))
    stored = "".join("".join(out.get("text", "")) for out in cells[setup_index]["outputs"])
    assert "fast   : off" in stored  # committed at full size; the tests run in fast mode
    try:
        page.goto(f"{url}/lab/tree/notebooks/{LESSON}.ipynb?token={token}")
        panel = page.locator(".jp-NotebookPanel")
        rendered = panel.locator(".jp-Notebook .jp-Cell")
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')"
            ".length === n", arg=len(cells))
        setup_cell = rendered.nth(setup_index)
        # The stored outputs: the setup cell's lines, and the lesson's figures.
        output = setup_cell.locator(".jp-OutputArea-output")
        assert output.inner_text().strip() == stored.strip()
        figures = panel.locator(".jp-RenderedImage img")
        assert figures.count() == figures_in(notebook) > 0
        figures.first.scroll_into_view_if_needed()
        figures.first.evaluate("img => img.decode()")
        assert figures.first.evaluate("img => img.naturalWidth") > 0
        # Run the setup cell once the kernel is up: its new output replaces the stored one.
        page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]").wait_for(
            timeout=120_000)
        setup_cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(
            """i => {
                const cell = document.querySelectorAll(
                    '.jp-NotebookPanel .jp-Notebook .jp-Cell')[i];
                const out = cell && cell.querySelector('.jp-OutputArea-output');
                return out && out.innerText.includes('fast   : on');
            }""", arg=setup_index, timeout=180_000)
        new = output.inner_text()
        assert new != stored and "device :" in new and "fast   : on" in new, new
        setup_cell.scroll_into_view_if_needed()
        screenshot(page, "jupyterlab-lesson")
        assert not watch.outside, watch.outside
        assert not [e for e in watch.errors if "console:" not in e], watch.errors
    finally:
        page.close()  # never saved: the lesson on disk is as committed
        after = notebook.read_bytes()
        if after != before:
            notebook.write_bytes(before)
            pytest.fail(f"JupyterLab rewrote {notebook.name} (restored)")
