"""Measure grading and book times (prints a Markdown table; record it in benchmarks/README.md).

    .venv/bin/python benchmarks/grading.py [--submissions N] [--skip-book]

- the project's autograder on N copies of a correct chapter-1 submission, with 1 and 2 jobs;
- plain ``nbgrader autograde`` on the same N submissions (one kernel per notebook);
- each book chapter executed on its own (jupytext + nbclient), and a cold book build.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
A = "ch01_diagnosis"
SAMPLE = ROOT / "autograder" / "samples" / "alice_correct" / A / f"{A}.ipynb"
BIN = Path(sys.executable).parent


def timed(cmd: list, cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                               **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - start


def submissions(folder: Path, n: int) -> Path:
    for i in range(n):
        target = folder / f"student{i:03d}" / A / f"{A}.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(SAMPLE, target)
    return folder


def ours(n: int, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        subs = submissions(Path(tmp) / "subs", n)
        return timed([sys.executable, "-m", "autograder", "grade", subs, "--out",
                      Path(tmp) / "out", "--jobs", str(jobs)], ROOT)


def plain_nbgrader(n: int) -> float:
    """Seconds for plain ``nbgrader autograde`` on N submissions in a fresh course folder."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copytree(ROOT / "solutions" / A, course / "source" / A)
        args = [f"--CourseDirectory.root={course}", "--log-level=ERROR"]
        timed([BIN / "nbgrader", "generate_assignment", A, "--force", *args], course)
        shutil.copytree(submissions(course / "subs", n), course / "submitted")
        return timed([BIN / "nbgrader", "autograde", A, "--create", "--force", *args], course)


def startup_and_rate(run, n: int) -> tuple[float, float]:
    """(fixed start-up seconds, seconds per submission), from runs on 1 and on n submissions."""
    one, many = run(1), run(n)
    per = (many - one) / (n - 1)
    return one - per, per


def chapters() -> dict[str, float]:
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for md in sorted((ROOT / "book").glob("ch*.md")):
            nb = Path(tmp) / f"{md.stem}.ipynb"
            timed([BIN / "jupytext", "--quiet", "--to", "ipynb", "-o", nb, md], ROOT)
            times[md.stem] = timed([BIN / "jupyter", "nbconvert", "--to", "notebook", "--execute",
                                    "--output", nb.with_suffix(".out.ipynb"), nb], ROOT)
    return times


def book_cold() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT, Path(tmp) / "course", ignore=shutil.ignore_patterns(
            ".venv", "_build", ".git", "__pycache__"))
        return timed([BIN / "jupyter-book", "build", Path(tmp) / "course"], ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--skip-book", action="store_true")
    args = parser.parse_args()
    n = args.submissions
    rows = []
    start, per = startup_and_rate(lambda k: ours(k, 1), n)
    rows.append(("autograder, --jobs 1: start-up", start, None))
    rows.append(("autograder, --jobs 1: per submission", per, per))
    t2 = ours(n, 2)
    rows.append((f"autograder, {n} submissions, --jobs 2 (total)", t2, t2 / n))
    start, per = startup_and_rate(plain_nbgrader, n)
    rows.append(("plain nbgrader autograde: start-up", start, None))
    rows.append(("plain nbgrader autograde: per submission", per, per))
    if not args.skip_book:
        for chapter, seconds in chapters().items():
            rows.append((f"execute {chapter} (nbconvert, incl. kernel start)", seconds, None))
        rows.append(("jupyter-book build, cold (no cache)", book_cold(), None))
    print(f"| measurement ({os.cpu_count()} cores) | seconds | per submission |")
    print("| --- | ---: | ---: |")
    for name, total, per in rows:
        print(f"| {name} | {total:.1f} | {'' if per is None else f'{per:.2f}'} |")


if __name__ == "__main__":
    main()
