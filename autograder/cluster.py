"""Grade on the workers of an existing Dask distributed cluster (``grade --cluster ADDRESS``).

Only the grading command (the Dask *client*) reads the submissions folder and writes the
gradebook and the output folder; the workers only run :func:`autograder.grade.grade_job`, with
its sandbox, on copies. The workers need not share a file system with the client: each task
carries the bytes it needs (the trusted source notebook, the submitted notebook and the
submission folder's regular files, capped as the sandbox caps them), and
:func:`grade_shipment` rebuilds them in a private temporary folder on the worker. Whatever the
sandbox would refuse to copy (links, special files, files too large or too many) is rebuilt as
an empty stand-in of the same kind and size, so the worker's sandbox writes the same notes.

When connecting, every worker must run the same grader and course code and the same Python,
NumPy and PyTorch as this command (and, if asked, be able to start a sandbox), else the command
stops before grading. One task per submission, with a unique key and ``pure=False``; at most
a few per worker thread are handed to the scheduler at a time, so the client never holds every
submission's files.
A worker lost mid-task: the scheduler runs the task again on another worker; a task whose
workers died more than ``distributed.scheduler.allowed-failures`` times fails with Dask's
``KilledWorker``, which becomes a :class:`GraderFailure` of that submission (a grader error:
earlier grade kept, rerun), never a failure of the run. Each submission's
``concurrent.futures.Future`` is completed exactly once, and ``grade_all`` records a grade
per completed future, so a task that ran twice is still recorded once.
"""
from __future__ import annotations

import hashlib
import os
import queue
import stat
import sys
import tempfile
import threading
import uuid
from collections import deque
from concurrent.futures import Future
from importlib import metadata
from pathlib import Path

import autograder
import dltips

from .grade import Job, Result, grade_job
from .notebooks import read_source
from .runner import GraderFailure
from .sandbox import FILE_LIMIT, FILES_LIMIT

NOTEBOOK_SHIP_LIMIT = 64 * 2**20  # bytes of a submitted notebook sent as they are (the judge
#                                   refuses much smaller ones; a larger one is sent as its size)
WORKER_WAIT = 60.0                # seconds to wait for a first worker
TASKS_PER_THREAD = 2              # tasks handed to the scheduler per worker thread


# --- what the client and the workers must agree on ---------------------------------------------

def fingerprint() -> tuple[tuple[str, str], ...]:
    """What decides a verdict besides the shipped files: the grader's and the course package's
    code, and the Python, NumPy and PyTorch versions."""
    h = hashlib.sha256()
    for package in (autograder, dltips):
        root = Path(package.__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(f"{package.__name__}/{path.relative_to(root)}\0".encode())
            h.update(path.read_bytes() + b"\0")
    parts = [("grader and course code", h.hexdigest()[:16]),
             ("Python", "%d.%d.%d" % sys.version_info[:3])]
    for name in ("numpy", "torch"):
        try:
            parts.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            parts.append((name, "not installed"))
    return tuple(parts)


def _differences(mine, theirs) -> str:
    theirs = dict(theirs)
    return ", ".join(f"{name} {theirs.get(name, '?')} (here {value})" for name, value in mine
                     if theirs.get(name) != value)


def _worker_problem(sandboxed: bool) -> str | None:
    """Run on each worker when connecting: why it cannot grade (None if it can)."""
    if sandboxed:
        from .sandbox import SandboxUnavailable, check_available
        try:
            check_available()
        except SandboxUnavailable as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001
            return f"the sandbox check failed: {type(exc).__name__}: {exc}"
    return None


def _prestart(dask_worker) -> None:
    """Run on each worker: start a warm judge slot per worker thread (kept between runs)."""
    from . import runner
    runner.prestart(dask_worker.state.nthreads)


# --- packing on the client, unpacking on the worker -------------------------------------------

def pack(job: Job) -> dict:
    """The bytes a worker needs to grade ``job`` (whose notebook exists), as plain data.

    ``entries`` lists the submission folder in the sandbox's order: (name, kind, data, size,
    linked) with kind ``file`` (data: its bytes, or None for a stand-in of ``size`` bytes that
    the sandbox will not copy), ``link`` (a symbolic link or an unreadable entry; data: the
    bytes behind it for the notebook itself), ``dir`` or ``special``; ``linked`` for a file
    with other hard links."""
    folder = job.path.parent
    entries, accepted = [], 0
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    for name in names:
        path = folder / name
        notebook = name == job.path.name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            entries.append((name, "dir", None, 0, False))
            continue
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISLNK(info.st_mode):
            entries.append((name, "special", None, 0, False))
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:  # a symbolic link, or unreadable: the sandbox does not copy it
            entries.append((name, "link", _read_path(path) if notebook else None, 0, False))
            continue
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            linked = info.st_nlink > 1
            copied = not linked and info.st_size <= FILE_LIMIT and accepted < FILES_LIMIT
            accepted += copied
            limit = NOTEBOOK_SHIP_LIMIT if notebook else FILE_LIMIT
            data = f.read(limit + 1) if (copied or notebook) and info.st_size <= limit else None
        size = info.st_size
        if data is not None and len(data) > limit:  # it grew while being read: too large now
            data, size = None, len(data)
        entries.append((name, "file", data, size, linked))
    with open(job.source.path, "rb") as f:
        source = f.read()
    return {"student": job.student, "assignment": job.source.assignment,
            "source_name": Path(job.source.path).name, "source": source,
            "notebook": job.path.name, "entries": entries}


def _read_path(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(NOTEBOOK_SHIP_LIMIT + 1)
    except OSError:
        return None
    return data if len(data) <= NOTEBOOK_SHIP_LIMIT else None


def unpack(shipment: dict, root: Path) -> Job:
    """Rebuild the source notebook and the submission folder under ``root``; return the Job."""
    source_path = root / "source" / shipment["assignment"] / shipment["source_name"]
    source_path.parent.mkdir(parents=True)
    source_path.write_bytes(shipment["source"])
    source = read_source(source_path)
    folder = root / "submitted" / shipment["student"] / shipment["assignment"]
    folder.mkdir(parents=True)
    elsewhere = root / "elsewhere"  # targets of links and second names of hard links
    elsewhere.mkdir()
    for name, kind, data, size, linked in shipment["entries"]:
        path = folder / name
        if kind == "dir":
            path.mkdir()
        elif kind == "special":
            os.mkfifo(path)
        elif kind == "link":
            target = elsewhere / name
            if data is not None:
                target.write_bytes(data)
            path.symlink_to(target)
        else:
            with open(path, "wb") as f:
                if data is not None:
                    f.write(data)
                else:
                    f.truncate(size)  # sparse: the size is all the sandbox looks at
            if linked:
                os.link(path, elsewhere / name)
    return Job(shipment["student"], source, folder / shipment["notebook"])


def grade_shipment(shipment: dict, timeout: float, sandboxed: bool) -> Result:
    """Run on a worker: grade one packed submission in a private temporary folder."""
    with tempfile.TemporaryDirectory(prefix="autograder-cluster-") as tmp:
        return grade_job(unpack(shipment, Path(tmp)), timeout, sandboxed)


# --- the pool ---------------------------------------------------------------------------------

class ClusterPool:
    """Grades on the workers of the Dask scheduler at ``address``; used like
    :class:`autograder.grade.LocalPool`. ``sandboxed`` (if given) is checked on every worker when
    connecting."""

    def __init__(self, address: str, sandboxed: bool | None = None):
        from distributed import Client

        self.address = address
        try:
            self.client = Client(address, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError...
            raise SystemExit(f"error: cannot connect to a Dask scheduler at {address}: "
                             f"{type(exc).__name__}: {exc}") from None
        try:
            self._check_workers(sandboxed)
        except BaseException:
            self.client.close()
            raise
        self._events: queue.Queue = queue.Queue()
        self._pending: deque = deque()
        self._inflight: dict[str, tuple] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._feed, name="autograder-cluster", daemon=True)
        self._thread.start()

    def _check_workers(self, sandboxed: bool | None) -> None:
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT)
        except Exception:  # noqa: BLE001 - dask's TimeoutError
            raise SystemExit(f"error: the Dask scheduler at {self.address} has no workers after "
                             f"{WORKER_WAIT:g} s: start some (dask worker {self.address})") \
                from None
        for _ in range(3):  # again if a file changed between the two readings
            answers = self.client.run(fingerprint, on_error="return")
            mine = fingerprint()
            stale = {addr: f"cannot run the grader ({type(theirs).__name__}: {theirs})"
                     if isinstance(theirs, BaseException) else _differences(mine, theirs)
                     for addr, theirs in answers.items()
                     if isinstance(theirs, BaseException) or tuple(map(tuple, theirs)) != mine}
            if not stale:
                break
        if stale:
            raise SystemExit("error: these Dask workers run other code or versions than this "
                             "command (install the same version of the project on every worker): "
                             + "; ".join(f"{a}: {d}" for a, d in sorted(stale.items())))
        self.client.run(_prestart, on_error="ignore")  # judge slots warm up as tasks go out
        if sandboxed:
            answers = self.client.run(_worker_problem, True, on_error="return")
            problems = {a: p if isinstance(p, str) else f"{type(p).__name__}: {p}"
                        for a, p in answers.items() if p}
            if problems:
                raise SystemExit("error: these Dask workers cannot start a sandbox: " + "; ".join(
                    f"{a}: {p}" for a, p in sorted(problems.items())))

    def submit(self, job: Job, timeout: float, sandboxed: bool) -> Future:
        future: Future = Future()
        if not job.path.is_file():  # nothing to run: the verdict ("missing") is known here
            future.set_running_or_notify_cancel()
            try:
                future.set_result(grade_job(job, timeout, sandboxed))
            except Exception as exc:  # noqa: BLE001
                future.set_exception(exc)
            return future
        self._events.put(("submit", (job, timeout, sandboxed, future)))
        return future

    # the feeder thread: submits tasks as slots free up, and completes the futures

    def _feed(self) -> None:
        while True:
            kind, item = self._events.get()
            if kind == "stop":
                return
            try:
                if kind == "submit":
                    self._pending.append(item)
                elif kind == "done":
                    self._finish(item)
                self._fill()
            except Exception as exc:  # noqa: BLE001 - e.g. the scheduler went away
                self._fail_all(GraderFailure(f"the Dask cluster at {self.address} failed: "
                                             f"{type(exc).__name__}: {exc}"))

    def _window(self) -> int:
        try:
            threads = sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001
            threads = 1
        return max(2, TASKS_PER_THREAD * threads)

    def _fill(self) -> None:
        window = self._window() if self._pending else 0
        while self._pending and len(self._inflight) < window:
            job, timeout, sandboxed, future = self._pending.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                shipment = pack(job)
            except Exception as exc:  # noqa: BLE001 - OSError mostly
                future.set_exception(GraderFailure(f"cannot read the submission: {exc}"))
                continue
            key = f"grade-{job.label}-{uuid.uuid4().hex}"
            try:
                task = self.client.submit(grade_shipment, shipment, timeout, sandboxed, key=key,
                                          pure=False, retries=0)
            except Exception as exc:  # noqa: BLE001 - the others are failed by _feed
                future.set_exception(GraderFailure(f"the Dask cluster at {self.address} did not "
                                                   f"take the task: {type(exc).__name__}: {exc}"))
                raise
            self._inflight[key] = (task, future)
            task.add_done_callback(lambda t: self._events.put(("done", t.key)))

    def _finish(self, key: str) -> None:
        if key not in self._inflight:
            return
        task, future = self._inflight[key]
        if task.status in ("pending", "lost"):  # its result was lost after all: wait again
            task.add_done_callback(lambda t: self._events.put(("done", t.key)))
            return
        del self._inflight[key]
        try:
            if task.status == "finished":
                future.set_result(task.result())
            elif task.status == "error":
                future.set_exception(_grader_failure(task.exception()))
            else:
                future.set_exception(GraderFailure(f"the Dask task was {task.status} (lost the "
                                                   f"scheduler at {self.address}?)"))
        except Exception as exc:  # noqa: BLE001 - fetching the result failed
            future.set_exception(GraderFailure(f"could not fetch the result from the Dask "
                                               f"cluster: {type(exc).__name__}: {exc}"))
        finally:
            task.release()

    def _fail_all(self, exc: Exception) -> None:
        for task, future in self._inflight.values():
            if not future.done():
                future.set_exception(exc)
            task.release()
        self._inflight.clear()
        while self._pending:
            future = self._pending.popleft()[3]
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)

    def __enter__(self) -> "ClusterPool":
        return self

    def __exit__(self, *exc) -> None:
        if self._closed:
            return
        self._closed = True
        self._events.put(("stop", None))
        self._thread.join()
        for task, future in self._inflight.values():
            task.cancel()
            if not future.done():
                future.set_exception(GraderFailure("the grading command stopped first"))
        for *_, future in self._pending:
            future.cancel()
        self.client.close()


def _grader_failure(exc: BaseException) -> BaseException:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return GraderFailure(
            f"{exc.allowed_failures + 1} Dask workers died while grading it (the last was "
            f"{exc.last_worker.address}), more than the scheduler's "
            "distributed.scheduler.allowed-failures allows: see the workers' logs")
    return exc
