"""Grade one submitted notebook: run its judge process and turn the judge's events into verdicts.

Judges are forked by warm *slots* (``python -m autograder.judge --serve``, :class:`Slot`): each
slot has imported torch and the course package once and grades one submission at a time, so a
submission pays for its own cells, not for starting Python. Slots are kept in a pool for the
life of this process (:func:`prestart`, :func:`close_slots`); a slot that misbehaves is
replaced.

The judge (:mod:`autograder.judge`) is trusted code, but it handles a hostile submission, so
this side still treats its output with care: a time limit for the whole submission, capped
lines, and type checks on every event. A failure of the grader itself *before* any student code
ran raises :class:`GraderFailure` (the caller keeps the earlier grade and says so); anything that
goes wrong after that is the submission's, and becomes the status of the cells it cost.
"""
from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import PROJECT
from .notebooks import Source

LINE_LIMIT = 2**20          # bytes of one event line
STARTUP_ALLOWANCE = 180.0   # seconds for starting a slot, or a student process cold
SETTLE_TIME = 20.0          # seconds for a slot to report ready after its judge was killed


class GraderFailure(Exception):
    """The grader itself failed before any student code ran (not the submission's doing)."""


@dataclass
class Report:
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # grade_id -> (status, msg)
    cells: dict[int, tuple[str, str]] = field(default_factory=dict)     # solution/added cells
    notes: list[str] = field(default_factory=list)
    starts: list[bool] = field(default_factory=list)  # per student process: forked warm?


# control characters other than tab and newline, shown as escapes: a message ends up in an HTML
# page, a database and, through them, an instructor's terminal, where ESC sequences would act
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0b, 0x20), 0x7f,
                                        *range(0x80, 0xa0))}


def _text(value, limit: int = 2000) -> str:
    """Text the judge sent (it may quote the submission): a string, capped, with control
    characters escaped; anything else is ""."""
    return value[:limit].translate(_CONTROLS) if type(value) is str else ""


def _judge_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0",
               PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(PROJECT), *filter(None, [env.get("PYTHONPATH")])]))
    return env


class Slot:
    """A warm judge process that forks one judge per submission (see the module docstring)."""

    def __init__(self):
        self.errors = tempfile.TemporaryFile()
        self.cwd = tempfile.TemporaryDirectory(prefix="judge-")
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.judge", "--serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errors, cwd=self.cwd.name, env=_judge_env(),
                                     start_new_session=True)
        self.buffer = b""
        self.ready = False

    def wait_ready(self, deadline: float) -> None:
        """Wait for the slot's first ``slot_ready``; GraderFailure if it does not come."""
        try:
            for event in self.events(deadline):
                if event.get("event") == "slot_ready":
                    self.ready = True
                    return
        except TimeoutError:
            pass
        raise GraderFailure(f"the grading process did not start: {self.error_tail()}")

    def error_tail(self) -> str:
        self.errors.seek(0)
        return self.errors.read()[-1500:].decode("utf-8", "replace").strip() or "no message"

    def events(self, deadline: float):
        """The slot's events, one dict per line, until it closes its output; TimeoutError past
        ``deadline``. Lines that are not JSON objects are skipped."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    try:
                        event = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if isinstance(event, dict):
                        yield event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError()
                if not sel.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return
                self.buffer += chunk
                if len(self.buffer) > LINE_LIMIT and b"\n" not in self.buffer:
                    self.buffer = b""  # an overlong line is dropped

    def send(self, job: dict) -> None:
        self.proc.stdin.write(json.dumps(job).encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(self.proc.pid)
        self.proc.wait()
        from .sandbox import remove_leftover_cgroups
        remove_leftover_cgroups(self.proc.pid)
        self.errors.close()
        self.cwd.cleanup()


_idle: list[Slot] = []
_lock = threading.Lock()


def prestart(count: int) -> None:
    """Start ``count`` slots now (they warm up while other work goes on)."""
    with _lock:
        missing = count - len(_idle)
    for _ in range(max(0, missing)):
        slot = Slot()
        with _lock:
            _idle.append(slot)


def close_slots() -> None:
    """Stop every idle slot (busy ones are stopped when their submission ends)."""
    with _lock:
        slots, _idle[:] = list(_idle), []
    for slot in slots:
        slot.close()


atexit.register(close_slots)


def _acquire() -> Slot:
    with _lock:
        if _idle:
            return _idle.pop()
    return Slot()


def run_judge(source: Source, notebook: Path, timeout: float, sandboxed: bool) -> Report:
    """Grade ``notebook`` against ``source``; raise GraderFailure for the grader's own failures."""
    job = {"source": str(source.path), "notebook": str(notebook.resolve()), "timeout": timeout,
           "sandboxed": sandboxed}
    slot = _acquire()
    healthy = False
    try:
        if not slot.ready:
            slot.wait_ready(time.monotonic() + STARTUP_ALLOWANCE)
        report, healthy = _judge_on(slot, source, job)
        return report
    finally:
        if healthy:
            with _lock:
                _idle.append(slot)
        else:
            slot.close()


def _judge_on(slot: Slot, source: Source, job: dict) -> tuple[Report, bool]:
    """Run one job on a ready slot: the report, and whether the slot is fit for the next job."""
    code_cells = len(source.cells)
    timeout = job["timeout"]
    deadline = time.monotonic() + STARTUP_ALLOWANCE + (2 * code_cells + 4) * timeout
    report, student_code, done, judge_pid = Report(), False, False, None
    problem, healthy = "", False
    try:
        slot.send(job)
    except OSError:
        raise GraderFailure(f"the grading process stopped: {slot.error_tail()}") from None
    try:
        for event in slot.events(deadline):
            kind = event.get("event")
            if kind == "slot_ready":
                healthy = True
                break
            if kind == "judge" and type(event.get("pid")) is int and judge_pid is None:
                judge_pid = event["pid"]
            elif kind == "unreadable":
                message = _text(event.get("message"))
                report.verdicts = {c.grade_id: ("unreadable", message) for c in source.tests}
            elif kind == "parsed" or kind == "notes":
                notes = event.get("notes")
                report.notes += [_text(n, 500) for n in notes] if type(notes) is list else []
            elif kind == "grader_error":
                problem = _text(event.get("message"))
            elif kind == "student_code":
                student_code = True
            elif kind == "started":
                report.starts.append(event.get("warm") is True)
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
        if judge_pid is not None:
            _kill_group(judge_pid)
            try:  # the slot reaps its judge, cleans the sandbox and says it is ready again
                healthy = any(e.get("event") == "slot_ready"
                              for e in slot.events(time.monotonic() + SETTLE_TIME))
            except TimeoutError:
                healthy = False
    if problem and not student_code:
        raise GraderFailure(problem)
    if not done and not student_code and not report.verdicts:
        raise GraderFailure(problem or f"the judge process stopped unexpectedly: "
                            f"{slot.error_tail()}")
    for cell in source.tests:
        if cell.grade_id not in report.verdicts:
            why = problem or "the grading process stopped before this cell got a verdict"
            report.verdicts[cell.grade_id] = ("crashed", why)
    return report, healthy


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
