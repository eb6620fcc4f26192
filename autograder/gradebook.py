"""Where grades are kept: nbgrader's gradebook, plus a table of per-cell verdicts.

Scores go into nbgrader's own gradebook (``auto_score`` of each grade cell), so ``nbgrader
export`` and the formgrader see them; manual scores an instructor adds there are never touched.
The verdicts (status and message per tests cell) live in the table ``autograder_cells`` of the
same database. One submission is written in one transaction: an interrupted run leaves every
earlier grade as it was.
"""
from __future__ import annotations

import os
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, Text, inspect, select,
                        text)
from sqlalchemy.exc import SAWarning

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


class Store:
    """The gradebook at ``db_url`` (any SQLAlchemy URL; SQLite by default)."""

    def __init__(self, db_url: str):
        scripts_on_path(os.environ)
        self.gradebook = Gradebook(db_url)
        _metadata.create_all(self.gradebook.engine)
        columns = {c["name"] for c in inspect(self.gradebook.engine).get_columns(CELLS.name)}
        if "sandboxed" not in columns:  # a gradebook written by grader version 1
            with self.gradebook.engine.begin() as conn:
                conn.execute(text("ALTER TABLE autograder_cells ADD COLUMN sandboxed INTEGER "
                                  "NOT NULL DEFAULT 1"))

    def close(self) -> None:
        self.gradebook.close()

    def register(self, source: Source) -> None:
        """Make sure the assignment, notebook and grade cells of ``source`` exist."""
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
        return row[0] if row else None

    def record(self, student: str, source: Source, verdicts: dict[str, tuple[float, str, str]],
               digest: str, notes: list[str], sandboxed: bool = True) -> None:
        """Store ``verdicts`` (grade_id -> (score, status, message)) and the notes for the
        feedback page, in one transaction; clear an earlier grader failure."""
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
                    message=message, digest=digest, graded_at=now, sandboxed=int(sandboxed)))
            key = dict(student_id=student, assignment=source.assignment, notebook=source.notebook)
            db.execute(NOTES.delete().where(*(NOTES.c[k] == v for k, v in key.items())))
            db.execute(NOTES.insert().values(**key, notes="\n".join(notes)))
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
        kept = self.digest(student, source) is not None
        if not kept:
            self.record(student, source, {c.grade_id: (0.0, "grader-error", message)
                                          for c in source.tests}, "", [], sandboxed)
        db = self.gradebook.db
        key = dict(student_id=student, assignment=source.assignment, notebook=source.notebook)
        try:
            db.execute(FAILURES.delete().where(*(FAILURES.c[k] == v for k, v in key.items())))
            db.execute(FAILURES.insert().values(**key, message=message[:4000], failed_at=datetime.now(
                timezone.utc).isoformat(timespec="seconds")))
            db.commit()
        except Exception:
            db.rollback()
            raise
        return kept

    def clear_failure(self, student: str, source: Source) -> None:
        """Forget a grader failure for a submission whose recorded grade is current."""
        db = self.gradebook.db
        key = dict(student_id=student, assignment=source.assignment, notebook=source.notebook)
        db.execute(FAILURES.delete().where(*(FAILURES.c[k] == v for k, v in key.items())))
        db.commit()

    def failure_rows(self) -> list[dict]:
        """The grader's failures still waiting for a rerun."""
        rows = self.gradebook.db.execute(select(FAILURES).order_by(
            FAILURES.c.student_id, FAILURES.c.assignment, FAILURES.c.notebook)).mappings().all()
        return [dict(r) for r in rows]

    def cell_rows(self) -> list[dict]:
        """Every recorded verdict, by student, assignment, notebook, then notebook order."""
        rows = self.gradebook.db.execute(select(CELLS).order_by(
            CELLS.c.student_id, CELLS.c.assignment, CELLS.c.notebook, CELLS.c.position,
            CELLS.c.grade_id)).mappings().all()
        return [dict(r) for r in rows]

    def notes(self, student: str, assignment: str) -> list[str]:
        """The notes recorded for this student's notebooks of ``assignment``."""
        rows = self.gradebook.db.execute(select(NOTES.c.notebook, NOTES.c.notes).where(
            NOTES.c.student_id == student, NOTES.c.assignment == assignment)).all()
        return [f"{nb}: {line}" for nb, text in rows for line in text.splitlines() if line]
