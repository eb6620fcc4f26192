"""A shared gradebook in PostgreSQL (README, instructor section): ``--db postgresql://...``.

A real PostgreSQL server (Debian's ``postgresql``) is started for this module in a private
temporary folder, listening only on a unix socket there, as the unprivileged user ``nobody``
when the tests run as root (PostgreSQL refuses root), and stopped at the end. Without the server
binaries the tests skip and say what to install; in CI (CI=true) that fails the run.
"""
from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from grading import ROOT, sandbox_problem
from test_pipeline import EXPECTED as PIPELINE_EXPECTED

SAMPLES = ROOT / "autograder" / "samples"
A = "ch01_diagnosis"
POINTS = dict(test_accuracy=1, test_train_one_epoch=3, test_evaluate=2, test_diagnose=1)
# the verdicts tests/test_pipeline.py expects of the samples graded here
EXPECTED = {student: PIPELINE_EXPECTED[student]
            for student in ("alice_correct", "bob_partly_wrong", "erin_broken_json")}
INSTALL = "apt-get install postgresql"


def postgres_bindir() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl, postgres), if installed."""
    candidates = []
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if done.returncode == 0:
            candidates.append(Path(done.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=lambda p: int(Path(p).parent.name)
                                           if Path(p).parent.name.isdigit() else 0, reverse=True)]
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


BINDIR = postgres_bindir()
PROBLEM = None if BINDIR else ("no PostgreSQL server (initdb, pg_ctl, postgres) found by "
                               f"pg_config --bindir or in /usr/lib/postgresql/*/bin (install it "
                               f"with: {INSTALL}; as root)")
needs_postgres = pytest.mark.skipif(PROBLEM is not None, reason=str(PROBLEM))


def test_postgresql_is_available_in_ci():
    if os.environ.get("CI") and PROBLEM is not None:
        pytest.fail(f"CI must test the PostgreSQL gradebook, but: {PROBLEM}")


class Server:
    """A private PostgreSQL server: data folder and unix socket in one temporary folder."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        # short (a unix socket's path is limited to ~100 bytes), and its own: nobody else's
        # server or client can reach this socket folder
        self.folder = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.folder / "data"
        with socket.socket() as s:  # a free port: it only names the socket file here
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.as_user = {}
        if os.geteuid() == 0:  # postgres will not run as root
            nobody = pwd.getpwnam("nobody")
            os.chown(self.folder, nobody.pw_uid, nobody.pw_gid)
            self.as_user = dict(user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True,
                              text=True, cwd=self.folder, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}, **self.as_user)

    def start(self) -> None:
        done = self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync")
        assert done.returncode == 0, done.stdout + done.stderr
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"listen_addresses = ''\nunix_socket_directories = '{self.folder}'\n"
                       f"port = {self.port}\nfsync = off\nmax_connections = 50\n")
        done = self.run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                        "-w", "-t", "60", "start")
        assert done.returncode == 0, done.stdout + done.stderr + self.log()

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                done = self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30",
                                "stop")
                if done.returncode != 0 and (self.data / "postmaster.pid").exists():
                    pid = int((self.data / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)  # the server's own process, started above
                    time.sleep(1)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.folder}&port={self.port}"

    def create_database(self, name: str) -> str:
        import psycopg2
        conn = psycopg2.connect(host=str(self.folder), port=self.port, user="postgres",
                                dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)


@pytest.fixture(scope="module")
def server():
    if PROBLEM is not None:
        pytest.skip(PROBLEM)
    pg = Server(BINDIR)
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


# None of these samples runs out of time when graded alone; a long timeout keeps a busy machine
# (two runs at once) from turning a slow cell into a timeout
def grade_command(submissions: Path, out: Path, *extra: str) -> list[str]:
    sandbox = [] if sandbox_problem() is None else ["--no-sandbox"]
    return [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
            "--timeout", "120", "--jobs", "2", *sandbox, *extra]


def grade(submissions: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(grade_command(submissions, out, *extra), capture_output=True,
                          text=True, cwd=ROOT)


def explicit(url: str) -> str:
    """The URL for nbgrader's own tools: SQLAlchemy 2.1 reads a bare ``postgresql://`` as the
    psycopg 3 driver, and this project installs psycopg2 (the autograder picks it itself)."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def copy_samples(folder: Path, *students: str) -> Path:
    for student in students:
        shutil.copytree(SAMPLES / student, folder / student)
    return folder


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def expected_score(student: str) -> float:
    return float(sum(POINTS[g] for g, s in EXPECTED[student].items() if s == "passed"))


@needs_postgres
def test_grading_into_postgresql_gives_the_same_grades_as_sqlite(server, tmp_path):
    subs = copy_samples(tmp_path / "subs", "alice_correct", "bob_partly_wrong",
                        "erin_broken_json")
    lite, pg = tmp_path / "sqlite", tmp_path / "pg"
    url = server.create_database("same_grades")
    runs = [subprocess.Popen(grade_command(subs, out, *extra), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=ROOT)
            for out, extra in ((lite, ()), (pg, ("--db", url)))]  # side by side, to save time
    for run in runs:
        output = run.communicate(timeout=900)[0]
        assert run.returncode == 0, output
    assert not (pg / "gradebook.db").exists(), "the grades went to SQLite, not PostgreSQL"
    for name in ("cells.csv", "grades.csv", "grader-errors.csv"):
        assert (pg / name).read_text() == (lite / name).read_text(), name
    for row in read_csv(pg / "cells.csv"):
        assert row["status"] == EXPECTED[row["student_id"]][row["grade_id"]], row
    for student in ("alice_correct", "bob_partly_wrong"):
        page = f"feedback/{student}/{A}.html"
        assert (pg / page).read_text() == (lite / page).read_text(), page
    # the recorded digests are read back: a rerun grades nothing again
    again = grade(subs, pg, "--db", url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("unchanged since it was graded") == 3, again.stdout
    assert (pg / "cells.csv").read_text() == (lite / "cells.csv").read_text()


GRADED = ("alice_correct", "bob_partly_wrong", "erin_broken_json")  # by the two runs below


@pytest.fixture(scope="module")
def concurrent(server, tmp_path_factory):
    """Two grading runs started at once into one new PostgreSQL gradebook; bob is in both."""
    tmp = tmp_path_factory.mktemp("concurrent")
    url = server.create_database("concurrent")
    first = copy_samples(tmp / "first", "alice_correct", "bob_partly_wrong")
    second = copy_samples(tmp / "second", "bob_partly_wrong", "erin_broken_json")
    runs = [subprocess.Popen(grade_command(subs, tmp / f"out-{subs.name}", "--db", url),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             cwd=ROOT) for subs in (first, second)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output + server.log()[-3000:]
    return url, tmp


@needs_postgres
def test_two_runs_at_once_lose_nothing(concurrent):
    from nbgrader.api import Gradebook, SubmittedAssignment

    from autograder.gradebook import Store, scripts_on_path
    url, _ = concurrent
    store = Store(url)
    try:
        rows = store.cell_rows()
    finally:
        store.close()
    got = {}
    for row in rows:
        key = (row["student_id"], row["grade_id"])
        assert key not in got, f"recorded twice: {key}"
        got[key] = row
    assert {s for s, _ in got} == set(GRADED)
    for student in GRADED:
        cells = EXPECTED[student]
        for grade_id, status in cells.items():
            row = got[(student, grade_id)]
            assert row["status"] == status, row
            assert row["score"] == (POINTS[grade_id] if status == "passed" else 0), row
    scripts_on_path(os.environ)
    with Gradebook(explicit(url)) as gb:  # nbgrader's own view of the same database
        assert sorted(s.id for s in gb.students) == sorted(GRADED)
        assert A in [a.name for a in gb.assignments]  # with every other assignment of solutions/
        assert gb.db.query(SubmittedAssignment).count() == len(GRADED)  # bob's once
        for student in GRADED:
            assert gb.find_submission(A, student).score == expected_score(student), student


@needs_postgres
def test_nbgrader_export_reads_the_grades(concurrent):
    url, tmp = concurrent
    target = tmp / "nbgrader-grades.csv"
    from autograder.gradebook import scripts_on_path
    done = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--db", explicit(url),
                           "--to", str(target)], capture_output=True, text=True, cwd=tmp,
                          env=scripts_on_path(dict(os.environ)))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [r for r in read_csv(target) if r["assignment"] == A]  # one row per assignment
    assert sorted(r["student_id"] for r in rows) == sorted(GRADED)
    for row in rows:
        assert float(row["score"]) == expected_score(row["student_id"]), row
        assert float(row["max_score"]) == 7.0, row


# Each writer records every student of its range twice (a regrade), with its own scores, after
# waiting for the other to be ready: both create the schema, register the assignment, add the
# same students and write the same submissions at the same moment.
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from autograder.gradebook import Store
    from autograder.notebooks import read_source
    url, me, first, last, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \\
        Path(sys.argv[5])
    source = read_source(Path("solutions/ch01_diagnosis/ch01_diagnosis.ipynb"))
    (go.parent / f"ready-{me}").touch()
    while not go.exists():
        time.sleep(0.01)
    store = Store(url)
    store.register(source)
    for attempt in range(2):
        for n in range(first, last):
            verdicts = {c.grade_id: (c.points if me == 1 else 0.0, "passed" if me == 1 else
                                     "failed", f"writer {me}\\x00{attempt}")
                        for c in source.tests}
            store.record(f"s{n:02d}", source, verdicts, f"digest-{me}", [f"note {me}"])
    store.record_failure(f"s{first:02d}" if me == 1 else f"s{last - 1:02d}", source,
                         f"failure {me}")
    store.close()
""")


@needs_postgres
def test_concurrent_writers_keep_every_submission_whole(server, tmp_path):
    """Store level, without grading, so that the writes really collide: the schema is created,
    and students and submissions added, by two processes at once."""
    from nbgrader.api import Gradebook, SubmittedAssignment

    from autograder.gradebook import Store, scripts_on_path
    from autograder.notebooks import read_source
    url = server.create_database("writers")
    go = tmp_path / "go"
    ranges = {1: (0, 14), 2: (8, 22)}  # s08..s13 are written by both
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(me), str(a), str(b),
                                 str(go)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=ROOT) for me, (a, b) in ranges.items()]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{me}").exists() for me in ranges):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers), \
            [w.communicate()[0] for w in writers]
        time.sleep(0.05)
    go.touch()
    outputs = [w.communicate(timeout=300)[0] for w in writers]
    for writer, output in zip(writers, outputs):
        assert writer.returncode == 0, output
    tests = [c.grade_id for c in read_source(ROOT / "solutions" / A / f"{A}.ipynb").tests]
    store = Store(url)
    try:
        rows = store.cell_rows()
        failures = store.failure_rows()
    finally:
        store.close()
    by_student: dict[str, list[dict]] = {}
    for row in rows:
        by_student.setdefault(row["student_id"], []).append(row)
    assert sorted(by_student) == [f"s{n:02d}" for n in range(22)]
    scripts_on_path(os.environ)
    with Gradebook(explicit(url)) as gb:
        assert gb.db.query(SubmittedAssignment).count() == 22
        for student, cells in by_student.items():
            assert [c["grade_id"] for c in cells] == tests, student  # each cell exactly once
            digests = {c["digest"] for c in cells}
            assert len(digests) == 1, f"{student} mixes two writers' grades: {cells}"
            me = int(digests.pop().removeprefix("digest-"))
            n = int(student[1:])
            assert me in {w for w, (a, b) in ranges.items() if a <= n < b}, student
            assert [c["score"] for c in cells] == [POINTS[t] if me == 1 else 0 for t in tests]
            # PostgreSQL refuses NUL characters in text; the message keeps the rest
            assert {c["message"] for c in cells} == {f"writer {me}\ufffd1"}
            # nbgrader's scores agree with the verdicts
            assert gb.find_submission(A, student).score == (7 if me == 1 else 0), student
    assert [(f["student_id"], f["message"]) for f in failures] == [
        ("s00", "failure 1"), ("s21", "failure 2")]
