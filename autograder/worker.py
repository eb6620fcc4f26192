"""The grading worker: a fresh Python process that runs one submission's cells.

Started by :mod:`autograder.runner` as ``python -m autograder.worker``; reads its plan (JSON) from
standard input and reports on a pipe, one JSON line per event, each carrying the plan's nonce.

Three phases, so that student code never runs in the namespace the tests run in:

1. every trusted setup cell runs in the *trusted* namespace, then the guard records the state of
   numpy, torch, builtins and the rest (:mod:`autograder.guard`);
2. setup, solution and student-added cells run in order in the *student* namespace;
3. each tests cell runs in the trusted namespace, after the guard has undone any patching and the
   contract names (the functions the exercise asks for) have been copied in from the student
   namespace. Nothing else the student defined is visible to the tests.
"""
from __future__ import annotations

import io
import json
import linecache
import os
import sys
import threading
import traceback

OUTPUT_CAP = 20_000


class _CappedText(io.StringIO):
    """Swallows what student code prints, keeping at most OUTPUT_CAP characters."""

    def write(self, text):
        if self.tell() < OUTPUT_CAP:
            super().write(text[: OUTPUT_CAP - self.tell()])
        return len(text)


def describe(exc: BaseException) -> str:
    """One line for the feedback: the exception, and where in the notebook it was raised."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell ")]
    where = ""
    if frames:
        last = frames[-1]
        where = f" (cell {last.filename[6:-1]}, line {last.lineno}: {(last.line or '').strip()[:120]})"
    text = str(exc).strip()
    if not isinstance(exc, AssertionError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    text = text or "AssertionError"
    return (text[:1500] + where)[:2000]


def main() -> None:
    plan = json.loads(sys.stdin.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    report_pipe = os.fdopen(plan["fd"], "w", buffering=1)
    nonce = plan.pop("nonce")

    def emit(**event):
        event["nonce"] = nonce
        report_pipe.write("\n" + json.dumps(event) + "\n")
        report_pipe.flush()

    _run(plan, emit)
    emit(event="finished")
    report_pipe.close()
    os._exit(0)  # skip interpreter teardown: student objects may misbehave in finalisers


def _run(plan: dict, emit) -> None:
    cells = plan["cells"]
    skip = set(plan["skip"])
    contract = plan["contract"]
    trusted_ns = {"__name__": "__main__"}
    student_ns = {"__name__": "__main__"}
    captured = _CappedText()
    real_out, real_err = sys.stdout, sys.stderr

    guard = None
    tampered: list[str] = []

    def execute(cell, namespace):
        filename = f"<cell {cell['grade_id'] or 'added by student'}>"
        lines = cell["source"].splitlines(True)
        linecache.cache[filename] = (len(cell["source"]), None, lines, filename)
        code = compile(cell["source"], filename, "exec")
        sys.stdout = sys.stderr = captured
        try:
            exec(code, namespace)
        finally:
            sys.stdout, sys.stderr = real_out, real_err
            if guard is not None:  # student code ran: undo its patches before we go on
                tampered.extend(guard.restore())

    # Phase 1: trusted setup, then the guard's record.
    for cell in cells:
        if cell["kind"] == "setup":
            try:
                execute(cell, trusted_ns)
            except BaseException as exc:  # noqa: BLE001 - report whatever it was
                emit(event="grader_error", index=cell["index"],
                     message=f"setup cell {cell['grade_id']} failed: {describe(exc)}")
                return
    from autograder.guard import Guard
    import dltips.checks
    guard = Guard().snapshot()
    dltips.checks.add_guard(guard.restore_quick)
    threads_before = set(threading.enumerate())

    # Phase 2: the student's notebook, in order.
    for cell in cells:
        if cell["kind"] == "tests" or cell["index"] in skip:
            continue
        emit(event="start", index=cell["index"])
        try:
            execute(cell, student_ns)
            emit(event="done", index=cell["index"], status="ok", message="")
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything
            emit(event="done", index=cell["index"], status="error", message=describe(exc))
    extra_threads = [t.name for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    emit(event="tampering", changed=sorted(set(tampered))[:50])

    # Phase 3: the tests, in the trusted namespace.
    for cell in cells:
        if cell["kind"] != "tests" or cell["index"] in skip:
            continue
        emit(event="start", index=cell["index"])
        guard.restore()
        if extra_threads:
            emit(event="done", index=cell["index"], status="error",
                 message="your code left threads running (" + ", ".join(extra_threads[:3]) +
                 "); tests are not run while student code runs in the background")
            continue
        for name in contract:
            if name in student_ns:
                trusted_ns[name] = student_ns[name]
            else:
                trusted_ns.pop(name, None)
        try:
            execute(cell, trusted_ns)
            status, message = "passed", ""
        except AssertionError as exc:
            status, message = "failed", describe(exc)
        except NameError as exc:
            status, message = "error", describe(exc)
            if getattr(exc, "name", None) in contract:
                message += " (was its solution cell deleted, or did it fail to run?)"
        except BaseException as exc:  # noqa: BLE001
            status, message = "error", describe(exc)
        guard.restore()
        emit(event="done", index=cell["index"], status=status, message=message)


if __name__ == "__main__":
    main()
