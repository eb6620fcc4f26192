"""How long a live demo takes to redraw in JupyterLab, per demo.

    .venv/bin/python benchmarks/demo_redraw.py [ch04 ch05 ...]

Runs each chapter's code (as JupyterLab would, without the static grid), keeping every demo it
builds (IPython magics such as %matplotlib are skipped); then, for each demo, moves each control of its grid to each of its other grid values
(the rest at their starting values) and times what the kernel does for that move: ``draw`` and
the PNG rendering. The first visit to a setting is timed (a demo redraws a setting it has shown
before from its cache, in about no time). Prints a Markdown table.
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def chapter_demos(chapter: Path) -> list:
    """Execute the chapter's code cells in a fresh namespace; return the demos it built."""
    import jupytext

    from dltips import widgets
    built = []
    original = widgets.Demo.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)
    widgets.Demo.__init__ = recording
    try:
        notebook = jupytext.read(chapter)
        code = "\n".join(line for c in notebook.cells if c.cell_type == "code"
                         for line in c.source.splitlines() if not line.startswith("%"))
        cwd = os.getcwd()
        os.chdir(chapter.parent)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the chapter's printed results
                exec(compile(code, f"<{chapter.stem}>", "exec"), {"__name__": "__main__"})
        finally:
            os.chdir(cwd)
    finally:
        widgets.Demo.__init__ = original
    return built


def redraw_times(demo) -> list[float]:
    from dltips.plotting import figure_png
    start = demo.values()
    times = []
    for name, values in demo.grid.items():
        for value in values:
            if value == start[name]:
                continue
            t0 = time.perf_counter()
            figure_png(demo.draw(**{**start, name: value}))
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    os.environ.pop("DLTIPS_STATIC_DEMOS", None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    wanted = sys.argv[1:]
    chapters = [p for p in sorted((ROOT / "book").glob("ch*.md"))
                if not wanted or any(p.stem.startswith(w) for w in wanted)]
    print("| demo | moves | median (ms) | slowest (ms) |")
    print("| --- | ---: | ---: | ---: |")
    for chapter in chapters:
        for demo in chapter_demos(chapter):
            times = redraw_times(demo)
            if times:
                print(f"| {chapter.stem[:4]}: {demo.title} | {len(times)} | "
                      f"{statistics.median(times) * 1e3:.0f} | {max(times) * 1e3:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
