"""Start the student process: inside a Bubblewrap sandbox with cgroup limits, or (only when the
instructor passes ``--no-sandbox``) as a plain child process.

What the sandbox gives one submission (Linux; Debian's ``bubblewrap`` package):

- a file system of its own: read-only the system's ``/usr`` (with ``/lib``, ``/bin``), the Python
  installation and virtual environment, the course-package modules the exercise's setup cells
  import and the three modules of the student side of the grader; nothing else of the project
  (no ``solutions/``, no submissions folder, no output folder, no gradebook). A private working
  folder and ``/tmp``, both size-capped tmpfs, hold copies of the submission's regular files;
- no network (a new network namespace with only a loopback that is down), its own PID, IPC and
  UTS namespaces, a cleared environment, a new session (no terminal to inject into);
- the user ``nobody`` with no capabilities when the grader runs as root (the student process drops
  privileges before any student code runs); the grader's own user otherwise;
- one cgroup per submission (v1 ``memory`` and ``pids`` controllers, or v2) capping the memory
  (RAM + swap, tmpfs included) and the number of processes and threads of everything it starts.
  Killing the sandbox kills every process in that cgroup, so nothing outlives it.
"""
from __future__ import annotations

import ast
import itertools
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import autograder
import dltips

MEMORY_LIMIT = 4 * 2**30     # bytes for a whole submission (RAM + swap + its tmpfs)
PIDS_LIMIT = 256             # processes and threads of a whole submission
TMP_SIZE = 256 * 2**20       # bytes of /tmp and of the working folder, each
FILE_LIMIT = 32 * 2**20      # submission files larger than this are not copied
FILES_LIMIT = 64             # at most this many files are copied
WORKDIR = "/home/student"
BOOT = "from autograder.student_process import main; main()"
ZYGOTE_BOOT = "from autograder.student_process import zygote; zygote()"
ZYGOTE_TIMEOUT = 120.0       # seconds for the zygote to answer a request (killing 256 processes
                             # and emptying two folders takes far less, even on a busy machine)
STUDENT_SIDE = ("__init__.py", "wire.py", "inplace.py", "student_process.py")
_counter = itertools.count()


class SandboxUnavailable(Exception):
    """No sandbox can be had on this machine; the message says why and what to do."""


def course_modules(setup_sources: list[str]) -> list[str]:
    """The ``dltips`` submodules the setup cells import (``dltips.checks`` -> ``checks``)."""
    found = set()
    for source in setup_sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "dltips" and len(parts) > 1:
                    found.add(parts[1])
    return sorted(m for m in found if (Path(dltips.__file__).parent / f"{m}.py").is_file())


# --- cgroups ----------------------------------------------------------------------------------

@dataclass
class Cgroup:
    """One submission's cgroup(s): the folders to write the process into, and to clean up."""

    dirs: list[Path]
    memory_dir: Path

    @staticmethod
    def create(memory: int, pids: int) -> "Cgroup":
        name = f"autograder-{os.getpid()}-{next(_counter)}"
        own = _own_cgroups()
        root = Path("/sys/fs/cgroup")
        try:
            if (root / "memory").is_dir() and (root / "pids").is_dir() and "memory" in own:
                mem = root / "memory" / own["memory"].lstrip("/") / name
                pid = root / "pids" / own.get("pids", "/").lstrip("/") / name
                mem.mkdir()
                pid.mkdir()
                group = Cgroup([mem, pid], mem)
                (mem / "memory.limit_in_bytes").write_text(str(memory))
                if (mem / "memory.memsw.limit_in_bytes").exists():
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory))
                (pid / "pids.max").write_text(str(pids))
                return group
            if "memory" in (root / "cgroup.controllers").read_text().split():
                unified = root / own.get("", "/").lstrip("/") / name
                unified.mkdir()
                group = Cgroup([unified], unified)
                (unified / "memory.max").write_text(str(memory))
                (unified / "memory.swap.max").write_text("0")
                (unified / "pids.max").write_text(str(pids))
                return group
        except OSError as exc:
            raise SandboxUnavailable(
                f"cannot create a cgroup for the submission's memory and process caps ({exc}); "
                "the grader needs root (cgroup v1 memory+pids, or v2) for the sandbox, or pass "
                "--no-sandbox") from None
        raise SandboxUnavailable("no cgroup memory and pids controllers on this machine; pass "
                                 "--no-sandbox to grade without the sandbox")

    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def oom_count(self) -> int:
        """How often processes here were killed for memory, or hit the memory-and-swap cap."""
        count = 0
        try:
            for name in ("memory.oom_control", "memory.events"):
                path = self.memory_dir / name
                if path.exists():
                    for line in path.read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and value.strip().isdigit():
                            count += int(value)
            failcnt = self.memory_dir / "memory.memsw.failcnt"
            if failcnt.exists() and failcnt.read_text().strip().isdigit():
                count += int(failcnt.read_text())
        except OSError:
            pass
        return count

    def oom_killed(self) -> bool:
        return self.oom_count() > 0

    def destroy(self) -> None:
        """Kill every process still in the cgroup, then remove it."""
        for _ in range(50):
            pids = set()
            for d in self.dirs:
                try:
                    pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for d in self.dirs:
            try:
                d.rmdir()
            except OSError:
                pass


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per controller ("" for cgroup v2), from /proc/self/cgroup."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            own[c] = path
    return own


def remove_leftover_cgroups(judge_pid: int) -> None:
    """Kill and remove the cgroups a judge process left behind (if it was killed itself)."""
    root = Path("/sys/fs/cgroup")
    for controller, path in _own_cgroups().items():
        if controller in ("memory", "pids", ""):
            base = root / controller / path.lstrip("/")
            for leftover in base.glob(f"autograder-{judge_pid}-*") if base.is_dir() else ():
                Cgroup([leftover], leftover).destroy()


# --- the student process ----------------------------------------------------------------------

@dataclass
class StudentProcess:
    """A running student process: its channel, and how to stop it."""

    proc: subprocess.Popen
    sock: socket.socket
    cgroup: Cgroup | None = None
    sandboxed: bool = True
    closers: list = field(default_factory=list)

    def oom_killed(self) -> bool:
        return bool(self.cgroup and self.cgroup.oom_killed())

    def kill(self) -> None:
        _stop(self.proc, self.cgroup)
        self.sock.close()
        for close in self.closers:
            close()


def _stop(proc: subprocess.Popen | None, cgroup: Cgroup | None) -> None:
    """Kill a sandbox's process group, wait for it, and kill and remove its cgroup."""
    if proc is not None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    if cgroup is not None:
        cgroup.destroy()


def _regular_files(folder: Path) -> tuple[list[tuple[str, int]], list[str]]:
    """Open the regular files directly in ``folder`` (symlinks not followed, hard links to
    files elsewhere refused) for copying: (name, fd) pairs, and notes on what was left out."""
    opened, notes = [], []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return [], []
    for name in names:
        try:
            fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            notes.append(f"{name}: not copied (a link, or not readable)")
            continue
        info = os.fstat(fd)
        reason = None
        if not stat.S_ISREG(info.st_mode):
            reason = "not a regular file"
        elif info.st_nlink > 1:
            reason = "a hard link"
        elif info.st_size > FILE_LIMIT:
            reason = f"larger than {FILE_LIMIT // 2**20} MB"
        elif len(opened) >= FILES_LIMIT:
            reason = f"more than {FILES_LIMIT} files"
        if reason:
            os.close(fd)
            if not stat.S_ISDIR(info.st_mode):
                notes.append(f"{name}: not copied ({reason})")
            continue
        opened.append((name, fd))
    return opened, notes


def _ancestors(path: Path) -> list[str]:
    return [str(p) for p in reversed(path.parents) if str(p) != "/"]


def _package_files(package, names) -> list[Path]:
    folder = Path(package.__file__).resolve().parent
    return [folder / n for n in names if (folder / n).is_file()]


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _bwrap_args(modules: list[str], file_fds: list[tuple[str, int]], root: bool) -> list[str]:
    args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if not root:
        args.append("--unshare-user")
    for top in ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    if Path("/etc/ld.so.cache").is_file():
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    # the private /tmp first: the project or its venv may live under /tmp, and their read-only
    # binds below must land on top of it, not be hidden by it
    args += ["--perms", "1777", "--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
    made: set[str] = {"/tmp"}

    def mkdirs(path: Path):
        for d in _ancestors(path):
            if d not in made:
                made.add(d)
                args.extend(["--perms", "0755", "--dir", d])

    trees = sorted({str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve())})
    for tree in trees:
        mkdirs(Path(tree))
        args += ["--ro-bind", tree, tree]
    course = _package_files(dltips, ["__init__.py"] + [f"{m}.py" for m in modules])
    for package, files in ((dltips, course), (autograder, _package_files(autograder, STUDENT_SIDE))):
        folder = Path(package.__file__).resolve().parent
        mkdirs(folder / "x")
        args += ["--tmpfs", str(folder)]  # hide the rest of the package
        for f in files:
            args += ["--ro-bind", str(f), str(f)]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "0755", "--dir", "/home",
             "--perms", "1777", "--size", str(TMP_SIZE), "--tmpfs", WORKDIR]
    for name, fd in file_fds:
        args += ["--perms", "0644", "--file", str(fd), f"{WORKDIR}/{name}"]
    args += ["--chdir", WORKDIR, "--clearenv"]
    for key, value in _student_env(root).items():
        args += ["--setenv", key, value]
    return args


def _student_env(drop: bool) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": "/tmp", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(autograder.PROJECT)}  # this autograder and dltips (_bwrap_args)
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # machine-specific fixes, see env docs
        if key in os.environ:
            env[key] = os.environ[key]
    if drop:
        env["AUTOGRADER_DROP_PRIVILEGES"] = "1"
    return env


def start(submission_dir: Path | None, modules: list[str], sandboxed: bool = True,
          memory: int = MEMORY_LIMIT) -> tuple[StudentProcess, list[str]]:
    """Start a student process for one submission; return it and notes on files not copied."""
    judge_end, student_end = socket.socketpair()
    file_fds, notes = _regular_files(submission_dir) if submission_dir else ([], [])
    python = [str(Path(sys.executable)), "-s", "-P", "-c", BOOT, str(student_end.fileno())]
    fds = [student_end.fileno()] + [fd for _, fd in file_fds]
    try:
        if sandboxed:
            bwrap = bwrap_path()
            if not bwrap:
                raise SandboxUnavailable("bwrap (Bubblewrap) is not installed: apt-get install "
                                         "bubblewrap, or pass --no-sandbox")
            root = os.geteuid() == 0
            cgroup = Cgroup.create(memory, PIDS_LIMIT)
            procs = cgroup.procs_files()
            script = " && ".join(f'echo $$ > "${i + 1}"' for i in range(len(procs)))
            argv = ["/bin/sh", "-c", f'{script} && shift {len(procs)} && exec "$@"', "sh",
                    *map(str, procs), bwrap, *_bwrap_args(modules, file_fds, root), "--", *python]
            proc = subprocess.Popen(argv, pass_fds=fds, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            child = StudentProcess(proc, judge_end, cgroup, True)
        else:
            child = _start_unsandboxed(python, fds, file_fds, judge_end, memory)
    finally:
        student_end.close()
        for _, fd in file_fds:
            os.close(fd)
    return child, notes


def _start_unsandboxed(python, fds, file_fds, judge_end, memory) -> StudentProcess:
    import tempfile
    workdir = tempfile.mkdtemp(prefix="autograde-student-")
    for name, fd in file_fds:
        with open(os.path.join(workdir, name), "wb") as out:
            os.lseek(fd, 0, os.SEEK_SET)
            while chunk := os.read(fd, 2**20):
                out.write(chunk)
    env = _student_env(False)
    env["AUTOGRADER_MEMORY_LIMIT"] = str(memory)
    env["PATH"] = os.environ.get("PATH", env["PATH"])
    proc = subprocess.Popen(python, pass_fds=fds, cwd=workdir, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    return StudentProcess(proc, judge_end, None, False,
                          [lambda: shutil.rmtree(workdir, ignore_errors=True)])


# --- the warm student side of a grading slot ----------------------------------------------------

class ZygoteBroken(Exception):
    """The zygote did not answer as it should; the slot starts a new one."""


def all_course_modules() -> list[str]:
    """Every module of the course package's core (a zygote serves every exercise)."""
    folder = Path(dltips.__file__).resolve().parent
    return sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")


def warm_available() -> bool:
    """Whether sandboxed student processes can be forked from a zygote here: only as root,
    where each student process runs as ``nobody`` and the zygote, as root, can kill all of them
    between submissions (without root they would share the zygote's own user)."""
    return os.geteuid() == 0 and sys.platform.startswith("linux") and bwrap_path() is not None


class Zygote:
    """One grading slot's sandbox, in which a warm Python forks each submission's student
    process (:func:`autograder.student_process.zygote`). Its cgroup caps the slot, which grades
    one submission at a time. Start it with :meth:`start`; :meth:`spawn` returns a
    :class:`WarmStudent` (and notes on files not copied); :meth:`close` kills the sandbox.
    When memory runs out, the cgroup's out-of-memory killer takes the largest process, normally
    the student's; should it take the zygote, the judge goes on with cold student processes and
    the slot starts a new zygote for the next submission."""

    def __init__(self, memory: int = MEMORY_LIMIT):
        self.memory = memory
        self.proc: subprocess.Popen | None = None
        self.cgroup: Cgroup | None = None
        self.ctl: socket.socket | None = None
        self.owner = os.getpid()  # the slot; judges it forks only talk to the sandbox
        self._ids = itertools.count(1)

    def start(self) -> "Zygote":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.cgroup = Cgroup.create(self.memory, PIDS_LIMIT)
            procs = self.cgroup.procs_files()
            script = " && ".join(f'echo $$ > "${i + 1}"' for i in range(len(procs)))
            python = [str(Path(sys.executable)), "-s", "-P", "-c", ZYGOTE_BOOT,
                      str(theirs.fileno())]
            argv = ["/bin/sh", "-c", f'{script} && shift {len(procs)} && exec "$@"', "sh",
                    *map(str, procs), bwrap_path(), *_bwrap_args(all_course_modules(), [], True),
                    "--", *python]
            self.proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        self.ctl = ours
        self.ctl.settimeout(180)
        try:
            ready = json.loads(self.ctl.recv(2**16) or b"{}")
        except (OSError, ValueError):
            ready = {}
        if ready.get("ready") is not True:
            self.close()
            raise ZygoteBroken("the warm sandbox did not start")
        return self

    def alive(self) -> bool:
        if self.proc is None:
            return False
        if os.getpid() == self.owner:
            return self.proc.poll() is None
        try:  # in a judge forked by the slot: the sandbox is not this process's child
            os.kill(self.proc.pid, 0)
            return True
        except OSError:
            return False

    def request(self, request: dict, fds: list[int] = ()) -> dict:
        """Send a request and return the zygote's reply to it (stale replies are skipped)."""
        if not self.alive():
            raise ZygoteBroken("the warm sandbox is not running")
        request = {**request, "id": next(self._ids)}
        deadline = time.monotonic() + ZYGOTE_TIMEOUT
        try:
            socket.send_fds(self.ctl, [json.dumps(request).encode()], list(fds))
            while True:
                self.ctl.settimeout(max(0.01, deadline - time.monotonic()))
                data = self.ctl.recv(2**16)
                if not data:
                    raise ZygoteBroken("the warm sandbox closed its channel")
                reply = json.loads(data)
                if reply.get("id") == request["id"]:
                    break
        except (OSError, ValueError) as exc:
            raise ZygoteBroken(f"the warm sandbox did not answer ({exc})") from None
        if reply.get("ok") is not True:
            raise ZygoteBroken(f"the warm sandbox failed: {reply.get('error', 'no reason')}")
        return reply

    def spawn(self, submission_dir: Path | None) -> tuple["WarmStudent", list[str]]:
        """Fork a fresh student process holding copies of the submission folder's files."""
        judge_end, student_end = socket.socketpair()
        file_fds, notes = _regular_files(submission_dir) if submission_dir else ([], [])
        before = self.cgroup.oom_count()
        try:
            self.request({"op": "spawn", "files": [name for name, _ in file_fds]},
                         [student_end.fileno()] + [fd for _, fd in file_fds])
        except ZygoteBroken:
            judge_end.close()
            raise
        finally:
            student_end.close()
            for _, fd in file_fds:
                os.close(fd)
        return WarmStudent(self, judge_end, before), notes

    def cleanup(self) -> None:
        """Kill every student process and empty the scratch folders."""
        self.request({"op": "cleanup"})

    def close(self) -> None:
        if self.proc is not None and os.getpid() != self.owner:
            self.proc = None  # a judge gives up on it; the slot replaces it
            return
        _stop(self.proc, self.cgroup)
        if self.ctl is not None:
            self.ctl.close()


@dataclass
class WarmStudent:
    """A student process forked by a :class:`Zygote` (the judge's view, as StudentProcess)."""

    zygote: Zygote
    sock: socket.socket
    oom_before: int
    sandboxed: bool = True

    def oom_killed(self) -> bool:
        return self.zygote.cgroup.oom_count() > self.oom_before

    def kill(self) -> None:
        self.sock.close()
        try:
            self.zygote.cleanup()
        except ZygoteBroken:
            self.zygote.close()  # the slot starts a new one before the next submission


def check_available() -> None:
    """Raise SandboxUnavailable with a clear message unless a sandbox can be started here."""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"the sandbox needs Linux (this is {sys.platform}); pass "
                                 "--no-sandbox to grade without it")
    if not bwrap_path():
        raise SandboxUnavailable("bwrap (Bubblewrap) is not installed: apt-get install "
                                 "bubblewrap, or pass --no-sandbox")
    Cgroup.create(2**20 * 64, 8).destroy()
    probe = subprocess.run(["bwrap", *_bwrap_args([], [], os.geteuid() == 0), "--",
                            sys.executable, "-s", "-P", "-c", "import numpy, torch"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        raise SandboxUnavailable("bwrap cannot start a sandbox here: "
                                 f"{(probe.stderr.strip() or 'no message')[-500:]}; "
                                 "pass --no-sandbox to grade without it")
