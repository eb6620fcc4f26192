"""Grade one submitted notebook: run its judge process and turn the judge's events into verdicts.

The judge (:mod:`autograder.judge`) is trusted code, but it handles a hostile submission, so
this side still treats its output with care: a time limit for the whole submission, capped
lines, and type checks on every event. A failure of the grader itself *before* any student code
ran raises :class:`GraderFailure` (the caller keeps the earlier grade and says so); anything that
goes wrong after that is the submission's, and becomes the status of the cells it cost.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .notebooks import Source

LINE_LIMIT = 2**20          # bytes of one event line
STARTUP_ALLOWANCE = 180.0   # seconds for starting the judge and the student process


class GraderFailure(Exception):
    """The grader itself failed before any student code ran (not the submission's doing)."""


@dataclass
class Report:
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # grade_id -> (status, msg)
    cells: dict[int, tuple[str, str]] = field(default_factory=dict)     # solution/added cells
    notes: list[str] = field(default_factory=list)


def _text(value, limit: int = 2000) -> str:
    return value[:limit] if type(value) is str else ""


def _judge_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def run_judge(source: Source, notebook: Path, timeout: float, sandboxed: bool) -> Report:
    """Grade ``notebook`` against ``source``; raise GraderFailure for the grader's own failures."""
    job = {"source": str(source.path), "notebook": str(notebook.resolve()), "timeout": timeout,
           "sandboxed": sandboxed}
    code_cells = len(source.cells)
    deadline = time.monotonic() + STARTUP_ALLOWANCE + (2 * code_cells + 4) * timeout
    report, student_code, done = Report(), False, False
    problem = ""
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryDirectory(prefix="judge-") as cwd:
        proc = subprocess.Popen([sys.executable, "-m", "autograder.judge"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errors, cwd=cwd, env=_judge_env(),
                                start_new_session=True)
        try:
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
            for event in _events(proc, deadline):
                kind = event.get("event")
                if kind == "unreadable":
                    message = _text(event.get("message"))
                    report.verdicts = {c.grade_id: ("unreadable", message) for c in source.tests}
                elif kind == "parsed" or kind == "notes":
                    notes = event.get("notes")
                    report.notes += [_text(n, 500) for n in notes] if type(notes) is list else []
                elif kind == "grader_error":
                    problem = _text(event.get("message"))
                    if not student_code:
                        raise GraderFailure(problem)
                elif kind == "student_code":
                    student_code = True
                elif kind == "cell" and type(event.get("index")) is int:
                    report.cells[event["index"]] = (_text(event.get("status"), 20),
                                                    _text(event.get("message")))
                elif kind == "verdict" and type(event.get("grade_id")) is str:
                    report.verdicts[event["grade_id"]] = (_text(event.get("status"), 20),
                                                          _text(event.get("message")))
                elif kind == "done":
                    done = True
        except TimeoutError:
            problem = "the grading of this notebook ran past its overall time limit"
        finally:
            _stop(proc)
            errors.seek(0)
            tail = errors.read()[-1500:].decode("utf-8", "replace").strip()
    if not done and not student_code and not report.verdicts:
        raise GraderFailure(problem or f"the judge process stopped unexpectedly: {tail}")
    for cell in source.tests:
        if cell.grade_id not in report.verdicts:
            why = problem or "the grading process stopped before this cell got a verdict"
            report.verdicts[cell.grade_id] = ("crashed", why)
    return report


def _events(proc: subprocess.Popen, deadline: float):
    """The judge's events, one dict per line, until it closes its output; TimeoutError past
    ``deadline``. Lines that are not JSON objects are skipped."""
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            if not sel.select(timeout=min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return
            buffer += chunk
            if len(buffer) > LINE_LIMIT and b"\n" not in buffer:
                buffer = b""  # an overlong line is dropped
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(event, dict):
                    yield event


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    from .sandbox import remove_leftover_cgroups
    remove_leftover_cgroups(proc.pid)
