"""The built book as a reader sees it, in headless Chromium (tests/browser.py): every page loads
over http:// with no console error and no request to another host, its images load, its math is
typeset, it does not scroll sideways on a 390 px phone, every internal link and anchor resolves,
and every demo's every control changes the figure from the keyboard, with no kernel.

Without Chromium or Playwright these tests skip with the command that installs them; in CI
(CI=true) they fail instead, so they always run there."""
from __future__ import annotations

import html as html_lib
import os
import re
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from browser import browser_problem, chromium, serve

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("ch*.md"))
PAGES = (["book/intro.html", "search.html"] + [f"book/{c}.html" for c in CHAPTERS] +
         [f"exercises/{p.parent.name}/{p.stem}.html"
          for p in sorted((ROOT / "exercises").glob("*/*.ipynb"))])


@pytest.fixture(scope="module")
def site(html):
    """(browser, base URL) over the built book, or a skip (a failure in CI) naming what is
    missing."""
    problem = browser_problem()
    if problem:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"no browser test: {problem}")
    with serve(html) as base, chromium() as browser:
        yield browser, base


def open_page(site, path: str, width: int = 1280, height: int = 900):
    """The page loaded in a fresh context, with the console errors and the requests to other
    hosts it produced while loading."""
    browser, base = site
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors, foreign = [], []
    page.on("console", lambda m: errors.append(f"{m.text} ({m.location.get('url') or path})")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    host = urlparse(base).netloc

    def check_request(request):
        url = urlparse(request.url)
        if url.scheme not in ("data", "blob", "about") and url.netloc != host:
            foreign.append(request.url)
    page.on("request", check_request)
    page.goto(base + path, wait_until="load")
    return context, page, errors, foreign


IMAGES_LOADED = """async () => {
  for (const img of document.images) img.loading = "eager";
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  return Array.from(document.images).filter(img => !(img.naturalWidth > 0))
      .map(img => img.getAttribute("src").slice(0, 80));
}"""

MATH_TYPESET = """async () => {
  const maths = document.querySelectorAll("span.math, div.math");
  if (!maths.length) return {maths: 0, raw: [], errors: 0};
  for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  if (!(window.MathJax && MathJax.startup)) return {maths: maths.length, raw: ["no MathJax"], errors: 0};
  await MathJax.startup.promise;
  const raw = Array.from(maths).filter(m => !m.querySelector("mjx-container"))
      .map(m => m.textContent.slice(0, 60));
  return {maths: maths.length, raw: raw, errors: document.querySelectorAll("mjx-merror").length};
}"""


def test_the_entry_page_leads_to_the_introduction(site):
    context, page, errors, _ = open_page(site, "index.html")
    try:
        page.wait_for_url("**/book/intro.html")
        assert page.locator("h1").count() >= 1
    finally:
        context.close()
    assert not errors, f"index.html: console errors: {errors[:3]}"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_with_no_error_and_its_images_and_math(site, path):
    context, page, errors, foreign = open_page(site, path)
    try:
        broken = page.evaluate(IMAGES_LOADED)
        math = page.evaluate(MATH_TYPESET)
        page.wait_for_timeout(200)  # late scripts' errors
    finally:
        context.close()
    assert not errors, f"{path}: console errors: {errors[:3]}"
    assert not foreign, f"{path}: requests to other hosts: {foreign[:3]}"
    assert not broken, f"{path}: images that did not load: {broken[:3]}"
    assert not math["raw"], f"{path}: math left untypeset: {math['raw'][:3]}"
    assert math["errors"] == 0, f"{path}: MathJax reports {math['errors']} errors"
    if path.startswith("book/ch"):
        assert math["maths"] > 0, f"{path}: a chapter with no typeset math at all?"


@pytest.mark.parametrize("path", PAGES)
def test_no_sideways_scroll_on_a_phone(site, path):
    context, page, _, _ = open_page(site, path, width=390, height=844)
    try:
        overflow = page.evaluate("""() => {
          const width = document.documentElement.clientWidth;
          const wide = Array.from(document.querySelectorAll(".bd-article *")).filter(e => {
            const r = e.getBoundingClientRect();
            return r.right > width + 1 && getComputedStyle(e).position !== "fixed" &&
                   !e.closest("pre, .highlight, table, .table-wrapper, mjx-container, .MathJax");
          }).map(e => e.tagName + "." + e.className + ": " + (e.textContent || "").slice(0, 40));
          return {scroll: document.documentElement.scrollWidth, width: width, wide: wide};
        }""")
    finally:
        context.close()
    assert overflow["scroll"] <= overflow["width"], \
        f"{path} scrolls sideways at 390 px ({overflow['scroll']} > {overflow['width']}): " \
        f"{overflow['wide'][:3]}"


def _key_towards_another_value(control) -> tuple[str, str]:
    """The key that moves a control to another value, and the key that moves it back."""
    at_end = control.evaluate("""e => e.tagName === "SELECT" ? e.selectedIndex === e.options.length - 1
                                      : Number(e.value) === Number(e.max)""")
    return ("ArrowLeft", "ArrowRight") if at_end else ("ArrowRight", "ArrowLeft")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_demo_control_changes_its_figure_from_the_keyboard(site, chapter):
    context, page, errors, _ = open_page(site, f"book/{chapter}.html")
    try:
        demos = page.locator(".dltips-demo")
        assert demos.count() >= 1, f"{chapter}: no demo"
        for i in range(demos.count()):
            demo = demos.nth(i)
            title = demo.locator(".dltips-demo-title").inner_text()
            figure = demo.locator("img.dltips-demo-figure")
            controls = demo.locator("[data-control]")
            assert controls.count() >= 1, f"{chapter}: the demo '{title}' has no control"
            for j in range(controls.count()):
                control = controls.nth(j)
                name = control.get_attribute("data-control")
                before = figure.get_attribute("src")
                forward, back = _key_towards_another_value(control)
                control.focus()
                page.keyboard.press(forward)
                after = figure.get_attribute("src")
                assert after != before, \
                    f"{chapter}: in '{title}', moving {name} did not change the figure"
                assert figure.get_attribute("alt"), f"{chapter}: '{title}' figure without alt"
                page.keyboard.press(back)
                assert figure.get_attribute("src") == before, \
                    f"{chapter}: in '{title}', moving {name} back did not restore the figure"
    finally:
        context.close()
    assert not errors, f"{chapter}: console errors while using the demos: {errors[:3]}"


def test_every_internal_link_and_anchor_resolves(html):
    """Every href and src in the pages that stays inside the book names a file that exists and,
    with a #fragment, an element with that id."""
    ids: dict[Path, set[str]] = {}

    def ids_of(path: Path) -> set[str]:
        if path not in ids:
            ids[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))
        return ids[path]

    broken = []
    for page in sorted(html.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for attr, target in re.findall(r'\b(href|src)="([^"]*)"', text):
            target = html_lib.unescape(target)
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
                continue  # another scheme (http:, data:, mailto:) or host: not a link in the book
            path, fragment = urldefrag(target)
            path = path.split("?", 1)[0]  # ?digest=... on the theme's files
            file = (page.parent / unquote(path)).resolve() if path else page
            if file.is_dir():
                file = file / "index.html"
            if not file.exists():
                broken.append(f"{page.relative_to(html)}: {attr}={target}")
            elif fragment and file.suffix == ".html" and unquote(fragment) not in ids_of(file):
                broken.append(f"{page.relative_to(html)}: {target} (no such anchor)")
    assert not broken, f"{len(broken)} broken internal links: {broken[:5]}"


@pytest.fixture(scope="module")
def lab(site, tmp_path_factory):
    """JupyterLab (the venv's, with jupytext and jupyterlab-myst) serving the project, and a
    page of the tests' browser on it, with the application object exposed."""
    import socket
    import subprocess
    import sys
    import time
    browser, _ = site
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # its own runtime, settings and workspaces folders: never the user's, whose saved layout
    # would reopen notebooks (and which this server would overwrite)
    private = {"JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime")),
               "JUPYTERLAB_SETTINGS_DIR": str(tmp_path_factory.mktemp("settings")),
               "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("workspaces"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
         "--allow-root", f"--ServerApp.root_dir={ROOT}"],
        env={**os.environ, **private},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/lab", wait_until="load")
        page.wait_for_function("() => window.jupyterapp", timeout=120_000)
        page.evaluate("() => window.jupyterapp.started")
        yield page
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_jupyterlab_renders_a_chapter_s_myst_when_opened_as_a_notebook(lab):
    """What the README tells readers to do: open a chapter as a notebook. Its Markdown cells
    show MyST rendered (admonitions, math, no label lines or directive fences as text)."""
    lab.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', "
                 "{path: 'book/ch04_adaptive_lr.md', factory: 'Jupytext Notebook'})")
    lab.wait_for_selector(".jp-MarkdownCell .myst", state="attached", timeout=60_000)
    # JupyterLab attaches a long notebook's cells a few at a time, when the browser is idle (its
    # default windowing mode): wait until every Markdown cell of the notebook is in the page and
    # rendered, or two minutes (a busy machine takes seconds)
    everything_shown = """() => {
      const notebook = window.jupyterapp.shell.currentWidget?.content;
      if (!notebook || !notebook.model) return false;
      let markdown = 0;
      for (let i = 0; i < notebook.model.cells.length; i++)
        if (notebook.model.cells.get(i).type === "markdown") markdown++;
      const cells = Array.from(notebook.node.querySelectorAll(".jp-MarkdownCell"));
      return cells.length === markdown && cells.every(c => c.querySelector(".myst"));
    }"""
    try:
        lab.wait_for_function(everything_shown, timeout=120_000)
    except Exception:  # noqa: BLE001 - the assertions below say what is missing
        pass
    shown = lab.evaluate("""() => {
      const notebook = window.jupyterapp.shell.currentWidget.content;
      const cells = Array.from(notebook.node.querySelectorAll(".jp-MarkdownCell"));
      return {markdown: Array.from({length: notebook.model.cells.length},
                                   (_, i) => notebook.model.cells.get(i).type)
                             .filter(t => t === "markdown").length,
              cells: cells.length,
              myst: cells.filter(c => c.querySelector(".myst")).length,
              admonitions: notebook.node.querySelectorAll(".jp-MarkdownCell [class*=admonition]").length,
              math: notebook.node.querySelectorAll(".jp-MarkdownCell .katex, .jp-MarkdownCell mjx-container").length,
              raw: cells.map(c => c.innerText).filter(t => /:::\\{|\\(ch\\d\\d-[a-z-]+\\)=|\\{ref\\}`/.test(t))
                        .map(t => t.slice(0, 80))};
    }""")
    assert shown["markdown"] > 5, f"the chapter opened with too few Markdown cells: {shown}"
    assert shown["cells"] == shown["markdown"], f"not every Markdown cell is shown: {shown}"
    assert shown["myst"] == shown["cells"], f"Markdown cells not rendered by MyST: {shown}"
    assert shown["admonitions"] >= 1, f"no admonition rendered: {shown}"
    assert shown["math"] >= 10, f"math not typeset: {shown}"
    assert not shown["raw"], f"raw MyST shown as text: {shown['raw'][:3]}"
