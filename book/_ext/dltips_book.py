"""The book's HTML (a Sphinx extension, loaded through ``_config.yml``).

- Demos are explorable in the static pages: the build's kernels see ``DLTIPS_STATIC_DEMOS=1``
  (dltips/widgets.py then precomputes each demo's grid), and every page gets the small script
  that switches between the precomputed figures, and the book's CSS.
- Figures get alt text saying what they show: the description dltips.plotting writes into each
  PNG, instead of the file's path.
- Pages carry no script they do not use: no widget state (the demos' HTML needs none), and
  none of Thebe's (launching a kernel from the page is off; its configuration script was also
  included twice, a console error on every page).
- The site's entry page (``index.html``, a redirect to the first chapter page) names the book's
  icon. sphinx-external-toc's bare redirect names none, so a browser that stays on it a moment
  (a busy machine) asks for ``/favicon.ico``: a 404 in the reader's console.
"""
from __future__ import annotations

import html as html_lib
import os
from pathlib import Path

from docutils import nodes

STATIC = Path(__file__).resolve().parent.parent / "_static"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _add_static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def _png_description(path: Path) -> str | None:
    try:
        from PIL import Image
        with Image.open(path) as img:
            return getattr(img, "text", {}).get("Description")
    except (OSError, ValueError):
        return None


def describe_images(app, doctree, docname) -> None:
    """Give each figure whose alt text is missing or its own path the PNG's description."""
    for image in doctree.findall(nodes.image):
        uri = image.get("uri", "")
        if image.get("alt") and image["alt"] != uri:
            continue
        candidates = [Path(app.srcdir) / uri, Path(app.env.doc2path(docname)).parent / uri]
        for path in candidates:
            if path.suffix.lower() == ".png" and path.exists():
                text = _png_description(path)
                if text:
                    image["alt"] = text
                break


def _unused(script) -> bool:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", None) or ""
    body = attributes.get("body", "") or ""
    return (attributes.get("type") == WIDGET_STATE or "thebe" in filename.lower()
            or "THEBE_JS_URL" in body)


def prune_scripts(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _unused(s)]


ENTRY_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="_static/{icon}">
<meta http-equiv="Refresh" content="0; url={first}">
</head>
<body><p><a href="{first}">{title}</a></p></body>
</html>
"""


def write_entry_page(app, exception) -> None:
    """``index.html``: a redirect to the root document's page that names the book's icon.
    Runs before sphinx-external-toc's own (which leaves an existing index.html alone)."""
    if exception is not None or app.builder.format != "html" or app.config.root_doc == "index":
        return
    first = html_lib.escape(app.builder.get_target_uri(app.config.root_doc))
    icon = Path(app.config.html_favicon or "").name
    if not icon:
        raise ValueError("the book has no favicon (html: favicon: in _config.yml); the entry "
                         "page names it so that browsers do not ask for /favicon.ico")
    title = html_lib.escape(app.config.html_title or app.config.project or "")
    Path(app.outdir, "index.html").write_text(
        ENTRY_PAGE.format(title=title, icon=icon, first=first), encoding="utf-8")


def setup(app):
    os.environ["DLTIPS_STATIC_DEMOS"] = "1"  # inherited by the kernels that execute chapters
    app.connect("builder-inited", _add_static_path)
    app.add_js_file("dltips-demo.js")
    app.add_css_file("dltips.css")
    app.connect("doctree-resolved", describe_images)
    app.connect("html-page-context", prune_scripts, priority=900)
    app.connect("build-finished", write_entry_page, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
