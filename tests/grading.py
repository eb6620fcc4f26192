"""Push implementations through the real autograder, for the per-chapter grading tests."""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from autograder.grade import grade_all
from autograder.notebooks import read_source
from autograder.sandbox import SandboxUnavailable, check_available

ROOT = Path(__file__).resolve().parent.parent


def sandbox_problem() -> str | None:
    """Why no sandbox can be had here (None if it can). Cached: the probe starts one sandbox."""
    if not hasattr(sandbox_problem, "answer"):
        try:
            check_available()
            sandbox_problem.answer = None
        except SandboxUnavailable as exc:
            sandbox_problem.answer = str(exc)
    return sandbox_problem.answer


def max_scores(assignment: str) -> dict[str, float]:
    """Points of each tests cell of ``assignment``, by grade_id."""
    scores = {}
    for path in sorted((ROOT / "solutions" / assignment).glob("*.ipynb")):
        scores.update({c.grade_id: c.points for c in read_source(path).tests})
    return scores


def fill(notebook: dict, solutions: dict[str, str]) -> dict:
    """A copy of a released notebook with the named solution cells' code replaced."""
    notebook = json.loads(json.dumps(notebook))
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell["source"] = solutions[grade_id].strip("\n")
    return notebook


def grade_variants(assignment: str, variants: dict[str, dict[str, str]], timeout: float = 60,
                   jobs: int = 2) -> dict[str, dict[str, float]]:
    """Grade one submission per variant (its name -> {solution grade_id: code}) built from the
    released notebook; return variant -> {tests grade_id: score}."""
    released = sorted((ROOT / "exercises" / assignment).glob("*.ipynb"))
    assert released, f"no released notebook for {assignment}: run python -m autograder release"
    with tempfile.TemporaryDirectory(prefix="variants-") as tmp:
        submissions = Path(tmp) / "submitted"
        for name, solutions in variants.items():
            for path in released:
                target = submissions / name / assignment / path.name
                target.parent.mkdir(parents=True)
                notebook = fill(json.loads(path.read_text(encoding="utf-8")), solutions)
                target.write_text(json.dumps(notebook), encoding="utf-8")
        out = Path(tmp) / "out"
        # the verdicts must be the same either way; without a sandbox (a developer machine with
        # no bwrap) the grading tests still run, and tests/test_sandbox.py says what is missing
        grade_all(submissions, out, None, ROOT / "solutions", timeout=timeout, jobs=jobs,
                  log=lambda *_: None, sandboxed=sandbox_problem() is None)
        results: dict[str, dict[str, float]] = {name: {} for name in variants}
        with open(out / "cells.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                results[row["student_id"]][row["grade_id"]] = float(row["score"])
    return results


def chapter_grading_tests(assignment: str, correct: dict[str, str],
                          wrong: dict[str, tuple[str, str, str]],
                          also_correct: dict[str, tuple[str, str]] | None = None,
                          only_target: bool = False):
    """The standard grading tests of a chapter, to bind as names of its test module:

        results, test_correct_implementations_keep_full_marks, \\
            test_known_wrong_implementation_loses_points = chapter_grading_tests(...)

    ``correct`` maps every solution grade_id to a correct implementation written differently
    from the solution notebook's; ``also_correct`` names further correct variants (name ->
    (grade_id, source)) and ``wrong`` known-wrong ones (name -> (grade_id, source, the tests
    grade_id that must lose points)). Each variant is ``correct`` with one cell replaced; all
    are graded in one autograder run. With ``only_target``, a wrong variant must also keep
    every other tests cell's points.
    """
    import pytest

    also_correct = also_correct or {}

    @pytest.fixture(scope="module")
    def results():
        variants = {"correct": correct}
        for name, (cell, source) in also_correct.items():
            variants[name] = {**correct, cell: source}
        for name, (cell, source, _) in wrong.items():
            variants[name] = {**correct, cell: source}
        return grade_variants(assignment, variants)

    @pytest.mark.parametrize("name", ["correct", *sorted(also_correct)])
    def test_correct_implementations_keep_full_marks(results, name):
        assert results[name] == max_scores(assignment), f"{name} lost points: {results[name]}"

    @pytest.mark.parametrize("name", sorted(wrong))
    def test_known_wrong_implementation_loses_points(results, name):
        _, _, test_id = wrong[name]
        full = max_scores(assignment)
        assert results[name][test_id] < full[test_id], f"{name} kept its points in {test_id}"
        if only_target:
            others = {k: v for k, v in results[name].items() if k != test_id}
            assert others == {k: v for k, v in full.items() if k != test_id}, \
                f"{name} lost points outside {test_id}: {results[name]}"

    return results, test_correct_implementations_keep_full_marks, \
        test_known_wrong_implementation_loses_points
