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
import json
import os
import re
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


def run(*cmd, cwd: Path = ROOT, **kwargs) -> None:
    print("+", " ".join("<script>" if "\n" in str(c) else str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd, **kwargs)


def digest(*paths: Path, root: Path = ROOT) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(root)).encode() + f.read_bytes())
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


# A chapter's cache key: the core of dltips (its top-level modules) plus the chapter's own modules,
# the ``dltips.chapters`` modules its code imports. The execution cache itself only knows a
# chapter's own code.
CHAPTER_IMPORT = re.compile(r"^\s*(?:from\s+dltips\.chapters\s+import\s+([\w\s,]+?)\s*$"
                            r"|from\s+dltips\.chapters\.(\w+)\s+import|import\s+dltips\.chapters\.(\w+))",
                            re.MULTILINE)
FORGET = """import sys
from pathlib import Path
from jupyter_cache import get_cache
cache = get_cache(sys.argv[1])
for record in cache.list_cache_records():
    if Path(record.uri).stem in sys.argv[2:]:
        cache.remove_cache(record.pk)
"""


def chapter_modules(chapter: Path, root: Path = ROOT) -> list[Path]:
    """The ``dltips/chapters/*.py`` files that ``chapter`` (a MyST notebook) imports."""
    names = set()
    for listed, one, other in CHAPTER_IMPORT.findall(chapter.read_text(encoding="utf-8")):
        names.update(n.split(" as ")[0].strip() for n in listed.split(",") if n.strip())
        names.update(n for n in (one, other) if n)
    return sorted(root / "dltips" / "chapters" / f"{name}.py" for name in names)


def chapter_keys(root: Path = ROOT) -> dict[str, str]:
    """Chapter file stem -> digest of the core of dltips plus the chapter's own modules."""
    core = sorted((root / "dltips").glob("*.py"))
    return {chapter.stem: digest(*core, *chapter_modules(chapter, root), root=root)
            for chapter in sorted((root / "book").glob("ch*.md"))}


def refresh_changed_chapters(root: Path = ROOT) -> list[str]:
    """Make the next build execute again exactly the chapters whose key changed; return them.

    A changed chapter loses its records in the execution cache, and its source's modification
    time is set to now, so that Sphinx (which re-reads only changed sources) reads it again and
    myst-nb, finding no cached outputs, executes it. The keys are recorded next to the cache.
    """
    cache = root / "_build" / ".jupyter_cache"
    stamp = root / "_build" / ".chapter-keys.json"
    old = json.loads(stamp.read_text()) if stamp.exists() else {}
    new = chapter_keys(root)
    changed = sorted(stem for stem, key in new.items() if old.get(stem) != key)
    if changed:
        print(f"dltips changed for {', '.join(changed)}: these chapters execute again", flush=True)
        if cache.exists():
            run(PYTHON, "-c", FORGET, cache, *changed)
        for stem in changed:
            os.utime(root / "book" / f"{stem}.md")
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(json.dumps(new, indent=1, sort_keys=True))
    return changed


# Execute the chapters whose outputs the cache lacks, one per core, into the execution cache the
# book build reads (jupyter-cache's parallel executor, reading MyST as myst-nb does). Sphinx would
# execute them one after the other; a chapter that fails here is executed, and reported, there.
PREEXECUTE = """import logging, sys
from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor
cache = get_cache(sys.argv[1])
chapters = sys.argv[3:]
for path in chapters:
    cache.add_nb_to_project(path, read_data={"name": "myst_nb_md", "type": "plugin"})
logging.basicConfig(level=logging.WARNING, format="%(message)s")
result = load_executor("local-parallel", cache, logger=logging.getLogger("pre-execute")
                       ).run_and_cache(filter_uris=chapters, timeout=int(sys.argv[2]))
if result.errored or result.excepted:
    print("these chapters failed and execute again in the build:",
          *result.errored, *result.excepted)
"""


def preexecute_chapters(root: Path = ROOT) -> None:
    """Execute, in parallel, the chapters that have no cached outputs (see PREEXECUTE)."""
    config = (root / "_config.yml").read_text()
    timeout = re.search(r"^\s*timeout:\s*(\d+)", config, re.MULTILINE)
    chapters = [str(p) for p in sorted((root / "book").glob("ch*.md"))]
    if chapters:
        run(PYTHON, "-c", PREEXECUTE, root / "_build" / ".jupyter_cache",
            timeout.group(1) if timeout else "180", *chapters, cwd=root,
            env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(root),
                 "DLTIPS_STATIC_DEMOS": "1"})


def build_book(output: Path | None = None, root: Path = ROOT) -> Path:
    """Build the book of the project at ``root`` (executing chapters, with a cache); return the
    folder of its HTML. A chapter's figures are never older than the code behind them: see
    :func:`refresh_changed_chapters`. Chapters execute two at a time on two cores
    (:func:`preexecute_chapters`)."""
    refresh_changed_chapters(root)
    preexecute_chapters(root)
    cmd = [BIN / "jupyter-book", "build", root, "-W", "-n", "--keep-going"]
    if output is not None:
        cmd += ["--path-output", output]
    run(*cmd, env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(root)}, cwd=root)
    return (output or root) / "_build" / "html"


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
