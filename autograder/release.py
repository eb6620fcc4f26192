"""Regenerate the student notebooks in ``exercises/`` from the sources in ``solutions/``.

Runs ``nbgrader generate_assignment`` (solutions and hidden tests removed, checksums added),
then writes each notebook in one canonical form (no outputs, no execution counts, sorted keys),
so running it twice leaves ``git diff`` empty.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .gradebook import scripts_on_path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "nbgrader_config.py"


def canonical(notebook: dict) -> str:
    """The notebook as text in the one form the repository keeps."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def assignments(root: Path = ROOT) -> list[str]:
    return sorted(p.name for p in (root / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


def release(names: list[str] | None = None, root: Path = ROOT, out: Path | None = None) -> list[Path]:
    """Generate student notebooks for ``names`` (default: all) into ``out`` (default:
    ``exercises/``); return the files written."""
    names = names or assignments(root)
    out = out or root / "exercises"
    written = []
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        for name in names:
            if not (root / "solutions" / name).is_dir():
                raise SystemExit(f"error: no assignment {name!r} in {root / 'solutions'}")
            # nbgrader reads nbgrader_config.py from its working directory
            cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                   f"--CourseDirectory.root={root}",
                   f"--CourseDirectory.release_directory={tmp}",
                   f"--CourseDirectory.db_url=sqlite:///{tmp}/gradebook.db", "--log-level=WARN"]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=CONFIG.parent,
                                  env=scripts_on_path(dict(os.environ)))
            if done.returncode != 0:
                raise SystemExit(f"error: nbgrader generate_assignment {name} failed:\n"
                                 f"{done.stdout}{done.stderr}")
            target = out / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for generated in sorted((Path(tmp) / name).iterdir()):
                if generated.suffix == ".ipynb":
                    text = canonical(json.loads(generated.read_text(encoding="utf-8")))
                    (target / generated.name).write_text(text, encoding="utf-8")
                elif generated.is_file():
                    shutil.copy2(generated, target / generated.name)
                written.append(target / generated.name)
    return written
