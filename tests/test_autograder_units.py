"""Units of the autograder: reading notebooks, merging a submission, the wire format, in-place
arguments, the judge's stand-ins, and the judge end to end on a tiny assignment."""
import io
import json
import pickle
import socket
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from autograder import authoring, inplace, remote, wire
from autograder.notebooks import (UnreadableNotebook, contract_names, load_json_notebook, merge,
                                  read_source, strip_markers)
from autograder.runner import GraderFailure, run_judge
from grading import sandbox_problem


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


def test_merge_treats_a_grade_id_that_is_not_a_string_as_an_added_cell(tmp_path):
    source = source_notebook(tmp_path)
    plan = merge(source, {"cells": [
        {"cell_type": "code", "source": "x = 1", "metadata": {"nbgrader": {"grade_id": ["a"]}}},
        {"cell_type": "code", "source": "def square(x):\n    return x * x",
         "metadata": {"nbgrader": {"grade_id": "square"}}}]})
    assert [c.kind for c in plan.cells][:2] == ["student", "setup"]


# --- wire format ----------------------------------------------------------------------------

def roundtrip(value):
    handles = []
    tree, buffers = wire.encode(value, lambda obj: (handles.append(obj) or len(handles), "X"))
    a, b = socket.socketpair()
    with a, b:
        wire.send(a, {"v": tree}, buffers)
        header, got = wire.receive(b, deadline=None)
    return wire.decode(header["v"], got, lambda i, t: ("handle", i, t)), handles


def test_wire_roundtrips_the_closed_set_of_values():
    value = {"f": 1.5, "nan": float("nan"), "i": 2**70, "s": "x", "b": b"\x00", "n": None,
             "t": (1, [2.0, True]), "set": {1, 2}, 3: complex(1, -2),
             "a": np.arange(6, dtype=np.int16).reshape(2, 3), "scalar": np.float32(2.5),
             "tensor": torch.arange(4, dtype=torch.bfloat16), "zero_d": torch.tensor(3),
             "empty": torch.zeros(0, 3), "dtype": torch.float64}
    got, handles = roundtrip(value)
    assert handles == []
    assert np.isnan(got["nan"]) and got["i"] == 2**70 and got[3] == complex(1, -2)
    assert got["t"] == (1, [2.0, True]) and got["set"] == {1, 2} and got["b"] == b"\x00"
    assert got["a"].dtype == np.int16 and (got["a"] == value["a"]).all()
    assert type(got["scalar"]) is np.float32 and got["scalar"] == 2.5
    assert got["tensor"].dtype == torch.bfloat16 and torch.equal(got["tensor"], value["tensor"])
    assert got["zero_d"].shape == () and int(got["zero_d"]) == 3
    assert got["empty"].shape == (0, 3) and got["dtype"] is torch.float64


def test_wire_turns_other_objects_and_subclasses_into_handles():
    class Sneaky(float):
        def __eq__(self, other):
            return True

    got, handles = roundtrip([Sneaky(1.0), object()])
    assert got == [("handle", 1, "X"), ("handle", 2, "X")] and isinstance(handles[0], Sneaky)


@pytest.mark.parametrize("tree, buffers, problem", [
    ({"$": "ndarray", "dtype": "object", "shape": [1], "b": 0}, [b"x" * 8], "dtype"),
    ({"$": "ndarray", "dtype": "float64", "shape": [2], "b": 0}, [b"x" * 8], "size"),
    ({"$": "tensor", "dtype": "float32", "shape": [-1], "b": 0, "grad": False}, [b""], "shape"),
    ({"$": "ndarray", "dtype": "float64", "shape": [1], "b": 5}, [b"x" * 8], "buffer"),
    ({"$": "numpy.load", "v": "x"}, [], "tag"),
    ({"$": "handle", "id": "1", "type": "X"}, [], "handle"),
    ({"$": "dict", "k": [[1]], "v": [2]}, [], "unhashable"),
    ({"$": "int", "v": "1" * 5000}, [], "int"),
])
def test_wire_rejects_malformed_values(tree, buffers, problem):
    with pytest.raises(wire.ProtocolError):
        wire.decode(tree, buffers, lambda i, t: None)


def test_wire_rejects_deep_nesting_and_oversized_frames():
    deep = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(wire.ProtocolError):
        wire.decode(deep, [])
    a, b = socket.socketpair()
    with a, b:
        a.sendall(wire.PREFIX.pack(wire.MAGIC, wire.MAX_HEADER + 1, 0))
        with pytest.raises(wire.ProtocolError):
            wire.receive(b, deadline=None)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"GARBAGE!" * 4)
        with pytest.raises(wire.ProtocolError):
            wire.receive(b, deadline=None)


# --- arguments changed in place -----------------------------------------------------------------

def test_inplace_brings_back_a_model_and_optimizer_changed_by_student_code():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    config = {"lr": 1}
    found = inplace.targets((model, [opt], rng), {"config": config})
    assert found[0] is model and opt in found and rng in found and config in found
    copy_model, copy_opt, copy_rng, copy_config = pickle.loads(pickle.dumps(
        (model, opt, rng, config)))
    copy_model.train(False)
    copy_model(torch.randn(5, 3)).sum().backward()
    copy_opt.step()
    copy_rng.normal()
    copy_config["lr"] = 2
    originals = [model, opt, rng, config]
    for obj, changed in zip(originals, [copy_model, copy_opt, copy_rng, copy_config]):
        state, _ = roundtrip(inplace.capture(changed))
        inplace.apply(obj, state, "argument")
    assert not model.training and config == {"lr": 2}
    assert torch.equal(model[0].weight, copy_model[0].weight)
    assert torch.equal(model[0].weight.grad, copy_model[0].weight.grad)
    assert opt.state_dict()["state"][0]["momentum_buffer"].shape == (4, 3)
    assert rng.normal() == copy_rng.normal()


def test_inplace_refuses_state_that_does_not_fit():
    model = nn.Linear(3, 2)
    state, _ = roundtrip(inplace.capture(nn.Linear(3, 5)))
    with pytest.raises(ValueError, match="another shape"):
        inplace.apply(model, state, "argument 1")
    with pytest.raises(ValueError, match="wrong kind"):
        inplace.apply(np.zeros(3), {"kind": "module"}, "argument 2")


# --- stand-ins --------------------------------------------------------------------------------

def test_handles_refuse_comparisons_truth_and_conversion():
    session = remote.Session(lambda: None, 1)
    handle = remote.Handle(session, 1, "AlwaysEqual")
    for attempt in (lambda: handle == 1, lambda: bool(handle), lambda: hash(handle),
                    lambda: float(handle), lambda: list(handle), lambda: np.asarray(handle) + 1):
        with pytest.raises(TypeError, match="student's process"):
            attempt()


def test_a_class_defined_in_a_tests_cell_cannot_be_passed_to_student_code(monkeypatch):
    session = remote.Session(lambda: None, 1)
    module = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", module)
    namespace = module.__dict__
    exec("class Probe:\n    pass\n", namespace)
    with pytest.raises(remote.AuthoringError, match="defined in a tests cell"):
        remote._ArgPickler(io.BytesIO(), session).dump((namespace["Probe"](),))
    session.setup_objects = {"Probe": namespace["Probe"]}  # defined by a setup cell: allowed
    remote._ArgPickler(io.BytesIO(), session).dump((namespace["Probe"](),))


def test_student_exceptions_keep_their_builtin_type():
    exc = remote.student_error({"type": "ValueError", "message": "call fit first", "where": ""})
    assert isinstance(exc, ValueError) and str(exc) == "call fit first"
    assert type(remote.student_error({"type": 3})) is remote.StudentError


# --- the judge, end to end ----------------------------------------------------------------------

def judge(tmp_path, solutions: dict[str, str], tests: dict[str, str], setup="import numpy as np",
          submitted: dict[str, str] | None = None, timeout=10):
    cells = [authoring.setup("setup", setup)]
    for gid, code in solutions.items():
        cells.append(authoring.solution(gid, code))
    for gid, code in tests.items():
        cells.append(authoring.tests(gid, 1, code))
    source = read_source(authoring.write_notebook(tmp_path / "src" / "hw" / "hw.ipynb", cells))
    sub = tmp_path / "sub" / "hw.ipynb"
    sub.parent.mkdir(parents=True)
    sub.write_text(json.dumps(submission([("setup", setup)] + list((submitted or solutions).items())
                                         + [(gid, "") for gid in tests])))
    report = run_judge(source, sub, timeout, sandboxed=sandbox_problem() is None)
    return {gid: report.verdicts[gid] for gid in tests}, report


def test_judge_survives_an_endless_loop_and_a_dying_process(tmp_path):
    verdicts, _ = judge(tmp_path, {
        "f": "def f():\n    while True:\n        pass",
        "g": "import os\ndef g():\n    os._exit(3)",
        "h": "def h():\n    return 2"},
        {"t1": "f()", "t2": "g()", "t3": "assert h() == 2", "t4": "assert h() == 3, 'h is not 3'"},
        timeout=3)
    assert [v[0] for v in verdicts.values()] == ["timeout", "crashed", "passed", "failed"]
    assert verdicts["t4"][1] == "h is not 3"


def test_judge_tests_see_only_contract_names_and_never_run_student_code(tmp_path):
    verdicts, _ = judge(tmp_path, {"f": "def f():\n    return 1"}, {
        "t1": "assert not np.allclose([1.0], [2.0])", "t2": "secret", "t3": "assert f() == 1",
        "t4": "import os\nassert f.__class__.__name__ == 'StudentName' and os.getpid() > 0"},
        submitted={"f": "import numpy\nnumpy.allclose = lambda *a, **k: True\nnp = None\n"
                        "secret = 42\ndef f():\n    return 1"})
    assert [v[0] for v in verdicts.values()] == ["passed", "error", "passed", "passed"]
    assert "secret" in verdicts["t2"][1]


def test_judge_messages_that_quote_the_submission_keep_no_control_codes(tmp_path):
    """What the student's code raises reaches the feedback page and the gradebook: an ESC
    sequence or a carriage return in it is shown as an escape, tabs and newlines stay."""
    codes = "\\x1b]0;forged\\x07\\x1b[2J\\r\\x00\\x9b"
    verdicts, report = judge(tmp_path, {"f": "def f():\n    return 1"}, {"t": "f()"},
                             submitted={"f": f"def f():\n    raise ValueError('a\\tb\\nc{codes}')\n"
                                             f"raise ValueError('{codes}')"})
    messages = [verdicts["t"][1]] + [m for _, m in report.cells.values()] + report.notes
    assert verdicts["t"][0] == "error" and "a\tb\nc\\x1b]0;forged\\x07" in verdicts["t"][1]
    assert any("\\x1b[2J\\x0d\\x00\\x9b" in m for m in messages[1:]), messages
    for message in messages:
        assert not any(ord(ch) < 32 and ch not in "\t\n" or 0x7f <= ord(ch) < 0xa0
                       for ch in message), repr(message)


def test_judge_a_crash_in_a_solution_cell_only_costs_its_own_tests(tmp_path):
    verdicts, report = judge(tmp_path, {"f": "def f():\n    return 1", "g": "def g():\n    return 2"},
                             {"t1": "assert f() == 1", "t2": "assert g() == 2"},
                             submitted={"f": "import os\nos._exit(1)\ndef f():\n    return 1",
                                        "g": "def g():\n    return 2"})
    assert [v[0] for v in verdicts.values()] == ["error", "passed"]
    assert "solution cell deleted, or did it fail" in verdicts["t1"][1]
    assert "crashed" in [s for s, _ in report.cells.values()]


def test_judge_hidden_test_source_never_reaches_the_feedback(tmp_path):
    verdicts, _ = judge(tmp_path, {"f": "def f(x):\n    return x"},
                        {"t": "secret_reference = 'HIDDEN-MARKER'\nf(1) + None"},
                        submitted={"f": "def f(x):\n    return x"})
    assert verdicts["t"][0] == "error" and "HIDDEN-MARKER" not in verdicts["t"][1]
    assert "TypeError" in verdicts["t"][1]


def test_judge_a_setup_helper_beside_student_code_reports_its_own_failures_as_such(tmp_path):
    setup = ("import numpy as np\nfrom dltips.checks import in_student_process\n\n"
             "@in_student_process\ndef run_many(n):\n    out = [f(i) for i in range(n)]\n"
             "    if len(set(map(type, out))) != 1:\n"
             "        raise AssertionError('f returned values of different types')\n"
             "    return out\n")
    verdicts, _ = judge(tmp_path, {"f": "def f(i):\n    return i"}, {
        "t1": "run_many(3)", "t2": "assert run_many(2) == [0, 1]", "t3": "run_many(5)"},
        setup=setup,
        submitted={"f": "def f(i):\n    if i == 4:\n        raise ValueError('four')\n"
                        "    return float(i) if i == 2 else i"})
    assert verdicts["t1"][0] == "failed"
    # the helper's own check: its message, and no student line blamed
    assert verdicts["t1"][1] == ("AssertionError: f returned values of different types "
                                 "(raised while running your code)")
    assert verdicts["t2"][0] == "passed"
    # raised by the student's function inside the helper: the student's line is named
    assert verdicts["t3"][0] == "error" and "four" in verdicts["t3"][1]
    assert "raised in your code: cell f, line 3" in verdicts["t3"][1]


def test_judge_runs_the_grader_of_its_own_project_whatever_the_environment_finds(tmp_path,
                                                                               monkeypatch):
    """Another checkout's autograder and dltips earlier on the path (a venv shared by two
    clones, whose editable install points at the other) must not be what grades."""
    from autograder import runner
    decoy = tmp_path / "decoy"
    for package in ("autograder", "dltips"):
        (decoy / package).mkdir(parents=True)
        (decoy / package / "__init__.py").write_text(
            f"raise ImportError('the decoy {package} was imported')\n")
    runner.close_slots()  # slots started by other tests have the environment they had
    monkeypatch.setenv("PYTHONPATH", str(decoy))
    try:
        verdicts, _ = judge(tmp_path, {"f": "def f():\n    return 1"}, {"t": "assert f() == 1"},
                            setup="import numpy as np\nimport dltips.checks")
    finally:
        runner.close_slots()
    assert verdicts["t"][0] == "passed", verdicts


def test_judge_failing_setup_is_a_grader_failure_not_the_students(tmp_path):
    with pytest.raises(GraderFailure, match="module_that_does_not_exist"):
        judge(tmp_path, {"f": "def f():\n    return 1"}, {"t": "f()"},
              setup="import module_that_does_not_exist")


def test_progress_without_a_terminal_writes_plain_counted_lines():
    import io

    from autograder.progress import Progress
    out = io.StringIO()  # isatty() is False, as for a file, a pipe or CI
    ticks = iter(range(100))
    progress = Progress(20, out, clock=lambda: float(next(ticks)))
    progress.start()
    progress.log("warning: something")
    for i in range(20):
        progress.finished(f"student{i}/ch01: 7/7")
    progress.close()
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text, "control characters in a non-terminal log"
    lines = text.splitlines()
    graded = [line for line in lines if line.startswith("[")]
    assert graded[0] == "[1/20] student0/ch01: 7/7" and graded[-1] == "[20/20] student19/ch01: 7/7"
    assert "warning: something" in lines
    estimates = [line for line in lines if line.startswith("progress: ")]
    assert 5 <= len(estimates) <= 10 and all("left" in line for line in estimates)


def test_progress_on_a_terminal_clears_its_bar_before_every_log_line():
    import io

    from autograder.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress = Progress(3, out)
    progress.start()
    for name in ("a", "b", "c"):
        progress.finished(f"{name}: 1/1")
    progress.close()
    text = out.getvalue()
    for name in ("a", "b", "c"):  # each log line starts on a cleared line, never after a bar
        assert f"\r\x1b[K{name}: 1/1\n" in text
    assert text.endswith("c: 1/1\n"), "the bar must be gone when the run ends"
