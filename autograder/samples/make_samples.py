"""Write the synthetic submissions in this folder from the released chapter-1 notebook.

    python autograder/samples/make_samples.py [OUTPUT_FOLDER]

Each student shows one thing the grader must handle; tests/test_pipeline.py knows the scores
they must get. Rerun this after changing the chapter-1 exercise, and commit the result.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ASSIGNMENT = "ch01_diagnosis"
RELEASED = ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

CORRECT = {
    "accuracy": '''
def accuracy(logits, labels):
    predicted = logits.argmax(dim=1)
    return float((predicted == labels).sum()) / len(labels)
''',
    "train_one_epoch": '''
def train_one_epoch(model, loader, loss_fn, optimizer):
    model.train()
    losses, sizes, hits = [], [], 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        sizes.append(len(targets))
        hits += int((outputs.argmax(1) == targets).sum())
    n = sum(sizes)
    return sum(l * s for l, s in zip(losses, sizes)) / n, hits / n
''',
    "evaluate": '''
@torch.no_grad()
def evaluate(model, loader, loss_fn):
    model.eval()
    total, hits, n = 0.0, 0, 0
    for inputs, targets in loader:
        outputs = model(inputs)
        total += loss_fn(outputs, targets).item() * len(targets)
        hits += int((outputs.argmax(1) == targets).sum())
        n += len(targets)
    return total / n, hits / n
''',
    "diagnose": '''
def diagnose(train_acc, val_acc, target):
    return "training" if train_acc < target else "overfitting" if val_acc < target else "done"
''',
}

PARTLY_WRONG = {
    **CORRECT,
    # counts instead of a fraction
    "accuracy": '''
def accuracy(logits, labels):
    return float((logits.argmax(dim=1) == labels).sum())
''',
    # checks validation first
    "diagnose": '''
def diagnose(train_acc, val_acc, target):
    if val_acc < target:
        return "overfitting"
    if train_acc < target:
        return "training"
    return "done"
''',
}

# Wrong answers dressed up with every cheap trick for making checks pass.
HOSTILE = {
    **CORRECT,
    "accuracy": '''
import builtins, math
import numpy as np
import dltips.checks

np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
builtins.isinstance = lambda *a: True
dltips.checks.assert_number_close = lambda *a, **k: None
dltips.checks.assert_close.__code__ = (lambda *a, **k: None).__code__
assert_number_close = lambda *a, **k: None

class Anything(float):
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False

def accuracy(logits, labels):
    np.allclose = lambda *a, **k: True   # patch again while the tests run
    return Anything(0.0)
''',
    "diagnose": '''
class AlwaysEqual(str):
    def __eq__(self, other):
        return True

def diagnose(train_acc, val_acc, target):
    return AlwaysEqual("done")
''',
}

# Code that never finishes, or takes the process down.
RUNAWAY = {
    **CORRECT,
    "train_one_epoch": '''
def train_one_epoch(model, loader, loss_fn, optimizer):
    while True:
        pass
''',
    "evaluate": '''
import os

def evaluate(model, loader, loss_fn):
    os._exit(1)
''',
    "diagnose": '''
def diagnose(train_acc, val_acc, target):
    raise RuntimeError("not finished yet")
''',
}


def fill(notebook: dict, solutions: dict[str, str]) -> dict:
    notebook = copy.deepcopy(notebook)
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell["source"] = solutions[grade_id].strip("\n")
    return notebook


def tamper_with_tests(notebook: dict) -> dict:
    """Delete the diagnose tests cell and 'edit' the accuracy one to pass unconditionally."""
    notebook = fill(notebook, {**CORRECT, "accuracy": PARTLY_WRONG["accuracy"]})
    cells = []
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == "test_diagnose":
            continue
        if grade_id == "test_accuracy":
            cell["source"] = "pass  # tests removed"
        cells.append(cell)
    notebook["cells"] = cells
    return notebook


def write(student: str, content: str | dict, out: Path = HERE) -> None:
    path = out / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(content, encoding="utf-8")


def main(out: Path = HERE) -> None:
    released = json.loads(RELEASED.read_text(encoding="utf-8"))
    write("alice_correct", fill(released, CORRECT), out)
    write("bob_partly_wrong", fill(released, PARTLY_WRONG), out)
    write("carol_blank", released, out)
    write("mallory_hostile", fill(released, HOSTILE), out)
    write("dave_runaway", fill(released, RUNAWAY), out)
    write("erin_broken_json", json.dumps(fill(released, CORRECT), indent=1)[:-300], out)
    write("frank_edited_tests", tamper_with_tests(released), out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
