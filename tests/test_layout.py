"""The layout of dltips: a core that chapter modules import, and nothing nobody uses.

- the import rule: ``dltips/chapters/*`` import the core, never each other; the core imports no
  chapter module; ``dltips/__init__.py`` imports nothing and ``dltips.checks`` no other module;
- which chapter uses what: every public function and class names, in its docstring, each
  chapter that uses it (directly in the chapter's code, or through a module it imports), and
  every module and public function is used by a chapter, an exercise or a test.
"""
from __future__ import annotations

import ast
import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dltips"
MODULES = {("dltips." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)): p
           for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__init__.py"}
CHAPTER_MODULES = {m for m in MODULES if m.startswith("dltips.chapters.")}
CORE = set(MODULES) - CHAPTER_MODULES
CHAPTERS = sorted((ROOT / "book").glob("ch*.md"))


def chapter_number(path: Path) -> int:
    return int(re.match(r"ch(\d+)", path.stem).group(1))


def resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The dltips modules an ``from ... import ...`` in ``module`` reaches."""
    if node.level:
        base = module.split(".")[:-node.level]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("dltips"):
        return []
    found = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return found or ([target] if target in MODULES or target in ("dltips", "dltips.chapters") else [])


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out.update(resolve(module, node))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("dltips"))
    return out


@pytest.mark.parametrize("module", sorted(MODULES))
def test_chapter_modules_import_only_the_core(module):
    reached = imports_of(module) - {"dltips"}
    if module in CHAPTER_MODULES:
        assert not reached & CHAPTER_MODULES, f"{module} imports another chapter's module"
    else:
        assert not any(m.startswith("dltips.chapters") for m in reached), \
            f"the core module {module} imports a chapter module: {sorted(reached)}"
    if module == "dltips.checks":
        assert not reached, "dltips.checks must stand alone (the grading sandbox mounts it alone)"


def test_package_init_imports_nothing():
    for init in (PACKAGE / "__init__.py", PACKAGE / "chapters" / "__init__.py"):
        tree = ast.parse(init.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))], init


def code_of_chapter(path: Path) -> str:
    text = path.read_text()
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S)
    return "\n".join(re.sub(r"(?m)^(:\w[\w-]*:|[%!]).*$", "", c) for c in cells)


def names_used(code: str) -> set[tuple[str, str]]:
    """(module, name) pairs of dltips that ``code`` uses: ``from dltips.m import n``, and
    ``m.n`` after ``from dltips import m`` / ``from dltips.chapters import m [as a]``."""
    used, aliases = set(), {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dltips"):
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if full in MODULES:
                    aliases[a.asname or a.name] = full
                    used.add((full, ""))
                else:
                    used.add((node.module, a.name))
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases:
            used.add((aliases[node.value.id], node.attr))
    return used


@lru_cache(maxsize=None)
def module_uses(module: str) -> frozenset[tuple[str, str]]:
    """What ``module`` uses of other dltips modules, and transitively what those use."""
    tree = ast.parse(MODULES[module].read_text())
    direct = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for target in resolve(module, node):
                if target in MODULES:
                    names = [a.name for a in node.names]
                    if target.rsplit(".", 1)[-1] in names:   # from .. import data
                        direct.add((target, ""))
                        text = MODULES[module].read_text()
                        direct.update((target, n) for n in re.findall(
                            rf"\b{target.rsplit('.', 1)[-1]}\.([A-Za-z_]\w*)", text))
                    else:
                        direct.update((target, n) for n in names)
                        direct.add((target, ""))
    out = set(direct)
    for target, _ in direct:
        out |= module_uses(target)
    return frozenset(out)


def chapters_using() -> dict[tuple[str, str], set[int]]:
    users: dict[tuple[str, str], set[int]] = {}
    for path in CHAPTERS:
        direct = names_used(code_of_chapter(path))
        every = set(direct)
        for module, _ in direct:
            if module in MODULES:
                every |= module_uses(module)
        for key in every:
            users.setdefault(key, set()).add(chapter_number(path))
    return users


def public_definitions():
    for module, path in MODULES.items():
        if module == "dltips.checks":   # the exercises' assertion helpers (see test_checks.py)
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                yield module, node


def named_chapters(doc: str) -> set[int]:
    """Chapter numbers a docstring names: "chapter 3", "chapters 2-5", "chapters 1, 3 and 5"."""
    found = set()
    for match in re.finditer(r"[Cc]hapters? ((?:\d+(?:\s*[-–]\s*\d+)?(?:,\s*|\s+and\s+)?)+)", doc):
        for a, b in re.findall(r"(\d+)(?:\s*[-–]\s*(\d+))?", match.group(1)):
            found.update(range(int(a), int(b or a) + 1))
    return found


def test_every_public_function_names_the_chapters_that_use_it():
    users = chapters_using()
    problems = []
    for module, node in public_definitions():
        doc = ast.get_docstring(node) or ""
        wanted = users.get((module, node.name), set())
        if module in CHAPTER_MODULES:
            wanted = wanted | {chapter_number(Path(f"ch{n:02d}")) for n in wanted}
        named = named_chapters(doc)
        if not named and not wanted and "tests" in doc:
            continue
        if not named or not wanted <= named:
            problems.append(f"{module}.{node.name}: used by chapters {sorted(wanted)}, "
                            f"docstring names {sorted(named)}")
    assert not problems, "\n".join(problems)


@lru_cache(maxsize=None)
def corpus() -> str:
    """The code of every chapter, solution/exercise notebook, test and dltips module."""
    texts = [code_of_chapter(p) for p in CHAPTERS]
    for nb in sorted((ROOT / "solutions").glob("*/*.ipynb")) + sorted((ROOT / "exercises").glob("*/*.ipynb")):
        cells = json.loads(nb.read_text()).get("cells", [])
        texts += ["".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code"]
    texts += [p.read_text() for p in sorted((ROOT / "tests").glob("*.py")) if p.name != Path(__file__).name]
    return "\n".join(texts)


def test_every_module_and_public_function_is_used():
    unused = []
    for module, path in MODULES.items():
        short = module.rsplit(".", 1)[-1]
        elsewhere = "\n".join(p.read_text() for m, p in MODULES.items() if m != module)
        if not re.search(rf"\b{short}\b", corpus() + elsewhere):
            unused.append(module)
    for module, node in public_definitions():
        own = MODULES[module].read_text()
        others = "\n".join(p.read_text() for m, p in MODULES.items() if m != module)
        own_uses = len(re.findall(rf"\b{node.name}\b", own)) > 1
        if not (re.search(rf"\b{node.name}\b", corpus() + others) or own_uses):
            unused.append(f"{module}.{node.name}")
    assert not unused, f"used by no chapter, exercise or test: {unused}"
