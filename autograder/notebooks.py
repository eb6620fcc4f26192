"""Read source notebooks and submissions, and merge them into the list of cells to run.

The source notebook (``solutions/<assignment>/<notebook>.ipynb``) is trusted: its setup and tests
cells are what runs, whatever the submission's copies say. From the submission come only the
solution cells (matched by nbgrader ``grade_id``) and code cells the student added.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MARKER = re.compile(r"^[ \t]*###[ \t]*(BEGIN|END)[ \t]+(SOLUTION|HIDDEN TESTS)[ \t]*$", re.MULTILINE)


ADDED_CELLS_LIMIT = 100  # code cells a student added that are run; later ones are ignored


class UnreadableNotebook(Exception):
    """The file is not a notebook this grader can read; the message says why."""


@dataclass
class Cell:
    index: int          # position in the run plan
    kind: str           # "setup" | "solution" | "tests" | "student"
    grade_id: str | None
    source: str
    points: float = 0.0

    def as_plan(self) -> dict:
        return {"index": self.index, "kind": self.kind, "grade_id": self.grade_id,
                "source": self.source}


@dataclass
class Source:
    """An assignment's trusted source notebook."""

    assignment: str
    notebook: str
    cells: list[Cell]
    contract: list[str]
    digest: str
    path: Path

    @property
    def tests(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "tests"]

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.tests)


@dataclass
class Plan:
    """What to run for one submitted notebook, and the verdicts known before running."""

    cells: list[Cell]
    contract: list[str]
    preset: dict[str, tuple[str, str]] = field(default_factory=dict)  # grade_id -> (status, msg)
    notes: list[str] = field(default_factory=list)


def strip_markers(source: str) -> str:
    """Remove the nbgrader ``### BEGIN/END SOLUTION|HIDDEN TESTS`` marker lines."""
    return MARKER.sub("", source)


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def load_json_notebook(path: Path) -> dict:
    """Parse a notebook file, or raise UnreadableNotebook naming the problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableNotebook(f"cannot read {path.name}: {exc.strerror}") from None
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnreadableNotebook(f"{path.name} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UnreadableNotebook(f"{path.name} is not valid JSON (line {exc.lineno}, column "
                                 f"{exc.colno}: {exc.msg})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise UnreadableNotebook(f"{path.name} is JSON but not a notebook (no list of cells)")
    return nb


def contract_names(source: str) -> list[str]:
    """Names a solution cell defines at top level (functions, classes, assignments)."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def read_source(path: Path) -> Source:
    """Read a source notebook; raise ValueError if it breaks the rules the grader relies on."""
    nb = load_json_notebook(path)
    cells, contract, seen = [], [], set()
    for raw in nb["cells"]:
        if raw.get("cell_type") != "code":
            continue
        meta = _nbgrader(raw)
        grade_id = meta.get("grade_id")
        if not grade_id:
            raise ValueError(f"{path}: a code cell has no nbgrader grade_id; every code cell of a "
                             "source notebook must be setup, solution or tests")
        if grade_id in seen:
            raise ValueError(f"{path}: grade_id {grade_id!r} is used twice")
        seen.add(grade_id)
        text = _text(raw.get("source"))
        if meta.get("grade") and meta.get("solution"):
            raise ValueError(f"{path}: cell {grade_id!r} is both graded and a solution; keep "
                             "tests and solutions in separate cells")
        if meta.get("grade"):
            kind = "tests"
        elif meta.get("solution"):
            kind = "solution"
            contract += contract_names(strip_markers(text))
        else:
            kind = "setup"
        cells.append(Cell(len(cells), kind, grade_id, strip_markers(text),
                          float(meta.get("points", 0) or 0)))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Source(path.parent.name, path.stem, cells, contract, digest, path.resolve())


def merge(source: Source, submission: dict) -> Plan:
    """The cells to run: the source's trusted cells, the student's solution cells, and the
    student's added code cells after the cell they followed in the submission."""
    known = {c.grade_id: c for c in source.cells}
    student_solutions: dict[str, str] = {}
    present: set[str] = set()
    added_after: dict[str | None, list[str]] = {}
    anchor, added = None, 0
    for raw in submission["cells"]:
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        grade_id = _nbgrader(raw).get("grade_id")
        if type(grade_id) is not str:  # a list or number here is a broken notebook, not a key
            grade_id = None
        text = _text(raw.get("source"))
        if grade_id in known and grade_id not in present:
            present.add(grade_id)
            if known[grade_id].kind == "solution":
                student_solutions[grade_id] = text
            anchor = grade_id
        elif text.strip():
            added += 1
            if added <= ADDED_CELLS_LIMIT:
                added_after.setdefault(anchor, []).append(text)

    plan = Plan([], source.contract)
    if added > ADDED_CELLS_LIMIT:
        plan.notes.append(f"only the first {ADDED_CELLS_LIMIT} code cells you added were run")

    def add(kind, grade_id, text, points=0.0):
        plan.cells.append(Cell(len(plan.cells), kind, grade_id, text, points))

    for text in added_after.get(None, []):
        add("student", None, text)
    for cell in source.cells:
        if cell.kind == "solution":
            if cell.grade_id in student_solutions:
                add("solution", cell.grade_id, student_solutions[cell.grade_id])
            else:
                plan.notes.append(f"solution cell {cell.grade_id!r} is missing from the submission")
        elif cell.kind == "tests" and cell.grade_id not in present:
            plan.preset[cell.grade_id] = ("deleted", "this tests cell was deleted from the "
                                          "notebook; it scores zero (restore it from the "
                                          "released notebook)")
            continue
        else:
            add(cell.kind, cell.grade_id, cell.source, cell.points)
        for text in added_after.get(cell.grade_id, []):
            add("student", None, text)
    return plan
