"""Set up and run the course: ``python3.11 dev.py book`` or ``python3.11 dev.py test``.

Both first make sure ``.venv/`` exists with the pinned requirements and this project installed
(repeated runs skip what is already done), then:

- ``book``: build the HTML book into ``_build/html/`` and open it in a browser;
- ``test``: run the whole test suite (unit tests, autograder pipeline, nbval over the book
  chapters and solution notebooks, the book build).

Only the standard library is used here, so it runs with nothing installed.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
import webbrowser
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
CACHE = ROOT / "_build" / ".jupyter_cache"


def run(*cmd, **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode() + f.read_bytes())
    return h.hexdigest()


def setup() -> None:
    """Create .venv and install the pinned requirements and the project (once per change)."""
    if sys.version_info[:2] < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    stamp = VENV / ".installed"
    wanted = digest(ROOT / "requirements.txt", ROOT / "pyproject.toml")
    if stamp.exists() and stamp.read_text() == wanted:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-r", "requirements.txt")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".")
    stamp.write_text(wanted)


def build_book(output: Path | None = None) -> Path:
    """Build the book (executing chapters, with a cache); return the folder of its HTML.

    The execution cache only knows a chapter's own code, so it is cleared whenever the shared
    package ``dltips`` changes: a chapter's figures are never older than the code behind them.
    """
    stamp = ROOT / "_build" / ".dltips-digest"
    current = digest(ROOT / "dltips")
    if CACHE.exists() and (not stamp.exists() or stamp.read_text() != current):
        print("dltips changed since the last build: clearing the execution cache", flush=True)
        shutil.rmtree(CACHE)
    cmd = [BIN / "jupyter-book", "build", ROOT, "-W", "-n", "--keep-going"]
    if output is not None:
        cmd += ["--path-output", output]
    run(*cmd, env={**os.environ, "PYTHONHASHSEED": "0"})
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(current)
    return (output or ROOT) / "_build" / "html"


def book() -> None:
    setup()
    html = build_book() / "index.html"
    print(f"\nThe book is at {html}")
    if not os.environ.get("CI") and (os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32")):
        webbrowser.open(html.as_uri())


def test(extra: list[str]) -> None:
    setup()
    notebooks = ROOT / "_build" / "nbval"  # the MyST chapters as notebooks, for nbval
    shutil.rmtree(notebooks, ignore_errors=True)
    notebooks.mkdir(parents=True)
    chapters = sorted((ROOT / "book").glob("ch*.md"))
    for chapter in chapters:
        run(BIN / "jupytext", "--quiet", "--to", "ipynb", "-o", notebooks / f"{chapter.stem}.ipynb",
            chapter)
    solutions = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    run(PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax", "tests",
        *[p.relative_to(ROOT) for p in solutions], notebooks.relative_to(ROOT), *extra,
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"})


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("book", "test", "setup"):
        sys.exit(__doc__)
    command = sys.argv[1]
    try:
        if command == "book":
            book()
        elif command == "test":
            test(sys.argv[2:])
        else:
            setup()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)


if __name__ == "__main__":
    main()
