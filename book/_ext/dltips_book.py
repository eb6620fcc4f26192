"""The book's HTML (a Sphinx extension, loaded through ``_config.yml``).

- Demos are explorable in the static pages: the build's kernels see ``DLTIPS_STATIC_DEMOS=1``
  (dltips/widgets.py then precomputes each demo's grid), and every page gets the small script
  that switches between the precomputed figures, and the book's CSS.
- Figures get alt text saying what they show: the description dltips.plotting writes into each
  PNG, instead of the file's path.
- Pages carry no script they do not use: no widget state (the demos' HTML needs none), and
  none of Thebe's (launching a kernel from the page is off; its configuration script was also
  included twice, a console error on every page).
"""
from __future__ import annotations

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


def setup(app):
    os.environ["DLTIPS_STATIC_DEMOS"] = "1"  # inherited by the kernels that execute chapters
    app.connect("builder-inited", _add_static_path)
    app.add_js_file("dltips-demo.js")
    app.add_css_file("dltips.css")
    app.connect("doctree-resolved", describe_images)
    app.connect("html-page-context", prune_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
