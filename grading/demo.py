"""make demo: build the student release, grade the reference and the blank starter of every
assignment, execute every notebook in quick mode, build the report PDF of each executed notebook,
and print a summary table (all under build/)."""
import sys
import time
from pathlib import Path

from grading import assignments, grader, pdf_report, release
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

    print(f"== building the reports in {BUILD / 'reports'}")
    reports = {name: build_report(run) for name, run in runs.items() if run.output.exists()}

    print(f"\n{'assignment':<14}{'reference':>11}{'starter':>9}  notebook (quick mode)")
    failed = False
    for assignment in loaded:
        reference, starter = references[assignment.name], built.starters[assignment.name]
        run = runs.get(assignment.name)
        notebook = "none" if run is None else (
            f"ok, {run.figures} figures, {run.seconds:.0f} s: {run.output.relative_to(BUILD.parent)}" if run.ok
            else f"FAILED: {run.error}")
        print(f"{assignment.name:<14}{reference.score:>6g}/{reference.max_score:<4g}"
              f"{starter.score:>4g}/{starter.max_score:<4g}  {notebook}")
        if assignment.name in reports:
            print(f"{'':<34}{reports[assignment.name]}")
        failed |= reference.score != reference.max_score or (run is not None and not run.ok)
        failed |= reports.get(assignment.name, "").startswith("report FAILED")
    print(f"\ntotal time {time.monotonic() - started:.0f} s; student release in {built.path}")
    return 1 if failed else 0


def build_report(run) -> str:
    """The report PDF of an executed notebook, as the student's last cell builds it; one summary line.
    Quick mode is among its warnings, as expected here."""
    out = BUILD / "reports" / f"{Path(run.notebook).stem}.pdf"
    try:
        report = pdf_report.build(run.output, out)
    except Exception as error:  # a report that cannot be built is a failure of the demo, not a crash
        return f"report FAILED: {type(error).__name__}: {error}"
    others = [w for w in report.warnings if "QUICK = True" not in w]
    print(f"  {out.name}: {report.pages} pages, {len(report.items)} questions, {report.seconds:.1f} s"
          + "".join(f"\n    warning: {w}" for w in others))
    return (f"report: {out.relative_to(BUILD.parent)}, {report.pages} pages, "
            f"{len(report.items)} questions, {len(others)} warnings besides quick mode")


if __name__ == "__main__":
    sys.exit(main())
