"""The student process: runs a submission's cells and answers the judge's calls into them.

Started by :mod:`autograder.sandbox` (inside Bubblewrap unless the instructor said
``--no-sandbox``) as ``python -I -c "from autograder.student_process import main; main()" FD``,
where FD is its end of a socket pair with the judge. Everything here runs with the student's code
in the same process, so nothing it sends is trusted: the judge decodes replies from a closed set
of types (:mod:`autograder.wire`) and computes every verdict itself.

A grading slot may instead start a *zygote* here (:func:`zygote`, when the grader runs as root):
one sandbox per slot that imports numpy, torch and the course package once, then forks a fresh
student process per submission on request. Every student process runs as ``nobody``; before the
next one is forked the zygote (root, inside the sandbox) kills every process of ``nobody`` and
empties the working folder and ``/tmp``, so nothing of one submission reaches the next.

Requests (one frame each, answered by one frame):

- ``run``: execute a cell's source in the student namespace (a module registered as
  ``__main__``, so that objects the judge pickles by reference resolve here);
- ``call``: call a name of the student namespace, or an object behind a handle, with arguments
  the judge pickled (the judge is trusted, so unpickling its bytes is safe here); reply with the
  result and the new state of the arguments that may have changed in place;
- ``getattr``: an attribute of an object behind a handle;
- ``get``: the value of a name of the student namespace.
"""
from __future__ import annotations

import io
import json
import linecache
import os
import pickle
import shutil
import signal
import socket
import sys
import time
import traceback
import types

NOBODY = 65534
OUTPUT_CAP = 20_000
WORKDIR = "/home/student"          # as in autograder.sandbox
SCRATCH = (WORKDIR, "/tmp", "/dev/shm")
# torch.optim's first step imports torch._dynamo (about 800 modules, 1.5 s of CPU): import it once here
WARM_MODULES = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch._dynamo",
                "dltips.checks",
                "dltips.data", "dltips.models", "dltips.training", "dltips.optimizers",
                "dltips.initialisation", "dltips.gradcheck")


class _Capped(io.StringIO):
    """Swallows what student code prints, keeping at most OUTPUT_CAP characters."""

    def write(self, text):
        if self.tell() < OUTPUT_CAP:
            super().write(str(text)[: OUTPUT_CAP - self.tell()])
        return len(text)


def _drop_privileges() -> None:
    """Become the unprivileged user ``nobody`` (when started as root inside the sandbox)."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        if os.getuid() != NOBODY or os.geteuid() != NOBODY:  # pragma: no cover - paranoia
            os._exit(3)


def describe(exc: BaseException) -> dict:
    """The exception as data: its type name, its text and where in the student's cells."""
    where = ""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if f.filename.startswith("<cell ")]
        if frames:
            last = frames[-1]
            where = f"cell {last.filename[6:-1]}, line {last.lineno}: {(last.line or '').strip()[:120]}"
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a student exception may break even str()
        text = "(its message could not be read)"
    return {"type": type(exc).__name__[:100], "message": text[:2000], "where": where[:300]}


class Server:
    def __init__(self, sock: socket.socket):
        from . import wire
        self.wire = wire
        self.sock = sock
        self.module = types.ModuleType("__main__")
        sys.modules["__main__"] = self.module
        self.ns = self.module.__dict__
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}

    def register(self, obj) -> tuple[int, str]:
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = len(self.objects) + 1
            self.objects[self.ids[key]] = obj
        try:
            name = type(obj).__qualname__
        except BaseException:  # noqa: BLE001
            name = "object"
        return self.ids[key], str(name)

    def reply_value(self, value, extra: dict | None = None, sync: list | None = None) -> None:
        tree, buffers = self.wire.encode({"value": value, "sync": sync or []}, self.register)
        self.wire.send(self.sock, {"ok": True, "result": tree, **(extra or {})}, buffers)

    def reply_error(self, exc: BaseException) -> None:
        self.wire.send(self.sock, {"ok": False, "error": describe(exc)})

    def resolve(self, target: dict):
        if "handle" in target:
            return self.objects[target["handle"]]
        name = target["name"]
        if name not in self.ns:
            raise NameError(f"name '{name}' is not defined")
        return self.ns[name]

    def unpickle(self, data: bytes):
        server = self

        class Loader(pickle.Unpickler):
            def persistent_load(self, pid):
                kind, value = pid
                return server.resolve({kind: value})

        return Loader(io.BytesIO(data)).load()

    def handle(self, request: dict, buffers: list[bytes]) -> None:
        op = request.get("op")
        if op == "run":
            source, filename = request["source"], request["filename"]
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            code = compile(source, filename, "exec")
            exec(code, self.ns)  # noqa: S102 - this is the student's own process
            self.wire.send(self.sock, {"ok": True})
        elif op == "call":
            from . import inplace
            fn = self.resolve(request["target"])
            args, kwargs, targets, grads = self.unpickle(buffers[0])
            for target, stored in zip(targets, grads):  # pickling drops stored gradients
                inplace.restore_grads(target, stored)
            result = fn(*args, **kwargs)
            self.reply_value(result, sync=[inplace.capture(t) for t in targets])
        elif op == "getattr":
            self.reply_value(getattr(self.resolve({"handle": request["handle"]}), request["name"]))
        elif op == "get":
            self.reply_value(self.resolve({"name": request["name"]}))
        else:
            raise ValueError(f"unknown request {op!r}")

    def serve(self) -> None:
        real_out, real_err = sys.stdout, sys.stderr
        while True:
            try:
                request, buffers = self.wire.receive(self.sock)
            except self.wire.ChannelClosed:
                return
            if request.get("op") == "exit":
                return
            sys.stdout = sys.stderr = _Capped()
            try:
                self.handle(request, buffers)
            except BaseException as exc:  # noqa: BLE001 - report whatever the student raised
                sys.stdout, sys.stderr = real_out, real_err
                try:
                    self.reply_error(exc)
                except BaseException:  # noqa: BLE001 - e.g. an unencodable result
                    self.wire.send(self.sock, {"ok": False, "error": {
                        "type": "ProtocolError", "message": "the reply could not be sent",
                        "where": ""}})
            finally:
                sys.stdout, sys.stderr = real_out, real_err


def _serve_child(fd: int) -> None:
    """In a forked child of the zygote: become the student process on socket ``fd``."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    os.chdir(WORKDIR)
    _drop_privileges()
    sock = socket.socket(fileno=fd)
    from . import wire
    wire.send(sock, {"ready": True})
    Server(sock).serve()


def _student_pids() -> list[int]:
    """Living processes whose real or effective user is ``nobody`` (this PID namespace)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except (OSError, ValueError):
            continue
        uids = status.get("Uid", "").split()
        if status.get("State", "").split()[:1] == ["Z"]:
            continue
        if str(NOBODY) in uids[:2]:
            found.append(int(name))
    return found


def _kill_as_nobody() -> None:
    """Send SIGKILL to every process of ``nobody`` at once: kill(-1) from a child that has become
    ``nobody`` (it reaches exactly the processes that user may signal, and not the zygote).
    When the submission has used up its cgroup's processes, the fork fails; the caller's sweep
    over /proc then kills them one by one."""
    try:
        pid = os.fork()
    except OSError:
        return
    if pid == 0:
        try:
            _drop_privileges()
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # reaped by the kernel (SIGCHLD is ignored here)


def _remove_sysv_ipc() -> None:
    """Remove every System V shared-memory segment, message queue and semaphore set of this IPC
    namespace (the slot's sandbox; its students are dead by now): memory that outlives a
    process, through which one submission could hand answers to the next."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    removers = {"shm": lambda i: libc.shmctl(i, ipc_rmid, None),
                "msg": lambda i: libc.msgctl(i, ipc_rmid, None),
                "sem": lambda i: libc.semctl(i, 0, ipc_rmid)}
    for kind, remove in removers.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]  # key, id, perms, ...
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


def _clear_students() -> bool:
    """Kill every process of ``nobody``, empty the scratch folders and remove System V IPC
    objects; True when no process is left."""
    if _student_pids():
        _kill_as_nobody()
    for _ in range(2000):
        pids = _student_pids()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
    else:
        return False
    _remove_sysv_ipc()
    for folder in SCRATCH:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(folder, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
    return True


def _copy_in(names: list, fds: list[int]) -> None:
    """Copy the submission's files (open descriptors from the grader) into the working folder."""
    for name, fd in zip(names, fds):
        if type(name) is str and name not in ("", ".", "..") and "/" not in name and \
                "\0" not in name:
            out = os.open(os.path.join(WORKDIR, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(out, "wb") as target:
                os.lseek(fd, 0, os.SEEK_SET)
                while chunk := os.read(fd, 2**20):
                    target.write(chunk)
        os.close(fd)


def zygote() -> None:
    """A grading slot's warm student side: fork a student process per ``spawn`` request.

    Runs as root inside the slot's sandbox (capabilities kept, for killing and for dropping to
    ``nobody`` in the children). Requests arrive on a ``SOCK_SEQPACKET`` socket (fd in argv) as
    JSON with an ``id`` that the reply repeats: ``spawn`` (descriptors: the student process's
    socket, then the submission's files, whose names the request lists) and ``cleanup``."""
    ctl = socket.socket(fileno=int(sys.argv[1]))
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    for name in WARM_MODULES:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a module the sandbox does not bind: imported later
            pass
    from . import inplace, wire  # noqa: F401 - warm for the children
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    import gc
    gc.freeze()  # the warm objects stay shared with the children (no copy-on-write by gc)
    ctl.send(json.dumps({"ready": True}).encode())
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(ctl, 2**16, 100)
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)
        request_id = None
        try:
            request = json.loads(data)
            request_id = request.get("id")
            reply = {"id": request_id, "ok": _clear_students()}
            if request.get("op") == "spawn" and reply["ok"] and fds:
                _copy_in(request.get("files", []), fds[1:])
                fds = fds[:1]
                pid = os.fork()
                if pid == 0:
                    try:
                        ctl.close()
                        _serve_child(fds[0])
                    finally:
                        os._exit(0)
                reply["pid"] = pid
        except Exception as exc:  # noqa: BLE001 - reported; the slot decides what to do
            reply = {"id": request_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        ctl.send(json.dumps(reply).encode())


def main() -> None:
    fd = int(sys.argv[1])
    if os.environ.get("AUTOGRADER_DROP_PRIVILEGES") == "1":
        _drop_privileges()
    if os.environ.get("AUTOGRADER_MEMORY_LIMIT"):  # unsandboxed: a per-process cap at least
        import resource
        limit = int(os.environ["AUTOGRADER_MEMORY_LIMIT"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):  # student output goes nowhere; the judge hears only the socket
        os.dup2(devnull, target)
    sock = socket.socket(fileno=fd)
    try:
        import numpy  # noqa: F401 - warm the imports the cells will need
        import torch  # noqa: F401

        from . import wire
        wire.send(sock, {"ready": True})  # before any student code: start-up is not a cell's time
        Server(sock).serve()
    finally:
        os._exit(0)  # skip interpreter teardown: student objects may misbehave in finalisers
