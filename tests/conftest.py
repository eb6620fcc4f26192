import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/grading.py, tests/browser.py


@pytest.fixture(scope="session")
def html(tmp_path_factory) -> Path:
    """The book built by the README's build (dev.build_book) into a temporary folder, once for
    the book's tests (test_book.py) and the browser's (test_browser.py). While working on the
    book's HTML, DLTIPS_BOOK_HTML=_build/html tests an existing build instead."""
    if os.environ.get("DLTIPS_BOOK_HTML"):
        return Path(os.environ["DLTIPS_BOOK_HTML"]).resolve()
    sys.path.insert(0, str(ROOT))
    import dev  # the README's commands live there
    return dev.build_book(tmp_path_factory.mktemp("book"))
