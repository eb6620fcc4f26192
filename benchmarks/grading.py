"""Measure the grading targets in one run; print a Markdown table and the computed lines.

    .venv/bin/python benchmarks/grading.py [--copies K] [--jobs N] [--timeout S] [--book]

The targets (record the output in benchmarks/README.md): against plain ``nbgrader autograde`` on
the same mixed batch of every chapter's submissions, (1) identical scores on honest submissions,
(2) an overhead per submission of at most 0.3 s of CPU beyond the time its cells take in a warm
interpreter, (3) a throughput at least 5x plain nbgrader's on 2 cores.

- The batch: K students, each submitting every assignment of ``solutions/`` (the released notebook
  of ``exercises/`` with its solution cells filled from the solutions notebook). An assignment
  whose notebook is not released, or whose cells fail in the warm interpreter, is skipped.
- Warm cells: one Python process that has imported numpy, torch (1 thread), matplotlib (Agg) and
  dltips runs every submission's cells (the grader's run plan: setup, solution and tests cells in
  notebook order), each notebook in a fresh ``__main__`` namespace; CPU seconds per notebook.
- Our grader: ``python -m autograder grade`` (default ``--jobs``: one per core), in the sandbox
  if it can be had here; wall seconds, and the CPU seconds of everything it started.
- Plain nbgrader: ``nbgrader autograde`` on the same batch in a fresh course folder, same
  per-cell timeout; wall and CPU seconds, and its scores read from its gradebook.
- ``--book`` also times each book chapter's execution and a cold book build (off by default:
  they do not bear on grading and take many minutes).

CPU seconds come from a cgroup around the whole command (v1 ``cpuacct`` or v2 ``cpu.stat``)
where we may create one: processes killed inside the sandbox's PID namespace are not reaped by
the grader, so ``getrusage(RUSAGE_CHILDREN)``, the fallback, undercounts them.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
CGROUP_ROOT = Path("/sys/fs/cgroup")
OVERHEAD_TARGET = 0.3     # CPU seconds per submission beyond its cells' warm time
THROUGHPUT_TARGET = 5.0   # times plain nbgrader's
# the environment the grader gives its judge (autograder/runner.py), for the warm process too
WARM_ENV = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}


def say(message: str) -> None:
    """Progress and warnings go to standard error; standard output is the report."""
    print(message, file=sys.stderr, flush=True)


def tests_fill():
    """``fill`` of tests/grading.py (how the grading tests build submissions), imported from its
    file: ``import grading`` would find this script."""
    spec = importlib.util.spec_from_file_location("_tests_grading", ROOT / "tests" / "grading.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fill


# --- the batch --------------------------------------------------------------------------------

@dataclass
class Notebook:
    assignment: str
    source: Path    # solutions/<assignment>/<name>.ipynb
    released: Path  # exercises/<assignment>/<name>.ipynb


def discover(only: list[str] | None = None) -> tuple[list[Notebook], dict[str, str]]:
    """Every notebook of solutions/*/ whose assignment is released (of ``only``, if given);
    skipped assignments -> why."""
    notebooks, skipped = [], {}
    for source in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        if only and source.parent.name not in only:
            continue
        released = ROOT / "exercises" / source.parent.name / source.name
        if not released.is_file():
            skipped[source.parent.name] = f"{released.relative_to(ROOT)} is not released yet"
        else:
            notebooks.append(Notebook(source.parent.name, source, released))
    notebooks = [nb for nb in notebooks if nb.assignment not in skipped]
    return notebooks, skipped


def correct_submission(notebook: Notebook, fill) -> dict:
    """The released notebook with every solution cell's code taken from the solutions notebook."""
    from autograder.notebooks import read_source
    solutions = {c.grade_id: c.source for c in read_source(notebook.source).cells
                 if c.kind == "solution"}
    return fill(json.loads(notebook.released.read_text(encoding="utf-8")), solutions)


def write_batch(folder: Path, notebooks: list[Notebook], copies: int,
                skipped: dict[str, str]) -> list[tuple[Notebook, Path]]:
    """``folder/studentNNN/<assignment>/<notebook>.ipynb`` for each copy; (notebook, path) pairs.
    An assignment whose submission cannot be built is added to ``skipped``."""
    fill, texts = tests_fill(), {}
    for nb in notebooks:
        try:
            texts[nb.source] = json.dumps(correct_submission(nb, fill))
        except Exception as exc:  # noqa: BLE001 - a source being written right now, say
            skipped[nb.assignment] = f"no correct submission can be built: {exc}"
    batch = []
    for i, nb in itertools.product(range(copies), notebooks):
        if nb.assignment not in skipped:
            path = folder / f"student{i:03d}" / nb.assignment / nb.released.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(texts[nb.source], encoding="utf-8")
            batch.append((nb, path))
    return batch


def drop(batch: list[tuple[Notebook, Path]], skipped: dict[str, str]) -> list:
    """The batch without the skipped assignments (their folders deleted)."""
    for nb, path in batch:
        if nb.assignment in skipped and path.parent.exists():
            shutil.rmtree(path.parent)
    return [(nb, path) for nb, path in batch if nb.assignment not in skipped]


# --- running and measuring a command ----------------------------------------------------------

@dataclass
class Run:
    wall: float
    cpu: float
    rusage_cpu: float  # what getrusage(RUSAGE_CHILDREN) saw, for comparison
    output: str = ""
    returncode: int = 0


class CpuGroup:
    """A fresh cgroup that a command and all its descendants run in; ``usage()`` is their CPU
    seconds. ``create()`` returns None where none can be made (not root, no cpuacct)."""

    def __init__(self, path: Path, counter: str):
        self.path, self.counter = path, counter

    @staticmethod
    def create() -> "CpuGroup | None":
        own = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path.lstrip("/")
        name = f"bench-grading-{os.getpid()}-{next(_groups)}"
        if (CGROUP_ROOT / "cpuacct" / "cpuacct.usage").exists() and "cpuacct" in own:
            candidate = CpuGroup(CGROUP_ROOT / "cpuacct" / own["cpuacct"] / name, "cpuacct.usage")
        elif (CGROUP_ROOT / "cgroup.controllers").exists():
            candidate = CpuGroup(CGROUP_ROOT / own.get("", "") / name, "cpu.stat")
        else:
            return None
        try:
            candidate.path.mkdir()
            return candidate
        except OSError:
            return None

    @property
    def kind(self) -> str:
        return "cgroup v1 cpuacct" if self.counter == "cpuacct.usage" else "cgroup v2 cpu.stat"

    def enter(self) -> None:
        """Move the calling process in (run in the child, before it executes the command)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def usage(self) -> float:
        text = (self.path / self.counter).read_text()
        if self.counter == "cpuacct.usage":
            return int(text) / 1e9
        return int(dict(line.split() for line in text.splitlines())["usage_usec"]) / 1e6

    def remove(self) -> None:
        for _ in range(100):  # a sandbox's last processes may take a moment to be gone
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)
        say(f"warning: could not remove {self.path}")


_groups = itertools.count()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list, cwd: Path, measure_with_cgroup: bool = True, env: dict | None = None,
        check: bool = True) -> Run:
    """Run ``cmd``; its wall seconds and the CPU seconds of it and every process it started."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    group = CpuGroup.create() if measure_with_cgroup else None
    before, start = children_cpu(), time.perf_counter()
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, preexec_fn=group.enter if group else None)
    wall, rusage_cpu = time.perf_counter() - start, children_cpu() - before
    cpu = rusage_cpu
    if group:
        cpu = group.usage()
        group.remove()
    if check and done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n"
                         f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return Run(wall, cpu, rusage_cpu, done.stdout + done.stderr, done.returncode)


def cpu_accounting() -> str:
    group = CpuGroup.create()
    if group is None:
        return "getrusage(RUSAGE_CHILDREN) (no cgroup could be created here; it undercounts " \
               "processes killed inside the sandbox)"
    group.remove()
    return f"{group.kind} ({group.path.parent}/bench-grading-*)"


# --- warm-interpreter cell time ---------------------------------------------------------------

def warm_cell_times(batch: list[tuple[Notebook, Path]], tmp: Path) -> tuple[dict, Run]:
    """CPU seconds of each submission's cells in one warm process ({path: seconds or an error
    message}), and the measured run of that whole process."""
    jobs, results = tmp / "warm-jobs.json", tmp / "warm-results.json"
    jobs.write_text(json.dumps([[str(nb.source), str(path)] for nb, path in batch]))
    cwd = tmp / "warm-cwd"
    cwd.mkdir()
    measured = run([sys.executable, Path(__file__).resolve(), "--warm-cells", jobs, results],
                   cwd, env=WARM_ENV)
    return json.loads(results.read_text()), measured


def warm_main(jobs_file: Path, results_file: Path) -> None:
    """(In the warm process.) Run each submission's cells; write {path: CPU seconds or error}."""
    import gc
    import io
    import contextlib
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401 - imported before timing, as a pre-forked grader would
    import torch
    import dltips  # noqa: F401
    from autograder.notebooks import merge, read_source

    torch.set_num_threads(1)
    results = {}
    for source_path, submission in json.loads(jobs_file.read_text()):
        namespace, current = {"__name__": "__main__", "__builtins__": __builtins__}, None
        try:
            plan = merge(read_source(Path(source_path)), json.loads(Path(submission).read_text()))
            code = [(c.grade_id, compile(c.source, f"<{c.grade_id}>", "exec")) for c in plan.cells]
            start = time.process_time()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                for grade_id, compiled in code:
                    current = grade_id
                    exec(compiled, namespace)  # noqa: S102 - the course's own notebooks
            results[submission] = time.process_time() - start
        except BaseException as exc:  # noqa: BLE001 - reported, and the assignment skipped
            results[submission] = f"cell {current}: {type(exc).__name__}: {exc}"[:500]
        plt.close("all")
        del namespace
        gc.collect()
    results_file.write_text(json.dumps(results))


# --- our grader -------------------------------------------------------------------------------

def sandbox_problem(tmp: Path) -> str | None:
    """Why the grader cannot sandbox here (None if it can): grade an empty folder through the
    CLI, which checks the sandbox before anything else."""
    (tmp / "empty").mkdir()
    probe = run([sys.executable, "-m", "autograder", "grade", tmp / "empty", "--out",
                 tmp / "probe-out"], ROOT, measure_with_cgroup=False, check=False)
    return None if probe.returncode == 0 else probe.output.strip()[-500:]


def grade_ours(submissions: Path, out: Path, jobs: int | None, timeout: float,
               sandboxed: bool) -> Run:
    cmd = [sys.executable, "-m", "autograder", "grade", submissions, "--out", out,
           "--timeout", str(timeout)]
    cmd += ["--jobs", str(jobs)] if jobs else []
    cmd += [] if sandboxed else ["--no-sandbox"]
    return run(cmd, ROOT, check=False)  # exit status 2: the grader failed on some submission


def our_scores(out: Path) -> dict[tuple[str, str], float]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}


def max_scores(notebooks: list[Notebook]) -> dict[str, float]:
    from autograder.notebooks import read_source
    totals: dict[str, float] = {}
    for nb in notebooks:
        totals[nb.assignment] = totals.get(nb.assignment, 0.0) + \
            read_source(nb.source).max_score
    return totals


# --- plain nbgrader ---------------------------------------------------------------------------

NBGRADER_ARGS = ["--log-level=ERROR"]


def nbgrader_course(course: Path, assignments: list[str], submissions: Path) -> None:
    """A fresh nbgrader course folder: sources, the generated assignments, the submissions."""
    args = [f"--CourseDirectory.root={course}", *NBGRADER_ARGS]
    for assignment in assignments:
        shutil.copytree(ROOT / "solutions" / assignment, course / "source" / assignment)
        run([BIN / "nbgrader", "generate_assignment", assignment, "--force", *args], course,
            measure_with_cgroup=False)
    shutil.copytree(submissions, course / "submitted")


def grade_nbgrader(course: Path, assignments: list[str], timeout: float) -> Run:
    """``nbgrader autograde`` of every assignment, one command each (as nbgrader is used)."""
    wall = cpu = rusage_cpu = 0.0
    for assignment in assignments:
        one = run([BIN / "nbgrader", "autograde", assignment, "--create", "--force",
                   f"--CourseDirectory.root={course}", f"--Execute.timeout={int(timeout)}",
                   *NBGRADER_ARGS], course)
        wall, cpu, rusage_cpu = wall + one.wall, cpu + one.cpu, rusage_cpu + one.rusage_cpu
    return Run(wall, cpu, rusage_cpu)


def nbgrader_scores(course: Path) -> dict[tuple[str, str], float]:
    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for assignment in gradebook.assignments:
            for student in gradebook.students:
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except Exception:  # noqa: BLE001 - MissingEntry: not submitted
                    continue
                scores[(student.id, assignment.name)] = float(submission.score)
    return scores


def score_differences(ours: dict, theirs: dict, maxima: dict[str, float]) -> list[str]:
    """Every student/assignment whose scores differ, or that either grader left below full."""
    lines = []
    for key in sorted(set(ours) | set(theirs)):
        a, b, top = ours.get(key), theirs.get(key), maxima.get(key[1])
        if a is None or b is None or abs(a - b) > 1e-9:
            lines.append(f"{key[0]}/{key[1]}: ours {a}, nbgrader {b} (max {top:g})")
        elif abs(a - top) > 1e-9:
            lines.append(f"{key[0]}/{key[1]}: both {a:g}, below the maximum {top:g}")
    return lines


# --- the book (optional) ----------------------------------------------------------------------

def chapters() -> dict[str, float]:
    """Wall seconds to execute each book chapter (jupytext, then nbconvert; kernel start incl.)."""
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for md in sorted((ROOT / "book").glob("ch*.md")):
            nb = Path(tmp) / f"{md.stem}.ipynb"
            run([BIN / "jupytext", "--quiet", "--to", "ipynb", "-o", nb, md], ROOT, False)
            times[md.stem] = run([BIN / "jupyter", "nbconvert", "--to", "notebook", "--execute",
                                  "--output", nb.with_suffix(".out.ipynb"), nb], ROOT, False).wall
    return times


def book_cold() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT, Path(tmp) / "course", ignore=shutil.ignore_patterns(
            ".venv", "_build", ".git", "__pycache__"))
        return run([BIN / "jupyter-book", "build", Path(tmp) / "course"], ROOT, False).wall


# --- the report -------------------------------------------------------------------------------

@dataclass
class Report:
    rows: list[tuple[str, float | None, float | None, int | None]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def row(self, name: str, wall: float | None, cpu: float | None, n: int | None = None):
        self.rows.append((name, wall, cpu, n))

    def print(self, title: str) -> None:
        print(f"| {title} | wall s | CPU s | CPU s per submission |")
        print("| --- | ---: | ---: | ---: |")
        fmt = lambda x, d=1: "" if x is None else f"{x:.{d}f}"  # noqa: E731
        for name, wall, cpu, n in self.rows:
            print(f"| {name} | {fmt(wall)} | {fmt(cpu)} | {fmt(cpu / n if n and cpu else None, 2)} |")
        print()
        for line in self.lines:
            print(f"- {line}")


def check_warm(batch, warm: dict, skipped: dict[str, str]) -> None:
    """Skip every assignment whose cells failed in the warm process."""
    for nb, path in batch:
        outcome = warm.get(str(path), "no result")
        if isinstance(outcome, str) and nb.assignment not in skipped:
            skipped[nb.assignment] = f"does not run cleanly in a warm interpreter: {outcome}"


def benchmark(args, tmp: Path, report: Report) -> None:
    """The grading measurements, in order: batch, warm cells, our grader, plain nbgrader."""
    notebooks, skipped = discover(args.assignments)
    batch = write_batch(tmp / "submitted", notebooks, args.copies, skipped)
    say(f"warm interpreter: the cells of {len(batch)} submissions ...")
    warm, warm_run = warm_cell_times(batch, tmp)
    check_warm(batch, warm, skipped)
    batch = drop(batch, skipped)
    for assignment, why in sorted(skipped.items()):
        say(f"skipped {assignment}: {why}")
        report.lines.append(f"skipped {assignment}: {why}")
    if not batch:
        raise SystemExit("nothing to grade: every assignment was skipped")
    assignments = sorted({nb.assignment for nb, _ in batch})
    n = len(batch)

    problem = sandbox_problem(tmp)
    if problem:
        say(f"the sandbox is unavailable, grading with --no-sandbox: {problem}")
        report.lines.append(f"sandbox unavailable, our grader ran with --no-sandbox: {problem}")
    jobs = args.jobs or len(os.sched_getaffinity(0))
    say(f"our grader: {n} submissions, --jobs {jobs} ...")
    ours = grade_ours(tmp / "submitted", tmp / "ours", args.jobs, args.timeout, problem is None)

    if ours.returncode != 0:
        report.lines.append(f"our grader exited with status {ours.returncode}: "
                            f"{ours.output.strip()[-300:]}")
    say(f"plain nbgrader autograde: {n} submissions ...")
    nbgrader_course(tmp / "course", assignments, tmp / "submitted")
    theirs = grade_nbgrader(tmp / "course", assignments, args.timeout)

    warm_cpu = sum(warm[str(p)] for _, p in batch)
    report.row(f"plain `nbgrader autograde` ({len(assignments)} commands, one per assignment)",
               theirs.wall, theirs.cpu, n)
    report.row(f"our grader, --jobs {jobs}, {'sandbox' if problem is None else 'NO sandbox'}",
               ours.wall, ours.cpu, n)
    report.row("warm interpreter, cells only (sum over submissions)", None, warm_cpu, n)
    for assignment in assignments:
        own = [warm[str(p)] for nb, p in batch if nb.assignment == assignment]
        report.row(f"warm cells: {assignment} ({len(own)} submissions)", None, sum(own), len(own))
    report.row("(the warm process, imports included)", warm_run.wall, warm_run.cpu)

    differences = score_differences(our_scores(tmp / "ours"), nbgrader_scores(tmp / "course"),
                                     max_scores([nb for nb in notebooks
                                                 if nb.assignment in assignments]))
    overhead = (ours.cpu - warm_cpu) / n
    ratio = theirs.wall / ours.wall
    report.lines += [
        f"batch: {n} submissions, {args.copies} of each of {len(assignments)} assignments "
        f"({', '.join(assignments)}); per-cell timeout {args.timeout:g} s for both graders",
        f"scores identical on the honest submissions: {'yes' if not differences else 'NO'}",
        *[f"  score difference: {d}" for d in differences],
        f"overhead per submission: ({ours.cpu:.1f} - {warm_cpu:.1f}) / {n} = {overhead:.2f} s "
        f"of CPU (target <= {OVERHEAD_TARGET} s): {'met' if overhead <= OVERHEAD_TARGET else 'NOT met'}",
        f"throughput: nbgrader wall / our wall = {theirs.wall:.1f} / {ours.wall:.1f} = {ratio:.2f}x "
        f"(target >= {THROUGHPUT_TARGET:g}x on 2 cores): "
        f"{'met' if ratio >= THROUGHPUT_TARGET else 'NOT met'}",
        f"CPU seconds from {cpu_accounting()}; getrusage(RUSAGE_CHILDREN) would say "
        f"{ours.rusage_cpu:.1f} s for our grader, {theirs.rusage_cpu:.1f} s for nbgrader",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2,
                        help="copies of each assignment's correct submission (default 2)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="our grader's --jobs (default: its own, one per core)")
    parser.add_argument("--timeout", type=float, default=60,
                        help="seconds per cell, for both graders (default 60)")
    parser.add_argument("--assignments", nargs="+", metavar="NAME",
                        help="only these assignments (default: every one in solutions/)")
    parser.add_argument("--book", action="store_true",
                        help="also time each book chapter's execution and a cold book build")
    parser.add_argument("--warm-cells", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_cells:
        return warm_main(*args.warm_cells)
    if args.copies < 1 or (args.jobs is not None and args.jobs < 1):
        parser.error("--copies and --jobs must be at least 1")
    report = Report()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        benchmark(args, Path(tmp), report)
    if args.book:
        say("the book: each chapter, then a cold build ...")
        for chapter, seconds in chapters().items():
            report.row(f"execute {chapter} (nbconvert, kernel start incl.)", seconds, None)
        report.row("jupyter-book build, cold (no cache)", book_cold(), None)
    report.lines.append(f"load average (1 min) at the start {load[0]:.1f}, at the end "
                        f"{os.getloadavg()[0]:.1f}, on {len(os.sched_getaffinity(0))} cores")
    report.print(f"measurement ({len(os.sched_getaffinity(0))} cores)")


if __name__ == "__main__":
    main()
