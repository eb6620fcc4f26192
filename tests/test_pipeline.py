"""The instructor's path end to end: grade the sample submissions, rerun, keep what is recorded."""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.gradebook import scripts_on_path
from grading import sandbox_problem

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "autograder" / "samples"
A = "ch01_diagnosis"

# student -> {tests cell: status}; every sample shows one thing the grader must survive
EXPECTED = {
    "alice_correct": dict(test_accuracy="passed", test_train_one_epoch="passed",
                          test_evaluate="passed", test_diagnose="passed"),
    "bob_partly_wrong": dict(test_accuracy="failed", test_train_one_epoch="passed",
                             test_evaluate="passed", test_diagnose="failed"),
    "carol_blank": dict(test_accuracy="error", test_train_one_epoch="error",
                        test_evaluate="error", test_diagnose="error"),
    "dave_runaway": dict(test_accuracy="passed", test_train_one_epoch="timeout",
                         test_evaluate="crashed", test_diagnose="error"),
    "erin_broken_json": dict(test_accuracy="unreadable", test_train_one_epoch="unreadable",
                             test_evaluate="unreadable", test_diagnose="unreadable"),
    "frank_edited_tests": dict(test_accuracy="failed", test_train_one_epoch="passed",
                               test_evaluate="passed", test_diagnose="deleted"),
    # patches numpy, torch, math, builtins and the check helpers in its own process (which breaks
    # that process: the accuracy cell dies), and returns objects whose == always says yes
    "mallory_hostile": dict(test_accuracy="error", test_train_one_epoch="passed",
                            test_evaluate="passed", test_diagnose="failed"),
}
POINTS = dict(test_accuracy=1, test_train_one_epoch=3, test_evaluate=2, test_diagnose=1)


def grade(submissions: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    sandbox = [] if sandbox_problem() is None else ["--no-sandbox"]
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions),
                           "--out", str(out), "--timeout", "30", "--jobs", "2", *sandbox, *extra],
                          capture_output=True, text=True, cwd=ROOT)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("grades")
    done = grade(SAMPLES, out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done


def test_samples_are_generated_from_the_current_exercise(tmp_path):
    subprocess.run([sys.executable, str(SAMPLES / "make_samples.py"), str(tmp_path)], check=True,
                   cwd=ROOT)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.ipynb"))
    assert fresh == sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*.ipynb"))
    for path in fresh:
        assert (tmp_path / path).read_bytes() == (SAMPLES / path).read_bytes(), \
            f"{path} is stale: run python autograder/samples/make_samples.py"


def test_cells_csv_has_a_status_and_score_for_every_tests_cell(graded):
    out, _ = graded
    rows = read_csv(out / "cells.csv")
    assert list(rows[0]) == ["student_id", "assignment", "notebook", "grade_id", "score",
                             "max_score", "status", "sandboxed"]
    assert {r["sandboxed"] for r in rows} == {"yes" if sandbox_problem() is None else "no"}
    alice = [r["grade_id"] for r in rows if r["student_id"] == "alice_correct"]
    assert alice == list(POINTS), "cells should be listed in notebook order"
    got = {(r["student_id"], r["grade_id"]): r for r in rows}
    for student, cells in EXPECTED.items():
        for grade_id, status in cells.items():
            row = got[(student, grade_id)]
            assert row["status"] == status, f"{student}/{grade_id}: {row}"
            assert float(row["max_score"]) == POINTS[grade_id]
            assert float(row["score"]) == (POINTS[grade_id] if status == "passed" else 0)


def test_grades_csv_sums_each_students_cells(graded):
    out, _ = graded
    rows = read_csv(out / "grades.csv")
    assert list(rows[0]) == ["student_id", "assignment", "score", "max_score"]
    got = {r["student_id"]: (float(r["score"]), float(r["max_score"])) for r in rows}
    for student, cells in EXPECTED.items():
        expected = sum(POINTS[g] for g, s in cells.items() if s == "passed")
        assert got[student] == (expected, 7.0), student


def test_feedback_page_per_student_says_what_went_wrong(graded):
    out, _ = graded
    for student in EXPECTED:
        assert (out / "feedback" / student / f"{A}.html").exists()
    dave = (out / "feedback" / "dave_runaway" / f"{A}.html").read_text()
    assert "ran out of time" in dave and "process died" in dave and "not finished yet" in dave
    bob = (out / "feedback" / "bob_partly_wrong" / f"{A}.html").read_text()
    assert "expected 0.5" in bob
    mallory = (out / "feedback" / "mallory_hostile" / f"{A}.html").read_text()
    assert "did it fail to run?" in mallory and "did not run cleanly" in mallory


def test_scores_are_in_nbgraders_gradebook(graded):
    out, _ = graded
    scripts_on_path(os.environ)
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "alice_correct").score == 7
        assert gb.find_submission(A, "bob_partly_wrong").score == 5


def test_rerun_keeps_grades_and_skips_unchanged_submissions(graded, tmp_path):
    out, _ = graded
    before = (out / "grades.csv").read_text()
    again = grade(SAMPLES, out)
    assert again.returncode == 0
    assert again.stdout.count("unchanged since it was graded") == len(EXPECTED)
    assert (out / "grades.csv").read_text() == before


def test_regrade_gives_the_same_grades(tmp_path):
    subs = tmp_path / "subs"
    for student in ("alice_correct", "bob_partly_wrong"):
        shutil.copytree(SAMPLES / student, subs / student)
    out = tmp_path / "out"
    assert grade(subs, out).returncode == 0
    first = (out / "cells.csv").read_text()
    assert grade(subs, out, "--regrade").returncode == 0
    assert (out / "cells.csv").read_text() == first


def test_grades_of_students_not_in_this_run_are_kept(tmp_path):
    out = tmp_path / "out"
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES / "alice_correct", subs / "alice_correct")
    assert grade(subs, out).returncode == 0
    shutil.rmtree(subs / "alice_correct")
    shutil.copytree(SAMPLES / "bob_partly_wrong", subs / "bob_partly_wrong")
    assert grade(subs, out).returncode == 0
    students = {r["student_id"] for r in read_csv(out / "grades.csv")}
    assert students == {"alice_correct", "bob_partly_wrong"}


def test_manual_scores_survive_a_regrade(tmp_path):
    out = tmp_path / "out"
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES / "bob_partly_wrong", subs / "bob_partly_wrong")
    assert grade(subs, out).returncode == 0
    scripts_on_path(os.environ)
    url = f"sqlite:///{out / 'gradebook.db'}"
    with Gradebook(url) as gb:
        g = gb.find_grade("test_accuracy", A, A, "bob_partly_wrong")
        g.manual_score = 0.5
        gb.db.commit()
    assert grade(subs, out, "--regrade").returncode == 0
    with Gradebook(url) as gb:
        assert gb.find_grade("test_accuracy", A, A, "bob_partly_wrong").manual_score == 0.5


def test_db_url_puts_the_gradebook_elsewhere(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES / "alice_correct", subs / "alice_correct")
    db = tmp_path / "elsewhere.db"
    out = tmp_path / "out"
    assert grade(subs, out, "--db", f"sqlite:///{db}").returncode == 0
    assert db.exists() and not (out / "gradebook.db").exists()
    assert read_csv(out / "grades.csv")[0]["score"] == "7"


def broken_source(tmp_path: Path, setup_code: str) -> str:
    """A copy of the chapter-1 source notebook whose setup cell is ``setup_code``."""
    broken = tmp_path / "source" / A
    broken.mkdir(parents=True)
    notebook = json.loads((ROOT / "solutions" / A / f"{A}.ipynb").read_text())
    setup = next(c for c in notebook["cells"]
                 if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    setup["source"] = setup_code + "\n"
    (broken / f"{A}.ipynb").write_text(json.dumps(notebook))
    return str(tmp_path / "source")


def test_a_grader_failure_keeps_the_earlier_grade(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES / "alice_correct", subs / "alice_correct")
    out = tmp_path / "out"
    assert grade(subs, out).returncode == 0
    done = grade(subs, out, "--source", broken_source(tmp_path, "import module_that_does_not_exist"))
    assert done.returncode == 2
    assert "GRADER ERROR" in done.stdout and "module_that_does_not_exist" in done.stdout
    assert read_csv(out / "grades.csv")[0]["score"] == "7"
    failures = read_csv(out / "grader-errors.csv")
    assert [f["student_id"] for f in failures] == ["alice_correct"]
    assert "module_that_does_not_exist" in failures[0]["message"]
    assert grade(subs, out).returncode == 0  # the rerun with the right source clears it
    assert read_csv(out / "grader-errors.csv") == []


def test_a_grader_failure_with_no_earlier_grade_is_recorded_as_such(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES / "bob_partly_wrong", subs / "bob_partly_wrong")
    out = tmp_path / "out"
    source = broken_source(tmp_path, "raise RuntimeError('the grader is broken')")
    assert grade(subs, out, "--source", source).returncode == 2
    assert {r["status"] for r in read_csv(out / "cells.csv")} == {"grader-error"}
    assert grade(subs, out).returncode == 0  # not kept as "unchanged": graded again
    assert read_csv(out / "grades.csv")[0]["score"] == "5"


def test_layout_problems_are_reported_not_fatal(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(SAMPLES / "alice_correct", subs / "alice_correct")
    (subs / "zoe" / "no_such_assignment").mkdir(parents=True)
    (subs / "yann" / A).mkdir(parents=True)  # submitted an empty folder
    done = grade(subs, tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no assignment 'no_such_assignment'" in done.stdout
    statuses = {r["status"] for r in read_csv(tmp_path / "out" / "cells.csv")
                if r["student_id"] == "yann"}
    assert statuses == {"missing"}


def test_bad_arguments_get_a_clear_error(tmp_path):
    done = grade(tmp_path / "nowhere", tmp_path / "out")
    assert done.returncode != 0 and "is not a folder of submissions" in done.stderr


def test_a_broken_source_notebook_is_named(tmp_path):
    source = tmp_path / "source" / A
    source.mkdir(parents=True)
    (source / f"{A}.ipynb").write_text("{ not json")
    done = grade(SAMPLES, tmp_path / "out", "--source", str(tmp_path / "source"))
    assert done.returncode != 0
    assert "cannot be used" in done.stderr and "not valid JSON" in done.stderr
