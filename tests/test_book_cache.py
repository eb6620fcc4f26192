"""The book's cache key per chapter: editing one chapter's module executes that chapter again
and only it, editing the core executes every chapter, and the pages show the new outputs.

Runs ``dev.build_book`` on a small project of the same shape (two chapters, a core module, one
module per chapter) in a temporary folder, so it takes seconds per build, not minutes.
"""
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import dev  # noqa: E402

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
CHAPTER = HEADER + """
({label})=
# {title}

```{{code-cell}} ipython3
from dltips.chapters import {module}

print("value", {module}.VALUE)
{module}.executed("{stem}")
```
"""
FILES = {
    "_toc.yml": "format: jb-book\nroot: book/intro\nparts:\n  - caption: Chapters\n    numbered: true\n"
                "    chapters:\n      - file: book/ch01_alpha\n      - file: book/ch02_beta\n",
    "book/intro.md": "# A small book\n\nSee {ref}`ch01-alpha` and {ref}`ch02-beta`.\n",
    "book/ch01_alpha.md": CHAPTER.format(label="ch01-alpha", title="Alpha", module="alpha",
                                         stem="ch01_alpha"),
    "book/ch02_beta.md": CHAPTER.format(label="ch02-beta", title="Beta", module="beta",
                                        stem="ch02_beta"),
    "dltips/__init__.py": '"""A core and chapter modules, like the course\'s."""\n',
    "dltips/log.py": ('from pathlib import Path\n\n\ndef executed(stem):\n'
                      '    with open(Path(__file__).parent.parent / "executed.txt", "a") as f:\n'
                      '        f.write(stem + "\\n")\n'),
    "dltips/chapters/__init__.py": "",
    "dltips/chapters/alpha.py": "from ..log import executed  # noqa: F401\n\nVALUE = 1\n",
    "dltips/chapters/beta.py": "from ..log import executed  # noqa: F401\n\nVALUE = 10\n",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small_book")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for folder in ("book/_ext", "book/_static"):  # the book's Sphinx extension and assets
        shutil.copytree(ROOT / folder, root / folder)
    config = (ROOT / "_config.yml").read_text().replace('    - "exercises/*/*"', '    - "none/*"')
    (root / "_config.yml").write_text(config)
    return root


def build(root: Path) -> list[str]:
    """Build the book; return the chapters that executed during the build, sorted (they execute
    two at a time, in no fixed order)."""
    log = root / "executed.txt"
    log.unlink(missing_ok=True)
    dev.build_book(root=root)
    return sorted(log.read_text().split()) if log.exists() else []


def page(root: Path, stem: str) -> str:
    return (root / "_build" / "html" / "book" / f"{stem}.html").read_text(encoding="utf-8")


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def test_a_chapter_executes_again_exactly_when_its_key_changes(project):
    assert build(project) == ["ch01_alpha", "ch02_beta"]        # cold: everything runs
    assert "value 1" in page(project, "ch01_alpha")
    assert build(project) == []                                  # nothing changed
    edit(project / "dltips/chapters/alpha.py", "VALUE = 1", "VALUE = 2")
    assert build(project) == ["ch01_alpha"]                      # only alpha's chapter
    assert "value 2" in page(project, "ch01_alpha") and "value 10" in page(project, "ch02_beta")
    edit(project / "dltips/log.py", "def executed", "# the core changed\n\n\ndef executed")
    assert build(project) == ["ch01_alpha", "ch02_beta"]  # the core: every chapter
    assert build(project) == []


def test_numbers_come_from_the_toc(project):
    assert 'class="section-number">1. </span>Alpha' in page(project, "ch01_alpha") \
        or "1. Alpha" in page(project, "ch01_alpha")
