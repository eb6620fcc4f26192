"""Command line: ``python -m autograder {grade,release} ...``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .release import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade a folder of submissions",
                           description="Grade SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb"
                           " and write OUT/grades.csv, OUT/cells.csv and OUT/feedback/.")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--out", type=Path, required=True, help="folder for the results")
    grade.add_argument("--db", help="SQLAlchemy URL of the gradebook "
                       "(default: sqlite:///OUT/gradebook.db)")
    grade.add_argument("--source", type=Path, default=ROOT / "solutions",
                       help="folder of source notebooks (default: the course's solutions/)")
    grade.add_argument("--timeout", type=float, default=60, help="seconds per cell (default 60)")
    grade.add_argument("--jobs", type=int, default=None,
                       help="submissions graded at once (default: one per core)")
    grade.add_argument("--cluster", metavar="ADDRESS",
                       help="grade on the workers of this Dask scheduler (e.g. "
                       "tcp://10.0.0.5:8786) instead of this machine; see the README")
    grade.add_argument("--regrade", action="store_true",
                       help="grade again even submissions unchanged since their last grading")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code without the Bubblewrap sandbox and cgroup limits "
                       "(only where no sandbox can be had; cells.csv and the feedback say so)")

    release = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    release.add_argument("assignments", nargs="*", help="default: all")

    args = parser.parse_args(argv)
    if args.command == "grade":
        if args.timeout <= 0 or (args.jobs is not None and args.jobs < 1):
            parser.error("--timeout must be positive and --jobs at least 1")
        from .grade import grade_all
        return grade_all(args.submissions, args.out, args.db, args.source, args.timeout,
                         args.jobs, args.regrade, sandboxed=not args.no_sandbox,
                         cluster=args.cluster)
    from .release import release as do_release
    for path in do_release(args.assignments or None):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
