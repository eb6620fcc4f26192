"""Grading on a Dask cluster (``grade --cluster ADDRESS``): the same verdicts as grading on this
machine, and no grade lost or doubled when a worker dies mid-run."""
import json
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

from autograder.grade import grade_all
from grading import ROOT, fill, sandbox_problem
from test_ch02_grading import ASSIGNMENT as CH02, CORRECT as CH02_CORRECT, WRONG as CH02_WRONG
from test_pipeline import A, EXPECTED, SAMPLES, grade, read_csv

CH02_WRONG_NAME = sorted(CH02_WRONG)[0]
SLEEP_CELL = "import time\ntime.sleep(6)\n"  # added after the last solution cell: scores nothing


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes (one thread each), each under a nanny that restarts it if killed."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 3}):  # Dask's default
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as local:
            with Client(local, set_as_default=False) as client:
                yield local, client


def write_notebook(path: Path, notebook: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook), encoding="utf-8")


def released(assignment: str) -> dict:
    (path,) = sorted((ROOT / "exercises" / assignment).glob("*.ipynb"))
    return json.loads(path.read_text(encoding="utf-8"))


def slow_copy_of_alice(subs: Path, student: str) -> None:
    """alice_correct's notebook with an added cell that sleeps: full marks, slowly."""
    notebook = json.loads((SAMPLES / "alice_correct" / A / f"{A}.ipynb").read_text())
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": SLEEP_CELL,
                              "outputs": [], "execution_count": None})
    write_notebook(subs / student / A / f"{A}.ipynb", notebook)


def cells(out: Path) -> dict[tuple[str, str], dict]:
    rows = read_csv(out / "cells.csv")
    keys = [(r["student_id"], r["grade_id"]) for r in rows]
    assert len(keys) == len(set(keys)), "a tests cell was recorded twice"
    return dict(zip(keys, rows))


def test_cluster_and_local_paths_give_identical_verdicts(cluster, tmp_path):
    local_cluster, _ = cluster
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES, subs, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    cell, source, test_id = CH02_WRONG[CH02_WRONG_NAME]
    for student, solutions in (("ch02_correct", CH02_CORRECT),
                               ("ch02_wrong", {**CH02_CORRECT, cell: source})):
        notebook = fill(released(CH02), solutions)
        write_notebook(subs / student / CH02 / f"{CH02}.ipynb", notebook)
    # a file the sandbox copies and a link it refuses: the worker must write the same notes
    (subs / "alice_correct" / A / "data.csv").write_text("x,y\n1,2\n")
    (subs / "alice_correct" / A / "elsewhere").symlink_to("/etc/hostname")

    local = grade(subs, tmp_path / "local")
    assert local.returncode == 0, local.stdout + local.stderr
    remote = grade(subs, tmp_path / "cluster", "--cluster", local_cluster.scheduler_address)
    assert remote.returncode == 0, remote.stdout + remote.stderr

    for name in ("cells.csv", "grades.csv", "grader-errors.csv"):
        assert read_csv(tmp_path / "cluster" / name) == read_csv(tmp_path / "local" / name), name
    pages = sorted(p.relative_to(tmp_path / "local")
                   for p in (tmp_path / "local" / "feedback").rglob("*.html"))
    assert len(pages) == len(EXPECTED) + 2
    for page in pages:  # the notes too (the copied and the refused file among them)
        assert (tmp_path / "cluster" / page).read_text() == (tmp_path / "local" / page).read_text()
    assert "file elsewhere: not copied" in \
        (tmp_path / "cluster" / "feedback" / "alice_correct" / f"{A}.html").read_text()

    got = cells(tmp_path / "cluster")
    for student, statuses in EXPECTED.items():
        assert {g: got[(student, g)]["status"] for g in statuses} == statuses, student
    correct = {g: r["score"] == r["max_score"] for (s, g), r in got.items() if s == "ch02_correct"}
    assert correct and all(correct.values()), correct
    assert float(got[("ch02_wrong", test_id)]["score"]) < float(got[("ch02_wrong", test_id)]
                                                              ["max_score"])


def executing(client: Client) -> dict[str, list[str]]:
    """The keys each worker is running now (not merely holding in its queue)."""
    def running(dask_worker):
        return [str(ts.key) for ts in dask_worker.state.executing]
    answers = client.run(running, on_error="ignore")
    return {address: keys for address, keys in answers.items() if keys}


def kill_worker_running(client: Client, student: str, grading: threading.Thread,
                        after: float = 2.0) -> str:
    """Wait until a worker runs ``student``'s grading task; SIGKILL that worker process
    ``after`` seconds later (its nanny starts a new one). Returns the key."""
    while grading.is_alive():
        for address, keys in executing(client).items():
            mine = [k for k in keys if k.startswith(f"grade-{student}/")]
            if mine:
                time.sleep(after)
                pid = client.run(os.getpid, workers=[address])[address]
                os.kill(pid, signal.SIGKILL)
                return mine[0]
        time.sleep(0.2)
    raise AssertionError(f"the run ended before {student}'s submission ran on a worker")


def grade_in_background(subs: Path, out: Path, address: str):
    lines, outcome = [], {}

    def run():
        try:
            outcome["status"] = grade_all(subs, out, None, ROOT / "solutions", timeout=30,
                                          log=lines.append, sandboxed=sandbox_problem() is None,
                                          cluster=address)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, lines, outcome


def test_a_worker_killed_mid_run_loses_no_grade(cluster, tmp_path):
    local_cluster, client = cluster
    subs = tmp_path / "subs"
    slow_copy_of_alice(subs, "sam_slow")
    shutil.copytree(SAMPLES / "erin_broken_json", subs / "erin_broken_json")
    (subs / "yann" / A).mkdir(parents=True)  # nothing submitted: graded without a worker
    out = tmp_path / "out"
    thread, lines, outcome = grade_in_background(subs, out, local_cluster.scheduler_address)
    try:
        kill_worker_running(client, "sam_slow", thread)
    except AssertionError as exc:
        thread.join()
        raise AssertionError((exc, outcome, lines)) from None
    finally:
        thread.join(timeout=900)
    assert not thread.is_alive()
    assert outcome == {"status": 0}, (outcome, lines)

    got = cells(out)
    assert {s for s, _ in got} == {"sam_slow", "erin_broken_json", "yann"}
    statuses = {s: {r["status"] for (t, _), r in got.items() if t == s} for s in
                ("sam_slow", "erin_broken_json", "yann")}
    assert statuses == {"sam_slow": {"passed"}, "erin_broken_json": {"unreadable"},
                        "yann": {"missing"}}
    assert [r["score"] for r in read_csv(out / "grades.csv") if r["student_id"] == "sam_slow"] \
        == ["7"]
    assert read_csv(out / "grader-errors.csv") == []
    graded = [line for line in lines if f"/{A}/" in line and line.startswith("[")]
    assert len(graded) == 3, lines  # each submission reported once


def test_a_submission_whose_workers_keep_dying_is_a_grader_error(cluster, tmp_path):
    local_cluster, client = cluster
    scheduler = local_cluster.scheduler  # in this process: lower its limit for this test only
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0
    try:
        subs = tmp_path / "subs"
        slow_copy_of_alice(subs, "sam_slow")
        (subs / "yann" / A).mkdir(parents=True)
        out = tmp_path / "out"
        thread, lines, outcome = grade_in_background(subs, out, local_cluster.scheduler_address)
        try:
            kill_worker_running(client, "sam_slow", thread, after=0.5)
        except AssertionError as exc:
            thread.join()
            raise AssertionError((exc, outcome, lines)) from None
        finally:
            thread.join(timeout=900)
    finally:
        scheduler.allowed_failures = allowed
    assert outcome == {"status": 2}, (outcome, lines)  # a grader error, not a crash of the run
    got = cells(out)
    assert {r["status"] for (s, _), r in got.items() if s == "sam_slow"} == {"grader-error"}
    assert {r["status"] for (s, _), r in got.items() if s == "yann"} == {"missing"}
    (failure,) = read_csv(out / "grader-errors.csv")
    assert failure["student_id"] == "sam_slow" and "Dask workers died" in failure["message"]


def test_no_scheduler_at_the_address_is_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES / "erin_broken_json", subs / "erin_broken_json")
    done = grade(subs, tmp_path / "out", "--cluster", address)
    assert done.returncode not in (0, 2)
    assert f"cannot connect to a Dask scheduler at {address}" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr
