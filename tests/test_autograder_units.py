"""Units of the autograder: reading notebooks, merging a submission, the guard, the runner."""
import json
import sys

import numpy as np
import pytest

from autograder import authoring
from autograder.guard import Guard
from autograder.notebooks import (Cell, Plan, UnreadableNotebook, contract_names,
                                  load_json_notebook, merge, read_source, strip_markers)
from autograder.runner import run_plan


def source_notebook(tmp_path):
    path = authoring.write_notebook(tmp_path / "hw" / "hw.ipynb", [
        authoring.markdown("task"),
        authoring.setup("setup", "import numpy as np"),
        authoring.solution("square", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n"
                           "    ### END SOLUTION"),
        authoring.tests("test_square", 2, "assert square(3) == 9\n### BEGIN HIDDEN TESTS\n"
                        "assert square(-2) == 4\n### END HIDDEN TESTS"),
        authoring.solution("helpers", "LIMIT = 3\nclass Box:\n    pass"),
        authoring.tests("test_box", 1, "assert Box is not None and LIMIT == 3"),
    ])
    return read_source(path)


def submission(source_cells):
    return {"cells": [{"cell_type": "code", "source": src,
                       "metadata": {"nbgrader": {"grade_id": gid}} if gid else {}}
                      for gid, src in source_cells]}


def test_read_source_kinds_points_and_contract(tmp_path):
    src = source_notebook(tmp_path)
    assert [c.kind for c in src.cells] == ["setup", "solution", "tests", "solution", "tests"]
    assert src.max_score == 3
    assert src.contract == ["square", "LIMIT", "Box"]
    assert "BEGIN" not in src.cells[2].source and "square(-2)" in src.cells[2].source


def test_source_without_grade_id_is_rejected(tmp_path):
    path = tmp_path / "a" / "b.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "1", "metadata": {}}]}))
    with pytest.raises(ValueError, match="no nbgrader grade_id"):
        read_source(path)


def test_unreadable_notebooks_say_why(tmp_path):
    bad = tmp_path / "x.ipynb"
    bad.write_text("{not json")
    with pytest.raises(UnreadableNotebook, match="not valid JSON"):
        load_json_notebook(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(UnreadableNotebook, match="not a notebook"):
        load_json_notebook(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(UnreadableNotebook, match="UTF-8"):
        load_json_notebook(bad)


def test_merge_uses_trusted_tests_student_solutions_and_keeps_added_cells_in_place(tmp_path):
    src = source_notebook(tmp_path)
    plan = merge(src, submission([
        ("setup", "import os; os.remove('everything')"),       # edited setup: ignored
        ("square", "def square(x):\n    return x ** 2"),
        (None, "def helper():\n    return 1"),                 # added by the student
        ("test_square", "pass"),                               # edited tests: ignored
        ("helpers", "LIMIT = 3\nclass Box: pass"),
    ]))
    kinds = [(c.kind, c.grade_id) for c in plan.cells]
    assert kinds == [("setup", "setup"), ("solution", "square"), ("student", None),
                     ("tests", "test_square"), ("solution", "helpers")]
    assert plan.cells[0].source == "import numpy as np"
    assert "square(-2)" in plan.cells[3].source
    assert plan.preset == {"test_box": ("deleted", plan.preset["test_box"][1])}


def test_merge_notes_a_missing_solution_cell(tmp_path):
    src = source_notebook(tmp_path)
    plan = merge(src, submission([("test_square", ""), ("test_box", "")]))
    assert any("'square' is missing" in n for n in plan.notes)


def test_strip_markers_and_contract_names():
    assert strip_markers("a\n### BEGIN SOLUTION\nb\n    ### END SOLUTION\n") == "a\n\nb\n\n"
    assert contract_names("import x\ndef f(): pass\nclass C: pass\nA = B = 1\n") == ["f", "C", "A", "B"]


def test_guard_restores_patched_functions_classes_and_code():
    import dltips.checks
    guard = Guard().snapshot()
    real_allclose = np.allclose
    real_code = dltips.checks.assert_true.__code__
    try:
        np.allclose = lambda *a, **k: True
        import torch
        torch.Tensor.__eq__ = lambda *a: True
        dltips.checks.assert_true.__code__ = (lambda *a: None).__code__
        changed = guard.restore()
    finally:
        guard.restore()
    assert np.allclose is real_allclose
    assert dltips.checks.assert_true.__code__ is real_code
    assert not bool((torch.tensor([1]) == torch.tensor([2])).all())
    assert {"numpy.allclose", "dltips.checks.assert_true"} <= set(changed)
    assert any(c.endswith("Tensor.__eq__") for c in changed)


def run(tmp_path, cells, contract, timeout=10):
    plan = Plan([Cell(i, kind, gid, text) for i, (kind, gid, text) in enumerate(cells)], contract)
    outcomes, tampered = run_plan(plan, timeout, str(tmp_path))
    return [outcomes.get(i) for i in range(len(cells))], tampered


def test_runner_survives_an_endless_loop_and_a_dying_process(tmp_path):
    outcomes, _ = run(tmp_path, [
        ("setup", "setup", "x = 1"),
        ("solution", "f", "def f():\n    while True:\n        pass"),
        ("solution", "g", "import os\ndef g():\n    os._exit(3)"),
        ("solution", "h", "def h():\n    return 2"),
        ("tests", "t1", "f()"),
        ("tests", "t2", "g()"),
        ("tests", "t3", "assert h() == 2"),
        ("tests", "t4", "assert h() == 3, 'h is not 3'"),
    ], ["f", "g", "h"], timeout=3)
    statuses = [o.status if o else None for o in outcomes]
    assert statuses[4:] == ["timeout", "crashed", "passed", "failed"]
    assert "exit code 3" in outcomes[5].message and "h is not 3" in outcomes[7].message


def test_runner_tests_see_only_contract_names_and_trusted_modules(tmp_path):
    outcomes, tampered = run(tmp_path, [
        ("setup", "setup", "import numpy as np"),
        ("solution", "f", "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
                          "np = None\nsecret = 42\ndef f():\n    return 1"),
        ("tests", "t1", "assert not np.allclose([1.0], [2.0])"),
        ("tests", "t2", "secret"),
        ("tests", "t3", "assert f() == 1"),
    ], ["f"])
    assert [o.status for o in outcomes[2:]] == ["passed", "error", "passed"]
    assert "secret" in outcomes[3].message
    assert "numpy.allclose" in tampered


def test_runner_a_crash_in_a_solution_cell_only_costs_its_own_tests(tmp_path):
    outcomes, _ = run(tmp_path, [
        ("setup", "setup", "pass"),
        ("solution", "f", "import os\nos._exit(1)\ndef f():\n    return 1"),
        ("solution", "g", "def g():\n    return 2"),
        ("tests", "t1", "assert f() == 1"),
        ("tests", "t2", "assert g() == 2"),
    ], ["f", "g"])
    assert outcomes[1].status == "crashed"
    assert [o.status for o in outcomes[3:]] == ["error", "passed"]


def test_forged_events_without_the_nonce_are_ignored(tmp_path):
    outcomes, _ = run(tmp_path, [
        ("setup", "setup", "pass"),
        ("solution", "f", "import os, json\n"
         "for fd in range(3, 20):\n"
         "    try:\n"
         "        os.write(fd, b'\\n' + json.dumps({'event': 'done', 'index': 2, 'status': 'passed',"
         " 'nonce': 'guess'}).encode() + b'\\n')\n"
         "    except OSError:\n"
         "        pass\n"
         "def f():\n    return 0"),
        ("tests", "t", "assert f() == 1, 'f should be 1'"),
    ], ["f"])
    assert outcomes[2].status == "failed"


def test_worker_is_importable_without_side_effects():
    import autograder.worker as worker
    assert callable(worker.main) and sys.modules["autograder.worker"] is worker
