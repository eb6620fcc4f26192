"""CSV exports and the HTML feedback page for each student and assignment."""
from __future__ import annotations

import csv
import html
import io
import os
from collections import defaultdict
from pathlib import Path

GRADE_COLUMNS = ["student_id", "assignment", "score", "max_score"]
CELL_COLUMNS = ["student_id", "assignment", "notebook", "grade_id", "score", "max_score", "status",
                "sandboxed"]
FAILURE_COLUMNS = ["student_id", "assignment", "notebook", "failed_at", "message"]

STATUS_TEXT = {
    "passed": "passed",
    "failed": "a test failed",
    "error": "an error was raised",
    "timeout": "ran out of time",
    "crashed": "the Python process died",
    "deleted": "tests cell deleted",
    "unreadable": "notebook could not be read",
    "missing": "notebook not submitted",
    "grader-error": "the grader itself failed (your instructor will grade it again)",
}


def _number(x: float) -> str:
    return f"{x:g}"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _csv(columns: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _number(v) if isinstance(v, float) else v for k, v in row.items()})
    return out.getvalue()


def grade_rows(cell_rows: list[dict]) -> list[dict]:
    """Sum cell rows into one row per student and assignment."""
    totals: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in cell_rows:
        total = totals[(row["student_id"], row["assignment"])]
        total[0] += row["score"]
        total[1] += row["max_score"]
    return [{"student_id": s, "assignment": a, "score": t[0], "max_score": t[1]}
            for (s, a), t in sorted(totals.items())]


def write_csvs(out: Path, cell_rows: list[dict], failure_rows: list[dict] = ()) -> None:
    cells = [{**r, "sandboxed": "yes" if r.get("sandboxed", 1) else "no"} for r in cell_rows]
    write_atomic(out / "grades.csv", _csv(GRADE_COLUMNS, grade_rows(cell_rows)))
    write_atomic(out / "cells.csv", _csv(CELL_COLUMNS, cells))
    write_atomic(out / "grader-errors.csv", _csv(FAILURE_COLUMNS, list(failure_rows)))


def feedback_page(student: str, assignment: str, rows: list[dict], notes: list[str]) -> str:
    """A self-contained HTML page: total, then one row per tests cell with its message."""
    esc = html.escape
    score = sum(r["score"] for r in rows)
    max_score = sum(r["max_score"] for r in rows)
    body = []
    for r in rows:
        status = r["status"]
        body.append(
            f'<tr class="{esc(status)}"><td>{esc(r["notebook"])}</td><td><code>{esc(r["grade_id"])}'
            f'</code></td><td>{_number(r["score"])} / {_number(r["max_score"])}</td>'
            f'<td>{esc(STATUS_TEXT.get(status, status))}</td><td><pre>{esc(r["message"])}</pre>'
            f'</td></tr>')
    note_html = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Feedback: {esc(assignment)} for {esc(student)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }}
pre {{ white-space: pre-wrap; margin: 0; font-size: .85rem; }}
tr.passed td:nth-child(4) {{ color: #1a7f37; }}
tr:not(.passed) td:nth-child(4) {{ color: #b42318; font-weight: 600; }}
</style></head><body>
<h1>{esc(assignment)}: {_number(score)} / {_number(max_score)}</h1>
<p>Student: <b>{esc(student)}</b>. Each row is one tests cell of the exercise; hidden tests run
beside the visible ones, always in their original form.</p>
<table><thead><tr><th>notebook</th><th>tests cell</th><th>score</th><th>result</th><th>what went wrong</th></tr></thead>
<tbody>{''.join(body)}</tbody></table>
{f'<h2>Notes</h2><ul>{note_html}</ul>' if note_html else ''}
</body></html>
"""
