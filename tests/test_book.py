"""The HTML book builds, shows every chapter's figures and demos, and leaks no solution."""
import html as html_lib
import json
import re
from pathlib import Path

import pytest

from test_release import SOURCES, regions

ROOT = Path(__file__).resolve().parent.parent

CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("ch*.md"))


def test_book_has_an_entry_page_and_every_chapter(html):
    entry = (html / "index.html").read_text(encoding="utf-8")
    assert 'http-equiv="Refresh" content="0; url=book/intro.html"' in entry, entry
    # it names the book's icon, or a browser that lingers on it asks for /favicon.ico (a 404)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', entry)
    assert icon and (html / icon.group(1)).is_file(), f"index.html names no icon that exists: {entry}"
    for chapter in CHAPTERS:
        assert (html / "book" / f"{chapter}.html").exists(), f"{chapter} missing from the book"
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in CHAPTERS:
        assert f"book/{chapter}" in toc, f"{chapter} is not in _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_figures_and_a_demo(html, chapter):
    page = (html / "book" / f"{chapter}.html").read_text(encoding="utf-8")
    assert page.count("<img") >= 3, f"{chapter}: expected executed figures and a demo"
    assert 'class="dltips-demo"' in page, f"{chapter}: no widget demo rendering in the static page"
    assert "Traceback (most recent call last)" not in page, f"{chapter} shows an error"
    assert "output stderr" not in page, f"{chapter} prints warnings or errors (stderr)"


def test_exercise_pages_are_in_the_book(html):
    for source in SOURCES:
        page = html / "exercises" / source.parent.name / f"{source.stem}.html"
        assert page.exists(), f"the exercise {source.stem} is not in the book"
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        assert "raise NotImplementedError()" in text, f"{page} does not show the stubs"


def page_lines(path: Path) -> set[str]:
    """The stripped lines of a built file's text: notebook cell sources, or HTML without tags."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        text = "\n".join("".join(c.get("source", "")) for c in json.loads(text).get("cells", []))
    else:
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
    return {line.strip() for line in text.splitlines()}


def test_no_solution_or_hidden_test_in_the_html(html):
    """A region leaks when a page holds two of its lines (or its only line); one shared line
    alone, like `rng = np.random.default_rng(0)`, is a coincidence, not a leak."""
    found = [regions(s, min_length=20) for s in SOURCES]
    public = set().union(*(p for _, p in found))
    secret_regions = [r - public for rs, _ in found for r in rs if r - public]
    for path in html.rglob("*"):
        if path.suffix not in (".html", ".ipynb", ".txt", ".js", ".md"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "BEGIN HIDDEN TESTS" not in text and "### BEGIN SOLUTION" not in text, path
        lines = page_lines(path)
        for region in secret_regions:
            hits = region & lines
            assert len(hits) < min(2, len(region)), \
                f"{path} contains solution or hidden-test lines: {sorted(hits)[:3]}"


def test_pages_need_no_network(html):
    page = (html / "book" / f"{CHAPTERS[0]}.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    remote = [s for s in scripts if s.startswith(("http:", "https:", "//"))]
    assert not remote, f"scripts loaded from the network: {remote}"
    assert any("mathjax" in s for s in scripts) and (html / "_static" / "mathjax").is_dir()
