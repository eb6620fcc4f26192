"""Grade a folder of submissions: ``SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb``.

Each notebook is merged with its trusted source (:mod:`autograder.notebooks`), run in worker
processes (:mod:`autograder.runner`), and its verdicts recorded in one transaction
(:mod:`autograder.gradebook`). Submissions are independent: ``jobs`` of them run at once, and
nothing one of them does can change another's grade. A submission whose notebook and source are
unchanged since it was last graded is not run again (``regrade=True`` forces it).
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import feedback
from .gradebook import Store
from .notebooks import (SUSPICIOUS, SUSPICIOUS_HINT, Source, UnreadableNotebook,
                        load_json_notebook, merge, read_source)
from .runner import GraderError, run_plan

GRADER_VERSION = "1"  # part of every digest: bump it when grading changes, to regrade everything
COPY_LIMIT = 50 * 2**20  # files in a submission folder larger than this are not copied


@dataclass
class Job:
    student: str
    source: Source
    path: Path  # the submitted notebook (it may not exist)

    @property
    def label(self) -> str:
        return f"{self.student}/{self.source.assignment}/{self.source.notebook}.ipynb"

    def digest(self) -> str:
        content = self.path.read_bytes() if self.path.is_file() else b"<missing>"
        return hashlib.sha256(GRADER_VERSION.encode() + self.source.digest.encode() +
                              content).hexdigest()


@dataclass
class Result:
    verdicts: dict[str, tuple[float, str, str]]  # grade_id -> (score, status, message)
    notes: list[str] = field(default_factory=list)


def read_sources(source_dir: Path) -> dict[str, list[Source]]:
    """Every source notebook under ``source_dir/<assignment>/``, by assignment."""
    if not source_dir.is_dir():
        raise SystemExit(f"error: no source folder {source_dir} (pass --source)")
    sources: dict[str, list[Source]] = {}
    for path in sorted(source_dir.glob("*/*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        try:
            sources.setdefault(path.parent.name, []).append(read_source(path))
        except (ValueError, UnreadableNotebook, SyntaxError) as exc:
            raise SystemExit(f"error: the source notebook {path} cannot be used: {exc}") from None
    if not sources:
        raise SystemExit(f"error: {source_dir} holds no <assignment>/<notebook>.ipynb files")
    return sources


def find_jobs(submissions: Path, sources: dict[str, list[Source]]) -> tuple[list[Job], list[str]]:
    """The notebooks to grade, and problems with the folder's layout (reported, not fatal)."""
    if not submissions.is_dir():
        raise SystemExit(f"error: {submissions} is not a folder of submissions")
    jobs, problems = [], []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        if student_dir.name.startswith("."):
            continue
        assignment_dirs = sorted(p for p in student_dir.iterdir() if p.is_dir()
                                 and not p.name.startswith("."))
        if not assignment_dirs:
            problems.append(f"{student_dir.name}: no assignment folders inside")
        for assignment_dir in assignment_dirs:
            assignment = assignment_dir.name
            if assignment not in sources:
                problems.append(f"{student_dir.name}/{assignment}: there is no assignment "
                                f"{assignment!r} (known: {', '.join(sorted(sources))})")
                continue
            expected = {s.notebook for s in sources[assignment]}
            for extra in sorted(assignment_dir.glob("*.ipynb")):
                if extra.stem not in expected:
                    problems.append(f"{student_dir.name}/{assignment}/{extra.name}: not a notebook "
                                    "of this assignment; ignored")
            for source in sources[assignment]:
                jobs.append(Job(student_dir.name, source,
                                assignment_dir / f"{source.notebook}.ipynb"))
    return jobs, problems


def _all(source: Source, status: str, message: str) -> Result:
    return Result({c.grade_id: (0.0, status, message) for c in source.tests})


def grade_job(job: Job, timeout: float) -> Result:
    """Grade one submitted notebook. Raises GraderError only for the grader's own failures."""
    source = job.source
    if not job.path.is_file():
        return _all(source, "missing", f"{job.path.name} was not in the submission")
    try:
        submitted = load_json_notebook(job.path)
    except UnreadableNotebook as exc:
        return _all(source, "unreadable", str(exc))
    plan = merge(source, submitted)
    with tempfile.TemporaryDirectory(prefix="autograde-") as workdir:
        for item in job.path.parent.iterdir():  # files the notebook may open, like nbgrader
            if item.is_file() and item.stat().st_size <= COPY_LIMIT:
                shutil.copy2(item, workdir)
        outcomes, tampered = run_plan(plan, timeout, workdir)
    result = Result({}, list(plan.notes))
    for cell in plan.cells:
        outcome = outcomes.get(cell.index)
        if cell.kind in ("solution", "student") and outcome and outcome.status != "ok":
            name = repr(cell.grade_id) if cell.grade_id else "that you added"
            result.notes.append(f"your cell {name} did not run cleanly ({outcome.status}): "
                                f"{outcome.message}")
    for cell in source.tests:
        if cell.grade_id in plan.preset:
            status, message = plan.preset[cell.grade_id]
            result.verdicts[cell.grade_id] = (0.0, status, message)
            continue
        index = next(c.index for c in plan.cells if c.grade_id == cell.grade_id)
        outcome = outcomes[index]
        score = cell.points if outcome.status == "passed" else 0.0
        result.verdicts[cell.grade_id] = (score, outcome.status, outcome.message)
    if tampered:
        result.notes.append("the code changed the grader's libraries (undone before every "
                            "test): " + ", ".join(tampered[:10]))
    student_code = "\n".join(c.source for c in plan.cells if c.kind in ("solution", "student"))
    hits = sorted({m.group(0).strip() for m in SUSPICIOUS.finditer(student_code)})
    if hits:
        result.notes.append(SUSPICIOUS_HINT + ", ".join(hits[:10]))
    return result


def grade_all(submissions: Path, out: Path, db_url: str | None, source_dir: Path,
              timeout: float = 60, jobs: int = 1, regrade: bool = False, log=print) -> int:
    """Grade everything under ``submissions``; write OUT/grades.csv, OUT/cells.csv and
    OUT/feedback/<student>/<assignment>.html. Returns the exit status (2 if the grader failed
    on some submission, whose earlier grade is then kept)."""
    sources = read_sources(source_dir)
    job_list, problems = find_jobs(submissions, sources)
    out.mkdir(parents=True, exist_ok=True)
    store = Store(db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}")
    grader_failures = 0
    try:
        for assignment_sources in sources.values():
            for source in assignment_sources:
                store.register(source)
        todo = []
        for job in job_list:
            digest = job.digest()
            if not regrade and store.digest(job.student, job.source) == digest:
                log(f"{job.label}: unchanged since it was graded; kept")
            else:
                todo.append((job, digest))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(grade_job, job, timeout): (job, digest) for job, digest in todo}
            for future in as_completed(futures):
                job, digest = futures[future]
                try:
                    result = future.result()
                except GraderError as exc:
                    grader_failures += 1
                    log(f"{job.label}: GRADER ERROR, earlier grade kept: {exc}")
                    continue
                store.record(job.student, job.source, result.verdicts, digest, result.notes)
                score = sum(v[0] for v in result.verdicts.values())
                statuses = sorted({v[1] for v in result.verdicts.values()} - {"passed"})
                log(f"{job.label}: {score:g}/{job.source.max_score:g}"
                    + (f" ({', '.join(statuses)})" if statuses else ""))
        rows = store.cell_rows()
        feedback.write_csvs(out, rows)
        by_page: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            by_page.setdefault((row["student_id"], row["assignment"]), []).append(row)
        for (student, assignment), page_rows in by_page.items():
            page = feedback.feedback_page(student, assignment, page_rows,
                                          store.notes(student, assignment))
            feedback.write_atomic(out / "feedback" / student / f"{assignment}.html", page)
    finally:
        store.close()
    for problem in problems:
        log(f"warning: {problem}")
    log(f"wrote {out / 'grades.csv'}, {out / 'cells.csv'} and {out / 'feedback'}/")
    return 2 if grader_failures else 0
