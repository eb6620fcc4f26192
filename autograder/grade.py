"""Grade a folder of submissions: ``SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb``.

Each notebook is graded by a judge process of its own (:mod:`autograder.runner`,
:mod:`autograder.judge`), whose student code runs in a sandbox (:mod:`autograder.sandbox`), and
its verdicts are recorded in one transaction (:mod:`autograder.gradebook`). Submissions are
independent: ``jobs`` of them run at once, and nothing one of them does can change another's
grade or stop the run. A submission whose notebook and source are
unchanged since it was last graded is not run again (``regrade=True`` forces it).
"""
from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import feedback
from .gradebook import Store
from .notebooks import Source, UnreadableNotebook, read_source
from .progress import LineStream, Progress
from . import runner
from .runner import GraderFailure, run_judge
from .sandbox import SandboxUnavailable, check_available

GRADER_VERSION = "2"  # part of every digest: bump it when grading changes, to regrade everything
STATUSES = ("passed", "failed", "error", "timeout", "crashed", "deleted", "unreadable", "missing",
            "grader-error")


@dataclass
class Job:
    student: str
    source: Source
    path: Path  # the submitted notebook (it may not exist)

    @property
    def label(self) -> str:
        return f"{self.student}/{self.source.assignment}/{self.source.notebook}.ipynb"

    def digest(self) -> str:
        h = hashlib.sha256(GRADER_VERSION.encode() + self.source.digest.encode())
        try:
            with open(self.path, "rb") as f:
                while chunk := f.read(2**20):
                    h.update(chunk)
        except OSError:
            h.update(b"<missing>")
        return h.hexdigest()


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


def grade_job(job: Job, timeout: float, sandboxed: bool = True) -> Result:
    """Grade one submitted notebook. Raises GraderFailure only for the grader's own failures."""
    source = job.source
    if not job.path.is_file():
        return _all(source, "missing", f"{job.path.name} was not in the submission")
    report = run_judge(source, job.path, timeout, sandboxed)
    result = Result({}, list(report.notes))
    if not sandboxed:
        result.notes.insert(0, "graded WITHOUT the sandbox (--no-sandbox): the student's code "
                            "ran as an ordinary process of the grader's user")
    names = {c.index: c.grade_id for c in source.cells}
    for index, (status, message) in sorted(report.cells.items()):
        if status != "ok":
            name = names.get(index)
            result.notes.append(f"your cell {name!r} did not run cleanly ({status}): {message}"
                                if name else f"a cell you added did not run cleanly ({status}): "
                                f"{message}")
    for cell in source.tests:
        status, message = report.verdicts[cell.grade_id]
        if status not in STATUSES:
            status, message = "crashed", f"the grader got no verdict for this cell ({status})"
        score = cell.points if status == "passed" else 0.0
        result.verdicts[cell.grade_id] = (score, status, message)
    return result


def default_jobs() -> int:
    """Submissions graded at once by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LocalPool:
    """Grades on this machine, ``jobs`` submissions at once (one thread each, waiting on the
    submission's own processes)."""

    def __init__(self, jobs: int):
        self.executor = ThreadPoolExecutor(max_workers=max(1, jobs))
        runner.prestart(max(1, jobs))  # the slots warm up side by side

    def submit(self, job: Job, timeout: float, sandboxed: bool) -> Future:
        return self.executor.submit(grade_job, job, timeout, sandboxed)

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, *exc) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        runner.close_slots()


def grade_all(submissions: Path, out: Path, db_url: str | None, source_dir: Path,
              timeout: float = 60, jobs: int | None = None, regrade: bool = False, log=None,
              sandboxed: bool = True, cluster: str | None = None) -> int:
    """Grade everything under ``submissions``; write OUT/grades.csv, OUT/cells.csv,
    OUT/grader-errors.csv and OUT/feedback/<student>/<assignment>.html. Returns the exit status
    (2 if the grader itself failed on some submission: its earlier grade is kept, and the
    failure is listed in grader-errors.csv for a rerun).

    ``jobs`` submissions run at once on this machine (default: one per core), or, with
    ``cluster`` (a Dask scheduler's address), on that cluster's workers; either way only this
    process writes the gradebook and the output folder. ``log`` takes each line of the log
    (default: standard output, with a progress bar when it is a terminal)."""
    progress_stream = sys.stdout if log is None else LineStream(log)
    log = log or print
    sources = read_sources(source_dir)
    job_list, problems = find_jobs(submissions, sources)
    if sandboxed and not cluster:  # on a cluster, each worker checks its own sandbox
        try:
            check_available()
        except SandboxUnavailable as exc:
            raise SystemExit(f"error: {exc}") from None
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
                store.clear_failure(job.student, job.source)
            else:
                todo.append((job, digest))
        progress = Progress(len(todo), progress_stream)
        progress.start()
        if cluster:
            from .cluster import ClusterPool
            pool_context = ClusterPool(cluster, sandboxed=sandboxed)
        else:
            pool_context = LocalPool(jobs or default_jobs())
        with pool_context as pool:
            futures = {pool.submit(job, timeout, sandboxed): (job, digest) for job, digest in todo}
            for future in as_completed(futures):
                job, digest = futures[future]
                try:
                    result = future.result()
                    store.record(job.student, job.source, result.verdicts, digest, result.notes,
                                 sandboxed)
                except Exception as exc:  # noqa: BLE001 - GraderFailure, or a bug: never stop
                    grader_failures += 1
                    message = str(exc) if isinstance(exc, GraderFailure) else \
                        f"{type(exc).__name__}: {exc}"
                    kept = store.record_failure(job.student, job.source, message, sandboxed)
                    progress.finished(f"{job.label}: GRADER ERROR, " + (
                        "earlier grade kept" if kept else "recorded as grader-error")
                        + f"; rerun to grade it: {message}")
                    continue
                score = sum(v[0] for v in result.verdicts.values())
                statuses = sorted({v[1] for v in result.verdicts.values()} - {"passed"})
                progress.finished(f"{job.label}: {score:g}/{job.source.max_score:g}"
                                  + (f" ({', '.join(statuses)})" if statuses else ""))
        progress.close()
        rows = store.cell_rows()
        feedback.write_csvs(out, rows, store.failure_rows())
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
