"""exercises/ is generated from solutions/, up to date, and free of solutions and hidden tests."""
import json
import re
from pathlib import Path

import pytest

from autograder.release import assignments, release

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "solutions").glob("*/*.ipynb"))
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def regions(source_notebook: Path, min_length: int = 12) -> tuple[list[set[str]], set[str]]:
    """(for each solution or hidden-test region, its lines long enough to say something;
    the lines outside all regions), stripped."""
    found, public = [], set()
    for cell in json.loads(source_notebook.read_text())["cells"]:
        text = "".join(cell["source"])
        for match in REGION.finditer(text):
            found.append({line.strip() for line in match.group(2).splitlines()
                          if len(line.strip()) >= min_length and not line.strip().startswith("#")})
        public |= {line.strip() for line in REGION.sub("", text).splitlines()}
    return found, public


def split_lines(source_notebook: Path, min_length: int = 12) -> tuple[set[str], set[str]]:
    """(lines inside solution and hidden-test regions, lines outside them), stripped."""
    found, public = regions(source_notebook, min_length)
    return set().union(*found), public


def secret_lines(source_notebook: Path, min_length: int = 12) -> set[str]:
    """Lines only found inside solution and hidden-test regions (not `return x`, and not a line
    the visible tests or task text use too)."""
    lines, public = split_lines(source_notebook, min_length)
    return lines - public


def twin_of(source_notebook: Path) -> Path:
    """The released notebook generated from a source notebook."""
    return ROOT / "exercises" / source_notebook.relative_to(ROOT / "solutions")


def released_text(source_notebook: Path) -> str:
    """The code of the released twin of a source notebook (task text may name methods)."""
    twin = twin_of(source_notebook)
    assert twin.exists(), f"no released notebook for {source_notebook}; run python -m autograder release"
    cells = json.loads(twin.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_assignment_has_a_source_notebook():
    assert SOURCES, "no source notebooks found"
    assert assignments() == sorted({p.parent.name for p in SOURCES})


def test_exercises_are_up_to_date(tmp_path):
    written = release(out=tmp_path)
    for path in written:
        committed = ROOT / "exercises" / path.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is missing: run python -m autograder release"
        assert committed.read_bytes() == path.read_bytes(), \
            f"{committed} is stale: run python -m autograder release and commit the result"
    stray = {p.relative_to(ROOT / "exercises") for p in (ROOT / "exercises").rglob("*.ipynb")} - \
        {p.relative_to(tmp_path) for p in written}
    assert not stray, f"exercises/ has notebooks without a source: {stray}"


def test_release_is_deterministic(tmp_path):
    first = {p.name: p.read_bytes() for p in release(out=tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in release(out=tmp_path / "b")}
    assert first == second


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.parent.name)
def test_no_solution_or_hidden_test_reaches_the_student_notebook(source):
    text = released_text(source)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    secrets = secret_lines(source)
    assert secrets, f"{source} has no solution or hidden-test regions to protect"
    leaked = sorted(secrets & {line.strip() for line in text.splitlines()})
    assert not leaked, f"lines from solutions/hidden tests in the released notebook: {leaked[:5]}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.parent.name)
def test_student_notebook_has_stubs_and_clean_cells(source):
    notebook = json.loads(twin_of(source).read_text())
    solution_cells = [c for c in notebook["cells"]
                      if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert solution_cells
    for cell in solution_cells:
        assert "raise NotImplementedError()" in "".join(cell["source"])
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
