"""What the sandbox promises (README, "How student code is kept out of the verdict"), checked
from inside a real student process. Without Bubblewrap and cgroups these tests skip with the
reason; in CI (CI=true) the sandbox must be there, and the first test fails if it is not."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder import remote, sandbox
from autograder.student_process import NOBODY
from grading import ROOT, sandbox_problem

needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None,
                                   reason=f"no sandbox here: {sandbox_problem()} (install it "
                                   "with: apt-get install bubblewrap; as root)")


def test_the_sandbox_is_available_in_ci():
    if os.environ.get("CI") and sandbox_problem() is not None:
        pytest.fail(f"CI must grade in the sandbox, but: {sandbox_problem()}")


needs_warm = pytest.mark.skipif(sandbox_problem() is not None or not sandbox.warm_available(),
                                reason="warm sandboxes need the sandbox and root")


@pytest.fixture(scope="module")
def zygote():
    if sandbox_problem() is not None or not sandbox.warm_available():
        pytest.skip("warm sandboxes need the sandbox and root")
    warm = sandbox.Zygote().start()
    yield warm
    warm.close()


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "data.txt").write_text("mine")
    (folder / "link.txt").symlink_to(ROOT / "README.md")
    return folder


@pytest.fixture(params=["cold", "warm"])
def student(request, tmp_path):
    """A student process started cold (its own sandbox) or forked by a slot's warm sandbox:
    every promise below holds for both."""
    folder = _folder(tmp_path)
    started = []
    warm = request.getfixturevalue("zygote") if request.param == "warm" else None

    def start():
        if warm is not None:
            child, notes = warm.spawn(folder)
        else:
            child, notes = sandbox.start(folder, ["checks"], sandboxed=True)
        started.append(notes)
        return child

    session = remote.Session(start, timeout=60)
    session.start()
    session.run_cell("import numpy as np\nfrom dltips.checks import assert_close\n", "<setup>")
    yield session, started
    session.kill()


def ask(session: remote.Session, expression: str):
    session.run_cell(f"def _probe():\n    return {expression}\n", "<probe>")
    return session.call({"name": "_probe"}, (), {})


@needs_sandbox
def test_student_code_runs_as_nobody_without_capabilities(student):
    session, _ = student
    uid = ask(session, "__import__('os').getuid()")
    assert uid == (NOBODY if os.getuid() == 0 else os.getuid())
    status = ask(session, "open('/proc/self/status').read()")
    assert "CapEff:\t0000000000000000" in status
    with pytest.raises(remote.StudentError):
        ask(session, "__import__('os').setuid(0)")


@needs_sandbox
def test_it_sees_only_its_own_files_and_the_modules_it_needs(student):
    session, started = student
    assert ask(session, "sorted(__import__('os').listdir('.'))") == ["data.txt"]
    assert any("link.txt" in n for n in started[0])
    for hidden in (ROOT / "solutions", ROOT / "autograder" / "samples", ROOT / "tests",
                   Path(sandbox.autograder.__file__).parent / "judge.py",
                   Path(sandbox.autograder.__file__).parent / "references.py", Path("/etc/shadow"),
                   Path("/etc/passwd")):
        assert ask(session, f"__import__('os').path.exists({str(hidden)!r})") is False, hidden
    assert ask(session, "__import__('dltips.checks').checks.__name__") == "dltips.checks"
    chapters = Path(sandbox.dltips.__file__).parent / "chapters"
    assert ask(session, f"__import__('os').path.exists({str(chapters)!r})") is False
    if isinstance(session.child, sandbox.StudentProcess):  # a warm sandbox binds the whole core
        with pytest.raises(remote.StudentError, match="ModuleNotFoundError|No module"):
            ask(session, "__import__('dltips.training')")


@needs_sandbox
def test_the_project_and_venv_are_read_only(student):
    session, _ = student
    for path in (Path(sandbox.dltips.__file__).parent / "checks.py", Path(os.__file__)):
        with pytest.raises(remote.StudentError, match="Read-only|Permission"):
            ask(session, f"open({str(path)!r}, 'a')")


@needs_sandbox
def test_no_network_own_pid_namespace_and_clean_environment(student):
    session, _ = student
    with pytest.raises(remote.StudentError, match="unreachable|Network|Errno"):
        ask(session, "__import__('socket').create_connection(('127.0.0.1', 22), timeout=2)")
    pids = ask(session, "sorted(int(p) for p in __import__('os').listdir('/proc') if p.isdigit())")
    assert len(pids) <= 3  # the sandbox's init, (a warm sandbox's zygote,) this process
    env = ask(session, "dict(__import__('os').environ)")
    assert "HOME" in env and not any(k.startswith(("CI", "JUPYTER", "VIRTUAL")) for k in env)


@needs_sandbox
def test_tmp_and_the_working_folder_are_size_capped(student):
    session, _ = student
    with pytest.raises(remote.StudentError, match="No space"):
        ask(session, "open('/tmp/big', 'wb').write(b'x' * (300 * 2**20))")


@needs_sandbox
def test_memory_and_process_caps_hold_for_the_whole_submission(student):
    session, _ = student
    session.run_cell("import os, time\n"
                     "def forks():\n"
                     "    n = 0\n"
                     "    try:\n"
                     "        for _ in range(1000):\n"
                     "            if os.fork() == 0:\n"
                     "                time.sleep(20); os._exit(0)\n"
                     "            n += 1\n"
                     "    except OSError:\n"
                     "        pass\n"
                     "    return n\n", "<forks>")
    assert session.call({"name": "forks"}, (), {}) < sandbox.PIDS_LIMIT
    with pytest.raises(remote.StudentCrashed, match="memory|died"):
        ask(session, "len(bytearray(6 * 2**30))")


@needs_sandbox
def test_cgroups_a_killed_judge_left_behind_are_removed():
    """Only the dead judge's cgroups go: this process's own (a slot's warm sandbox, say) stay.
    (The judge is a forked child that creates a cgroup and dies without removing it.)"""
    ours = sandbox.Cgroup.create(2**26, 8)
    reader, writer = os.pipe()
    judge = os.fork()
    if judge == 0:
        try:
            os.write(writer, "\n".join(map(str, sandbox.Cgroup.create(2**26, 8).dirs)).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as f:
        left = [Path(d) for d in f.read().split()]
    os.waitpid(judge, 0)
    try:
        assert left and all(d.is_dir() for d in left)
        sandbox.remove_leftover_cgroups(judge)
        assert not any(d.exists() for d in left)
        assert all(d.is_dir() for d in ours.dirs), "another process's cgroups were removed"
    finally:
        ours.destroy()


@needs_warm
def test_a_warm_sandbox_leaves_nothing_of_one_submission_to_the_next(zygote, tmp_path):
    """The next student process forked by the same warm sandbox finds no file, process or
    memory pressure of the previous one, even after the previous one ran out of memory."""
    first = remote.Session(lambda: zygote.spawn(_folder(tmp_path))[0], timeout=300)
    first.start()
    first.run_cell("import os, subprocess, time\n"
                   "open('/tmp/planted', 'w').write('x')\n"
                   "open('/home/student/planted', 'w').write('x')\n"
                   "child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
                   "if os.fork() == 0:\n"
                   "    os.setsid(); time.sleep(300); os._exit(0)\n"
                   "import ctypes\n"  # System V IPC outlives its process: answers for the next
                   "libc = ctypes.CDLL(None)\n"
                   "segment = libc.shmget(4242, 4096, 0o1666)\n"
                   "queue = libc.msgget(4243, 0o1666)\n"
                   "assert segment >= 0 and queue >= 0\n", "<plant>")
    with pytest.raises(remote.StudentCrashed, match="memory|died"):
        ask(first, "len(bytearray(6 * 2**30))")
    first.kill()
    assert zygote.alive(), "running out of memory must kill the student process, not the zygote"
    (tmp_path / "next").mkdir()
    second = remote.Session(lambda: zygote.spawn(tmp_path / "next")[0], timeout=60)
    second.start()
    try:
        assert ask(second, "sorted(__import__('os').listdir('.'))") == []
        # a project under /tmp (a CI clone) is mounted at its path: its top folder is there
        mounted = [ROOT.relative_to("/tmp").parts[0]] if ROOT.is_relative_to("/tmp") else []
        assert ask(second, "sorted(__import__('os').listdir('/tmp'))") == mounted
        for kind in ("shm", "msg", "sem"):
            assert ask(second, f"open('/proc/sysvipc/{kind}').read().splitlines()[1:]") == [], \
                f"a System V {kind} object of the previous submission is still there"
        me = ask(second, "__import__('os').getpid()")
        others = ask(second, "[p for p in __import__('os').listdir('/proc') if p.isdigit() and "
                             "open(f'/proc/{p}/status').read().count('65534') ]")
        assert [int(p) for p in others] == [me]
        assert second.child.oom_killed() is False
    finally:
        second.kill()


@needs_warm
def test_grading_forks_student_processes_from_the_warm_sandbox():
    """Two submissions graded one after the other on one slot: both student processes come from
    the slot's zygote (none starts cold), and both get the verdicts they earn."""
    from autograder import runner
    from autograder.notebooks import read_source
    source = read_source(ROOT / "solutions" / "ch01_diagnosis" / "ch01_diagnosis.ipynb")
    samples = ROOT / "autograder" / "samples"
    runner.close_slots()
    try:
        reports = [runner.run_judge(source, samples / name / "ch01_diagnosis" /
                                    "ch01_diagnosis.ipynb", 120, True)
                   for name in ("alice_correct", "bob_partly_wrong")]
        assert len(runner._idle) == 1, "the slot should be kept for the next submission"
    finally:
        runner.close_slots()
    for report in reports:
        assert report.starts == [True], report.starts
    assert {s for s, _ in reports[0].verdicts.values()} == {"passed"}
    assert "failed" in {s for s, _ in reports[1].verdicts.values()}
