"""python -m grading {list,grade,batch,report,merge,release,gradescope}: the kit's command line (stable:
other tools call it).

Exit status: 0 whenever a grade was produced (even 0 points), 2 for a usage error (unknown
assignment, missing file), 1 when grading could not run at all (e.g. the sandbox is unavailable).
"""
import argparse
import importlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grading import assignments

USAGE_ERROR, RUN_ERROR = 2, 1


class UsageError(Exception):
    pass


def _assignment(name):
    try:
        return assignments.load(name)
    except assignments.UnknownAssignment as error:
        raise UsageError(str(error)) from None


def _limits(args):
    from grading.runner import Limits
    return Limits(memory_megabytes=args.memory_mb, total_seconds=args.time_limit)


def command_list(args) -> int:
    from grading import manual
    for assignment in assignments.load_all():
        hidden = "" if assignment.has_hidden_checks() else "  (public checks only)"
        print(f"{assignment.name:<14} {assignment.points:>4g} points  {assignment.module}.py  "
              f"notebooks/{assignment.notebook}{hidden}")
        if args.verbose:
            for question in assignment.questions:
                print(f"    {question.name:<42} {question.points:>3g}")
            for line in manual.listing(assignment.name):
                print(line)
    return 0


def command_grade(args) -> int:
    from grading import grader, results
    from grading.sandbox import Launcher
    assignment = _assignment(args.assignment)
    if not Path(args.submission).exists():
        raise UsageError(f"no such file or folder: {args.submission}")
    private = [Path(args.submission).resolve().parent] + ([Path(args.results).resolve().parent] if args.results else [])
    launcher = Launcher(args.sandbox, assignment.preload, private=private)
    try:
        report = grader.grade(assignment, args.submission, launcher, _limits(args), hidden=not args.public_only)
    finally:
        launcher.close()
    print(results.table(report))
    if args.results:
        results.write_safely(args.results, json.dumps(results.gradescope(report), indent=2))
    return 0


def command_batch(args) -> int:
    from grading import grader, results
    from grading.sandbox import Launcher
    assignment = _assignment(args.assignment)
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder}")
    students = sorted(p for p in folder.iterdir() if not p.name.startswith((".", "__")))
    private = [folder.resolve(), Path(args.csv).resolve().parent]
    results_dir = Path(args.results_dir) if args.results_dir else None
    if results_dir:
        results_dir.mkdir(parents=True, exist_ok=True)
        private.append(results_dir.resolve())
    if args.report:
        private.append(Path(args.report).resolve().parent)
    if args.reports:
        private.append(Path(args.reports).resolve())
    launcher = Launcher(args.sandbox, assignment.preload, private=private)
    launcher.start()
    if launcher.warning:
        print(launcher.warning, file=sys.stderr)
    jobs = args.jobs
    if launcher.isolation in ("uid", "none") and jobs > 1:
        # Without namespaces, /tmp and /dev/shm are shared: two submissions graded at once could
        # pass files to each other. One at a time, each one's leftovers are deleted before the next.
        print("note: without namespaces, submissions are graded one at a time", file=sys.stderr)
        jobs = 1

    def grade_one(path):
        try:
            report = grader.grade(assignment, path, launcher, _limits(args), hidden=True)
        except Exception as error:  # one broken submission never stops the batch
            return path, None, f"{type(error).__name__}: {error}"
        if results_dir:
            results.write_safely(results_dir / f"{student_name(path)}.json",
                                 json.dumps(results.gradescope(report), indent=2))
        return path, report, ""

    rows = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for path, report, problem in pool.map(grade_one, students):
                score = f"{report.score:g}/{report.max_score:g}" if report else f"error: {results.clean(problem)}"
                print(f"{student_name(path):<32} {score}", flush=True)
                rows.append((student_name(path), report, problem))
    finally:
        launcher.close()
    from grading import manual
    results.write_csv(args.csv, assignment, rows, manual.columns(assignment.name))
    print(f"{len(rows)} submissions graded; gradebook written to {args.csv}")
    if args.reports:
        built = _instructor_tool("pdf_report").build_reports(students, Path(args.reports))
        print(f"{sum(1 for b in built if b.pdf)} report PDFs written to {args.reports}")
    if args.report:
        class_report = _instructor_tool("class_report")
        shown = class_report.write_report(args.report, assignment, rows, students, args.similarity_threshold)
        print(f"class report written to {args.report} ({len(shown.pairs)} similar pairs)")
    return 0


def student_name(path: Path) -> str:
    """A submission's file or folder name, as safe text (names are chosen by students: they
    may hold any byte, and a path separator once made safe)."""
    from grading.results import clean
    name = path.stem if path.is_file() else path.name
    return clean(name, 120).replace("/", "_") or "_"


def _instructor_tool(name: str):
    try:
        return importlib.import_module(f"grading.{name}")
    except ModuleNotFoundError:
        raise UsageError(f"'{name}' is an instructor command, not part of the student bundle") from None


def command_release(args) -> int:
    release = _instructor_tool("release")
    release.build(Path(args.out_dir), repo_url=args.repo_url, check=not args.no_check)
    return 0


def command_report(args) -> int:
    from grading import pdf_report
    return pdf_report.command(args.notebook, args.out_pdf, code=args.code)


def command_merge(args) -> int:
    return _instructor_tool("merge").command(args.grades_csv, args.manual_csv, args.out)


def command_gradescope(args) -> int:
    gradescope = _instructor_tool("gradescope")
    assignment = _assignment(args.assignment)
    path = gradescope.build(assignment, Path(args.out_zip))
    print(f"Gradescope autograder for {assignment.name} written to {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m grading", description="The course kit's autograder.")
    commands = main.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="assignments and their points")
    listing.add_argument("-v", "--verbose", action="store_true", help="also list the questions")
    listing.set_defaults(run=command_list)

    def grading_options(command):
        command.add_argument("--sandbox", default="auto", choices=["auto", "required", "namespaces", "uid", "none"],
                             help="isolation of submissions (default: auto = the strongest available; it refuses "
                                  "to grade without isolation: only 'none' runs submissions unisolated)")
        command.add_argument("--memory-mb", type=int, default=1024, help="memory for a submission (default 1024)")
        command.add_argument("--time-limit", type=float, default=900, help="seconds per submission (default 900)")

    grade = commands.add_parser("grade", help="grade one submission")
    grade.add_argument("assignment")
    grade.add_argument("submission", help=".py, .ipynb, folder or .zip")
    grade.add_argument("--results", help="write Gradescope's results.json here")
    grade.add_argument("--public-only", action="store_true", help="run only the checks students have")
    grading_options(grade)
    grade.set_defaults(run=command_grade)

    batch = commands.add_parser("batch", help="grade a folder of submissions (one file or folder per student)")
    batch.add_argument("assignment")
    batch.add_argument("folder")
    batch.add_argument("--csv", required=True, help="gradebook to write")
    batch.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    batch.add_argument("--results-dir", help="also write one results.json per student here")
    batch.add_argument("--reports", help="also build each student's report PDF (from their notebook) in this folder")
    batch.add_argument("--report", help="also write the class's HTML report here (totals, questions, similar pairs)")
    batch.add_argument("--similarity-threshold", type=float, default=0.9,
                       help="list pairs where at least this fraction of one file's own code is in the other "
                            "(default 0.9)")
    grading_options(batch)
    batch.set_defaults(run=command_batch)

    release = commands.add_parser("release", help="build the student bundle")
    release.add_argument("out_dir")
    release.add_argument("--repo-url", help="the students' repository, for the Colab badges and set-up cells")
    release.add_argument("--no-check", action="store_true", help="skip the checks after writing (faster)")
    release.set_defaults(run=command_release)

    report = commands.add_parser("report", help="build the PDF report of a notebook's written answers and figures")
    report.add_argument("notebook")
    report.add_argument("out_pdf")
    report.add_argument("--code", action="store_true", help="also show the code of the figure cells")
    report.set_defaults(run=command_report)

    merge = commands.add_parser("merge", help="combine the autograded gradebook with manually graded columns")
    merge.add_argument("grades_csv")
    merge.add_argument("manual_csv")
    merge.add_argument("--out", help="the final gradebook (default: GRADES-final.csv)")
    merge.set_defaults(run=command_merge)

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder zip")
    gradescope.add_argument("assignment")
    gradescope.add_argument("out_zip")
    gradescope.set_defaults(run=command_gradescope)
    return main


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except Exception as error:
        from grading.identities import IdentityError
        from grading.sandbox import SandboxError
        if isinstance(error, (SandboxError, IdentityError)):
            print(f"error: {error}", file=sys.stderr)
            return RUN_ERROR
        raise
