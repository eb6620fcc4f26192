"""A real browser for the built book: Debian's Chromium driven by Playwright for Python (its own
browser download needs the network, so the system browser is used), and a local HTTP server for
the pages. Used by tests/test_browser.py and benchmarks/book_pages.py."""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

INSTALL = "apt-get install chromium (as root; .ci/run does it)"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """The system Chromium: $DLTIPS_CHROMIUM, or the first of CANDIDATES on the PATH."""
    if os.environ.get("DLTIPS_CHROMIUM"):
        return os.environ["DLTIPS_CHROMIUM"]
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def browser_problem() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (python3.11 dev.py setup installs it)"
    if chromium_path() is None:
        return f"no Chromium on this machine: {INSTALL}"
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a browser that closes a connection early (page closed) is not an error here


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on http://127.0.0.1:<port>/ while the block runs; yield the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium():
    """A headless Chromium (Playwright ``Browser``) started from the system's executable."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking",
                                          "--disable-component-update"])
        try:
            yield browser
        finally:
            browser.close()
