"""Run one merged notebook plan in worker processes, surviving whatever the student code does.

Each cell gets ``timeout`` seconds. A cell that runs too long, or takes the process down
(``os._exit``, a segfault, running out of memory), is recorded and skipped, and a fresh worker
carries on from where the last one stopped. Only this parent decides verdicts; it accepts only
events that carry the nonce it gave the worker.
"""
from __future__ import annotations

import json
import os
import resource
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from .notebooks import Plan

MEMORY_LIMIT = 6 * 2**30  # bytes of address space per worker
FILE_LIMIT = 64 * 2**20   # largest file a worker may write, its own log included


@dataclass
class Outcome:
    status: str   # passed | failed | error | timeout | crashed | deleted | ... ; "ok" for code cells
    message: str = ""


class GraderError(Exception):
    """The grader itself could not run the plan (not the student's doing)."""


def _limit_worker() -> None:  # runs in the child before exec
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def _worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    return env


def run_plan(plan: Plan, timeout: float, workdir: str, startup_timeout: float = 120) -> tuple[
        dict[int, Outcome], list[str]]:
    """Run ``plan``; return outcomes by cell index, and what the guard found tampered with."""
    outcomes: dict[int, Outcome] = {}
    skip: set[int] = set()
    tampered: list[str] = []
    tests = [c.index for c in plan.cells if c.kind == "tests"]
    for _attempt in range(len(plan.cells) + 2):
        pending = [i for i in tests if i not in outcomes]
        if not pending:
            break
        # cells that already have a verdict, or killed a worker, are not run again
        done = {i for i, o in outcomes.items() if o.status in ("timeout", "crashed")} | {
            i for i in outcomes if i in tests}
        finished, crashed_at = _one_worker(plan, skip | done, timeout, workdir, startup_timeout,
                                           outcomes, tampered)
        if crashed_at is not None:
            skip.add(crashed_at)
        elif finished:
            break
    for i in tests:
        outcomes.setdefault(i, Outcome("crashed", "the grader could not get a verdict"))
    return outcomes, tampered


def _one_worker(plan, skip, timeout, workdir, startup_timeout, outcomes, tampered):
    """One worker process: returns (finished normally, index of the cell that killed it)."""
    nonce = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    payload = json.dumps({"cells": [c.as_plan() for c in plan.cells], "skip": sorted(skip),
                          "contract": plan.contract, "fd": write_fd, "nonce": nonce})
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "autograder.worker"], stdin=subprocess.PIPE,
                                stdout=log, stderr=log, cwd=workdir, env=_worker_env(),
                                pass_fds=(write_fd,), preexec_fn=_limit_worker)
        os.close(write_fd)
        try:
            proc.stdin.write(payload.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        current, deadline = None, time.monotonic() + startup_timeout
        buffer = b""
        finished = False
        with selectors.DefaultSelector() as sel, os.fdopen(read_fd, "rb", buffering=0) as pipe:
            sel.register(pipe, selectors.EVENT_READ)
            eof = False
            while not eof and not finished:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    _kill(proc)
                    if current is None:
                        raise GraderError("the worker did not start within "
                                          f"{startup_timeout:.0f} s")
                    outcomes[current] = Outcome("timeout", f"stopped after {timeout:g} s: an "
                                                "endless loop, or far too slow")
                    return False, current
                if not sel.select(timeout=min(wait, 1.0)):
                    continue
                chunk = pipe.read(65536)
                if not chunk:
                    eof = True
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    event = _parse(line, nonce)
                    if event is None:
                        continue
                    kind = event.get("event")
                    if kind == "start":
                        current = event.get("index")
                        deadline = time.monotonic() + timeout
                    elif kind == "done":
                        outcomes[event.get("index")] = Outcome(str(event.get("status")),
                                                               str(event.get("message", "")))
                        current = None
                        deadline = time.monotonic() + timeout
                    elif kind == "tampering":
                        tampered[:] = [str(x) for x in event.get("changed", [])]
                    elif kind == "grader_error":
                        _kill(proc)
                        raise GraderError(str(event.get("message")))
                    elif kind == "finished":
                        finished = True
        code = _reap(proc)
        if finished:
            return True, None
        if current is None:
            log.seek(0)
            tail = log.read()[-2000:].decode("utf-8", "replace")
            raise GraderError(f"the worker exited with code {code} outside any cell: {tail}")
        outcomes[current] = Outcome("crashed", f"the Python process died while this cell ran "
                                    f"({_describe_exit(code)})")
        return False, current


def _parse(line: bytes, nonce: str) -> dict | None:
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("nonce") != nonce:
        return None
    return event


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(proc)


def _reap(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
