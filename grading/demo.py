"""make demo: build the student release, grade the reference and the blank starter of every
assignment, execute every notebook in quick mode, and print a summary table (all under build/)."""
import sys
import time
from pathlib import Path

from grading import assignments, grader, release
from grading.quickrun import run_quick
from grading.sandbox import Launcher

BUILD = Path(__file__).resolve().parent.parent / "build"


def main() -> int:
    started = time.monotonic()
    loaded = assignments.load_all()
    print(f"== building the student release in {BUILD / 'release'}")
    built = release.build(BUILD / "release")

    print("== grading the reference solutions")
    launcher = Launcher("auto", sorted({name for a in loaded for name in a.preload}))
    try:
        references = {a.name: grader.grade(a, a.solution_path, launcher) for a in loaded}
    finally:
        launcher.close()

    print("== executing the notebooks in quick mode")
    runs = {}
    for assignment in loaded:
        if assignment.notebook:
            runs[assignment.name] = run_quick(assignment.notebook, BUILD / "notebooks")
            run = runs[assignment.name]
            print(f"  {assignment.notebook}: {'ok' if run.ok else 'FAILED ' + run.error} ({run.seconds:.0f} s)")

    print(f"\n{'assignment':<14}{'reference':>11}{'starter':>9}  notebook (quick mode)")
    failed = False
    for assignment in loaded:
        reference, starter, run = references[assignment.name], built.starters[assignment.name], runs.get(assignment.name)
        notebook = "none" if run is None else (
            f"ok, {run.figures} figures, {run.seconds:.0f} s: {run.output.relative_to(BUILD.parent)}" if run.ok
            else f"FAILED: {run.error}")
        print(f"{assignment.name:<14}{reference.score:>6g}/{reference.max_score:<4g}"
              f"{starter.score:>4g}/{starter.max_score:<4g}  {notebook}")
        failed |= reference.score != reference.max_score or (run is not None and not run.ok)
    print(f"\ntotal time {time.monotonic() - started:.0f} s; student release in {built.path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
