"""The judge: one trusted process per submission, which never runs student code.

Started by :mod:`autograder.runner` as ``python -m autograder.judge --serve``: a warm *slot* that
imports torch and the course package once, then reads one JSON job per line on standard input and
forks a judge for it, which reports on standard output, one JSON line per event (the first,
``judge``, gives its pid, for the runner's time limit). After the judge ends the slot writes
``slot_ready``. A judge

1. reads the trusted source notebook and the submission (size-capped, in this memory-limited
   process), and merges them (:func:`autograder.notebooks.merge`);
2. runs the setup cells here, in its own ``__main__`` namespace;
3. starts the student process (:mod:`autograder.sandbox`) and runs there the setup cells, then
   the student's solution cells and added cells, each with the time limit;
4. runs each tests cell here, where the contract names are stand-ins that call into the student
   process (:mod:`autograder.remote`), and decides its verdict.

Tests cells, their hidden part and the reference values never reach the student process; what
the student process says is only data, so no verdict depends on anything its code can forge.

Events: ``parsed`` (notes), ``unreadable`` (message), ``grader_error`` (message: the grader's own
failure, before any student code ran), ``student_code`` (from here on, failures are the
submission's), ``cell`` (index, status, message: a solution or added cell), ``verdict``
(grade_id, status, message), ``notes``, ``started`` (warm: whether a student process was forked
warm or started cold) and ``done``.

Where :func:`autograder.sandbox.warm_available` (as root), the slot also keeps a warm sandbox
(:class:`autograder.sandbox.Zygote`) that forks each submission's student process; otherwise,
or when that sandbox fails, each student process starts cold (:func:`autograder.sandbox.start`).
"""
from __future__ import annotations

import ast
import gc
import json
import os
import resource
import sys
import time
import traceback
import types
from pathlib import Path

from . import remote, sandbox
from .notebooks import UnreadableNotebook, load_json_notebook, merge, read_source

NOTEBOOK_LIMIT = 32 * 2**20   # bytes: a larger submitted notebook is not read
JUDGE_MEMORY = 8 * 2**30      # address space of the judge itself


def describe_tests_failure(exc: BaseException) -> str:
    """The message a student sees for an exception in a tests cell: never the tests' code."""
    if isinstance(exc, remote.StudentError):
        # ``where`` is the last line of the student's own cells in the traceback; without one,
        # the exception came from a setup helper run beside the student's code
        where = f" (raised in your code: {exc.where})" if exc.where else \
            " (raised while running your code)"
        text = str(exc).strip()
        return (f"{exc.type_name}: {text}" if text else exc.type_name)[:1500] + where
    text = str(exc).strip()
    if isinstance(exc, AssertionError):
        return (text or "a test failed")[:2000]
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:2000]


class Judge:
    def __init__(self, job: dict, emit, zygote: sandbox.Zygote | None = None):
        self.job = job
        self.emit = emit
        self.zygote = zygote
        self.timeout = float(job["timeout"])
        self.module = types.ModuleType("__main__")
        sys.modules["__main__"] = self.module
        self.ns = self.module.__dict__

    def run(self) -> None:
        source = read_source(Path(self.job["source"]))
        try:
            submission = _load_submission(Path(self.job["notebook"]))
        except UnreadableNotebook as exc:
            self.emit(event="unreadable", message=str(exc))
            return
        plan = merge(source, submission)
        self.emit(event="parsed", notes=plan.notes)
        for grade_id, (status, message) in plan.preset.items():
            self.emit(event="verdict", grade_id=grade_id, status=status, message=message)
        setup = [c for c in plan.cells if c.kind == "setup"]
        for cell in setup:
            try:
                exec(compile(cell.source, f"<setup {cell.grade_id}>", "exec"), self.ns)
            except BaseException as exc:  # noqa: BLE001
                self.emit(event="grader_error", message=f"setup cell {cell.grade_id} failed in "
                          f"the judge: {type(exc).__name__}: {exc}")
                return
        modules = sandbox.course_modules([c.source for c in setup])
        folder = Path(self.job["notebook"]).parent
        file_notes: list[str] = []

        def start():
            child = None
            if self.zygote is not None and self.zygote.alive():
                try:
                    child, notes = self.zygote.spawn(folder)
                except sandbox.ZygoteBroken:
                    self.zygote.close()
            if child is None:
                child, notes = sandbox.start(folder, modules, self.job["sandboxed"])
            self.emit(event="started", warm=isinstance(child, sandbox.WarmStudent))
            file_notes[:] = notes
            return child

        session = remote.Session(start, self.timeout)
        session.setup_objects = {k: v for k, v in self.ns.items()
                                 if isinstance(v, (type, types.FunctionType))}
        try:
            session.start()
        except (Exception, remote.StudentCrashed) as exc:  # noqa: BLE001
            self.emit(event="grader_error", message=f"the student process could not start: {exc}")
            return
        if not self._run_student_cells(plan, session):
            return
        self.emit(event="notes", notes=[f"file {n}" for n in file_notes])
        stand_ins = {name: remote.StudentName(session, name) for name in plan.contract}
        student_side = {name: remote.StudentName(session, name) for name, value in self.ns.items()
                        if getattr(value, "__autograder_student_side__", False) is True}
        values = _value_names(source)  # contract names bound by assignment: read as data
        for cell in plan.cells:
            if cell.kind != "tests":
                continue
            self.ns.update(stand_ins)
            self.ns.update(student_side)
            for name in values:
                try:
                    self.ns[name] = session.get(name)
                except (remote.StudentError, remote.CellTimeout, remote.StudentCrashed):
                    pass  # the stand-in stays, and using it says what is wrong
            status, message = self._run_tests_cell(cell, session)
            self.emit(event="verdict", grade_id=cell.grade_id, status=status, message=message)
        session.kill()

    def _run_student_cells(self, plan, session: remote.Session) -> bool:
        """Run setup, solution and added cells in the student process, in notebook order.
        Returns False after a grader error (a setup cell failed before any student code ran)."""
        student_code_ran = False
        for cell in plan.cells:
            if cell.kind == "tests":
                continue
            if cell.kind != "setup" and not student_code_ran:
                student_code_ran = True
                self.emit(event="student_code")
            # student_process.describe reports lines of "<cell ...>" files as the student's
            filename = (f"<setup {cell.grade_id}>" if cell.kind == "setup"
                        else f"<cell {cell.grade_id or 'added by student'}>")
            try:
                session.ensure()
                session.deadline = time.monotonic() + self.timeout
                session.run_cell(cell.source, filename)
                status, message = "ok", ""
                session.replay.append((cell.source, filename))
            except remote.StudentError as exc:
                status, message = "error", f"{exc.type_name}: {exc}"[:1500] + (
                    f" ({exc.where})" if exc.where else "")
                session.replay.append((cell.source, filename))
            except remote.CellTimeout as exc:
                status, message = "timeout", str(exc)
            except remote.StudentCrashed as exc:
                status, message = "crashed", str(exc)
            except Exception as exc:  # noqa: BLE001 - starting a fresh process failed
                status, message = "crashed", f"the student process could not start again: {exc}"
            if cell.kind == "setup" and status != "ok" and not student_code_ran:
                self.emit(event="grader_error", message=f"setup cell {cell.grade_id} failed in "
                          f"the student process: {message}")
                session.kill()
                return False
            if cell.kind != "setup":
                self.emit(event="cell", index=cell.index, status=status, message=message)
        if not student_code_ran:
            self.emit(event="student_code")
        return True

    def _run_tests_cell(self, cell, session: remote.Session) -> tuple[str, str]:
        try:
            session.ensure()
        except (remote.StudentError, remote.CellTimeout, remote.StudentCrashed) as exc:
            session.kill()
            return "crashed", f"the student's code could not be loaded again: {exc}"
        except Exception as exc:  # noqa: BLE001
            return "crashed", f"the student process could not start again: {exc}"
        session.deadline = time.monotonic() + self.timeout
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = open(os.devnull, "w")
        try:
            exec(compile(cell.source, f"<tests {cell.grade_id}>", "exec"), self.ns)
            return "passed", ""
        except remote.CellTimeout as exc:
            return "timeout", str(exc)
        except remote.StudentCrashed as exc:
            return "crashed", str(exc)
        except remote.AuthoringError as exc:
            return "error", f"the grader could not run this test (tell your instructor): {exc}"
        except remote.StudentError as exc:
            message = describe_tests_failure(exc)
            if exc.type_name == "NameError":
                message += (" (was its solution cell deleted, or did it fail to run?)")
            status = "failed" if isinstance(exc, AssertionError) else "error"
            return status, message
        except AssertionError as exc:
            return "failed", describe_tests_failure(exc)
        except Exception as exc:  # noqa: BLE001 - what the student's values made the tests raise
            return "error", describe_tests_failure(exc)
        except BaseException as exc:  # noqa: BLE001 - e.g. SystemExit from a tests cell
            return "error", describe_tests_failure(exc)
        finally:
            sys.stdout.close()
            sys.stdout, sys.stderr = real_out, real_err
            session.deadline = None


def _value_names(source) -> list[str]:
    """Contract names that the solution cells bind by assignment (a constant, not a function)."""
    names = []
    for cell in source.cells:
        if cell.kind == "solution":
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign):
                    names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _load_submission(path: Path) -> dict:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableNotebook(f"cannot read {path.name}: {exc.strerror}") from None
    if size > NOTEBOOK_LIMIT:
        raise UnreadableNotebook(f"{path.name} is {size / 2**20:.0f} MB, over the "
                                 f"{NOTEBOOK_LIMIT // 2**20} MB a notebook may have (clear its "
                                 "outputs and submit again)")
    try:
        return load_json_notebook(path)
    except (RecursionError, MemoryError):
        raise UnreadableNotebook(f"{path.name} is nested too deeply or too large to read") \
            from None


# torch.optim's first step imports torch._dynamo (about 800 modules, 1.5 s of CPU): import it once here
WARM_MODULES = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch._dynamo",
                "sklearn.preprocessing",
                "dltips.checks", "dltips.data", "dltips.models", "dltips.training",
                "dltips.optimizers", "dltips.initialisation", "dltips.gradcheck",
                "autograder.references")


def _judge(job: dict, events_fd: int, zygote: sandbox.Zygote | None) -> None:
    """In a forked child of the slot: judge one submission, then exit."""
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (JUDGE_MEMORY, JUDGE_MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    events = os.fdopen(events_fd, "w", buffering=1)

    def emit(**event):
        events.write(json.dumps(event) + "\n")
        events.flush()

    try:
        emit(event="judge", pid=os.getpid())
        Judge(job, emit, zygote).run()
    except BaseException:  # noqa: BLE001 - the grader's own failure, reported as such
        emit(event="grader_error", message="the judge failed: " + traceback.format_exc()[-1500:])
    emit(event="done")
    events.close()
    os._exit(0)


def serve() -> None:
    """The slot: warm imports, then fork a judge per job line on standard input."""
    events_fd = os.dup(1)
    jobs = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    import torch
    torch.set_num_threads(1)
    for name in WARM_MODULES:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - imported again, and reported, where a cell needs it
            pass
    zygote: sandbox.Zygote | None = None
    gc.freeze()  # the warm objects stay shared with the forked judges (no copy-on-write by gc)
    ready = (json.dumps({"event": "slot_ready"}) + "\n").encode()
    os.write(events_fd, ready)
    for line in jobs:
        job = json.loads(line)
        if job.get("sandboxed") and sandbox.warm_available() and \
                (zygote is None or not zygote.alive()):
            if zygote is not None:
                zygote.close()
            try:
                zygote = sandbox.Zygote().start()
            except (sandbox.ZygoteBroken, sandbox.SandboxUnavailable, OSError):
                zygote = None  # this submission's student process starts cold
        pid = os.fork()
        if pid == 0:
            jobs.close()
            _judge(job, events_fd, zygote if job.get("sandboxed") else None)
        os.waitpid(pid, 0)
        if zygote is not None:
            try:
                zygote.cleanup()  # a judge stopped by its time limit may leave a student process
            except sandbox.ZygoteBroken:
                zygote.close()
                zygote = None
        sandbox.remove_leftover_cgroups(pid)
        os.write(events_fd, b"\n" + ready)
    if zygote is not None:
        zygote.close()
    os._exit(0)


if __name__ == "__main__":
    serve()
