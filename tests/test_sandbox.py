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


@pytest.fixture
def student(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "data.txt").write_text("mine")
    (folder / "link.txt").symlink_to(ROOT / "README.md")
    started = []

    def start():
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
                   Path(sandbox.dltips.__file__).parent / "training.py",
                   Path(sandbox.autograder.__file__).parent / "judge.py", Path("/etc/shadow"),
                   Path("/etc/passwd")):
        assert ask(session, f"__import__('os').path.exists({str(hidden)!r})") is False, hidden
    assert ask(session, "__import__('dltips.checks').checks.__name__") == "dltips.checks"
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
    assert len(pids) <= 3 and max(pids) < 10
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
    group = sandbox.Cgroup.create(2**26, 8)
    assert all(d.is_dir() for d in group.dirs)
    sandbox.remove_leftover_cgroups(os.getpid())
    assert not any(d.exists() for d in group.dirs)
