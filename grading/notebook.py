"""Checks from a notebook cell: `from grading.notebook import check; check("trainer")`."""
from pathlib import Path

from grading import assignments, grader, results
from grading.sandbox import Launcher


def check(assignment_name: str, path=None, public_only: bool = True) -> float:
    """Run the public checks on your module (solutions/<module>.py by default), print the table,
    and return the points earned. Your code runs in a separate process, as when it is graded."""
    assignment = assignments.load(assignment_name)
    path = Path(path) if path else assignment.solution_path
    launcher = Launcher.for_own_code(assignment.preload)
    try:
        report = grader.grade(assignment, path, launcher, hidden=not public_only)
    finally:
        launcher.close()
    print(results.table(report))
    return report.score
