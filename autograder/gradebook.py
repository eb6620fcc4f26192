"""Where grades are kept: nbgrader's gradebook, plus a table of per-cell verdicts.

Scores go into nbgrader's own gradebook (``auto_score`` of each grade cell), so ``nbgrader
export`` and the formgrader see them; manual scores an instructor adds there are never touched.
The verdicts (status and message per tests cell) live in the table ``autograder_cells`` of the
same database. One submission is written in one transaction: an interrupted run leaves every
earlier grade as it was.

Several grading runs may write into one shared gradebook at once (a PostgreSQL server): each
run's writes (creating the schema, registering assignments, recording a submission) hold a
PostgreSQL advisory lock, so they take turns; the grading between them runs in parallel.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, Text, create_engine,
                        inspect, select, text)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SAWarning
from sqlalchemy.pool import NullPool

from .notebooks import Source

_metadata = MetaData()
CELLS = Table(
    "autograder_cells", _metadata,
    Column("student_id", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("grade_id", String(128), primary_key=True),
    Column("position", Integer, nullable=False, default=0),  # order in the notebook
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("status", String(32), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("digest", String(64), nullable=False, default=""),
    Column("graded_at", String(32), nullable=False),
    Column("sandboxed", Integer, nullable=False, default=1),
)
NOTES = Table(
    "autograder_notes", _metadata,
    Column("student_id", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("notes", Text, nullable=False, default=""),
)
FAILURES = Table(  # the grader's own failures, until the submission is graded again
    "autograder_failures", _metadata,
    Column("student_id", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("message", Text, nullable=False, default=""),
    Column("failed_at", String(32), nullable=False),
)


def scripts_on_path(environ: dict) -> dict:
    """``environ`` with this interpreter's scripts folder on PATH: nbgrader's Gradebook runs
    the ``alembic`` command, which a virtual environment that is not activated hides."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in environ.get("PATH", "").split(os.pathsep):
        environ["PATH"] = scripts + os.pathsep + environ.get("PATH", "")
    return environ


LOCK_KEY = 0x6175746F67726164  # "autograd": the PostgreSQL advisory lock every grading run takes


def database_url(db_url: str) -> str:
    """``db_url`` with a driver that is installed: SQLAlchemy 2.1 reads a bare
    ``postgresql://`` as psycopg 3, but this project installs psycopg2."""
    url = make_url(db_url)
    if url.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return db_url


def _text(value: str) -> str:
    """PostgreSQL refuses NUL characters in text (SQLite keeps them): a student's message may
    hold one, so it is stored as U+FFFD, the same on every database."""
    return value.replace("\x00", "\ufffd")


class Store:
    """The gradebook at ``db_url`` (any SQLAlchemy URL; SQLite by default)."""

    def __init__(self, db_url: str):
        scripts_on_path(os.environ)
        db_url = database_url(db_url)
        self._lock = threading.Lock()
        self._lock_conn = None
        if make_url(db_url).get_backend_name() == "postgresql":
            # a connection of its own, outside the gradebook's transactions (nbgrader commits
            # inside its methods), that holds the advisory lock while this run writes
            self._lock_engine = create_engine(db_url, poolclass=NullPool)
            self._lock_conn = self._lock_engine.connect().execution_options(
                isolation_level="AUTOCOMMIT")
        try:
            with self._exclusive():  # two runs creating one new gradebook: one at a time
                self.gradebook = Gradebook(db_url)
                _metadata.create_all(self.gradebook.engine)
                columns = {c["name"] for c in
                           inspect(self.gradebook.engine).get_columns(CELLS.name)}
                if "sandboxed" not in columns:  # a gradebook written by grader version 1
                    with self.gradebook.engine.begin() as conn:
                        conn.execute(text("ALTER TABLE autograder_cells ADD COLUMN sandboxed "
                                          "INTEGER NOT NULL DEFAULT 1"))
        except BaseException:
            self._close_lock()
            raise

    @contextmanager
    def _exclusive(self):
        """Hold the gradebook's write lock (PostgreSQL; elsewhere only this process's)."""
        with self._lock:
            if hasattr(self, "gradebook"):
                # end any transaction of reads: nothing is held while waiting, and what follows
                # sees everything the other runs committed
                self.gradebook.db.commit()
            if self._lock_conn is None:
                yield
                return
            self._lock_conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
            try:
                yield
            finally:
                self._lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})

    def _close_lock(self) -> None:
        if self._lock_conn is not None:
            self._lock_conn.close()  # also releases the lock, should it still be held
            self._lock_engine.dispose()
            self._lock_conn = None

    def close(self) -> None:
        try:
            self.gradebook.close()
        finally:
            self._close_lock()

    def register(self, source: Source) -> None:
        """Make sure the assignment, notebook and grade cells of ``source`` exist."""
        with self._exclusive():
            self._register(source)

    def _register(self, source: Source) -> None:
        gb = self.gradebook
        gb.update_or_create_assignment(source.assignment)
        gb.update_or_create_notebook(source.notebook, source.assignment)
        for cell in source.cells:
            if cell.kind == "tests":
                gb.update_or_create_grade_cell(cell.grade_id, source.notebook, source.assignment,
                                               max_score=cell.points, cell_type="code")
            elif cell.kind == "solution":
                gb.update_or_create_solution_cell(cell.grade_id, source.notebook,
                                                  source.assignment)
        gb.db.commit()

    def digest(self, student: str, source: Source) -> str | None:
        """The digest recorded with this student's last grading of ``source``, if any."""
        row = self.gradebook.db.execute(
            select(CELLS.c.digest).where(CELLS.c.student_id == student,
                                         CELLS.c.assignment == source.assignment,
                                         CELLS.c.notebook == source.notebook)).first()
        self.gradebook.db.commit()  # end the reading transaction: PostgreSQL keeps it open
        return row[0] if row else None

    def record(self, student: str, source: Source, verdicts: dict[str, tuple[float, str, str]],
               digest: str, notes: list[str], sandboxed: bool = True) -> None:
        """Store ``verdicts`` (grade_id -> (score, status, message)) and the notes for the
        feedback page, in one transaction; clear an earlier grader failure."""
        with self._exclusive():
            self._record(student, source, verdicts, digest, notes, sandboxed)

    def _record(self, student: str, source: Source, verdicts: dict[str, tuple[float, str, str]],
                digest: str, notes: list[str], sandboxed: bool) -> None:
        gb, db = self.gradebook, self.gradebook.db
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            try:
                gb.find_student(student)
            except MissingEntry:
                gb.add_student(student)
            with warnings.catch_warnings():
                # nbgrader 0.9 builds submissions in a way SQLAlchemy 2 warns about (autoflush of
                # a back-reference); the rows are written correctly all the same
                warnings.simplefilter("ignore", SAWarning)
                gb.update_or_create_submission(source.assignment, student)
            for position, cell in enumerate(source.tests):
                score, status, message = verdicts[cell.grade_id]
                grade = gb.find_grade(cell.grade_id, source.notebook, source.assignment, student)
                grade.auto_score = score
                db.execute(CELLS.delete().where(
                    CELLS.c.student_id == student, CELLS.c.assignment == source.assignment,
                    CELLS.c.notebook == source.notebook, CELLS.c.grade_id == cell.grade_id))
                db.execute(CELLS.insert().values(
                    student_id=student, assignment=source.assignment, notebook=source.notebook,
                    grade_id=cell.grade_id, position=position, score=score,
                    max_score=cell.points, status=status,
                    message=_text(message), digest=digest, graded_at=now,
                    sandboxed=int(sandboxed)))
            key = dict(student_id=student, assignment=source.assignment, notebook=source.notebook)
            db.execute(NOTES.delete().where(*(NOTES.c[k] == v for k, v in key.items())))
            db.execute(NOTES.insert().values(**key, notes=_text("\n".join(notes))))
            db.execute(FAILURES.delete().where(*(FAILURES.c[k] == v for k, v in key.items())))
            db.commit()
        except Exception:
            db.rollback()
            raise

    def record_failure(self, student: str, source: Source, message: str,
                       sandboxed: bool = True) -> bool:
        """Note that the grader itself failed on this submission. An earlier grade is kept (and
        True returned); with none, every tests cell is recorded as ``grader-error`` with no
        digest, so that the next run grades it again."""
        with self._exclusive():
            kept = self.digest(student, source) is not None
            if not kept:
                self._record(student, source, {c.grade_id: (0.0, "grader-error", message)
                                               for c in source.tests}, "", [], sandboxed)
            db = self.gradebook.db
            key = dict(student_id=student, assignment=source.assignment,
                       notebook=source.notebook)
            try:
                db.execute(FAILURES.delete().where(*(FAILURES.c[k] == v
                                                     for k, v in key.items())))
                db.execute(FAILURES.insert().values(**key, message=_text(message[:4000]),
                                                    failed_at=datetime.now(timezone.utc)
                                                    .isoformat(timespec="seconds")))
                db.commit()
            except Exception:
                db.rollback()
                raise
        return kept

    def clear_failure(self, student: str, source: Source) -> None:
        """Forget a grader failure for a submission whose recorded grade is current."""
        with self._exclusive():
            db = self.gradebook.db
            key = dict(student_id=student, assignment=source.assignment,
                       notebook=source.notebook)
            db.execute(FAILURES.delete().where(*(FAILURES.c[k] == v for k, v in key.items())))
            db.commit()

    def failure_rows(self) -> list[dict]:
        """The grader's failures still waiting for a rerun."""
        rows = self.gradebook.db.execute(select(FAILURES)).mappings().all()
        self.gradebook.db.commit()
        # sorted here, not by the database, whose collation may differ (PostgreSQL's locale)
        return sorted((dict(r) for r in rows),
                      key=lambda r: (r["student_id"], r["assignment"], r["notebook"]))

    def cell_rows(self) -> list[dict]:
        """Every recorded verdict, by student, assignment, notebook, then notebook order."""
        rows = self.gradebook.db.execute(select(CELLS)).mappings().all()
        self.gradebook.db.commit()
        return sorted((dict(r) for r in rows), key=lambda r: (
            r["student_id"], r["assignment"], r["notebook"], r["position"], r["grade_id"]))

    def notes(self, student: str, assignment: str) -> list[str]:
        """The notes recorded for this student's notebooks of ``assignment``."""
        rows = sorted(self.gradebook.db.execute(select(NOTES.c.notebook, NOTES.c.notes).where(
            NOTES.c.student_id == student, NOTES.c.assignment == assignment)).all())
        self.gradebook.db.commit()
        return [f"{nb}: {line}" for nb, text in rows for line in text.splitlines() if line]
