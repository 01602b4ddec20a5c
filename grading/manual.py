"""The manual half of grading: each assignment's report items, the written answers and figures a TA
grades by hand.

An assignment's package may hold a `manual.py` with `ITEMS = [ReportItem(...), ...]` in the order
of its notebook: the `grade_id` of the notebook's answer cell, a title, the statement's points and
short criteria (what a full answer says). The student release leaves those files out (the criteria
are answers), so there `items()` is empty.
"""
import importlib
import importlib.util
import re
from dataclasses import dataclass

PACKAGE = "grading.assignments"


@dataclass(frozen=True)
class ReportItem:
    grade_id: str      # the nbgrader grade_id of the answer cell in the notebook
    title: str
    points: float      # from the statement (or the kit's rule where the statement gives none)
    criteria: str = ""  # for the graders: what a full answer shows or says


class ManualRubricError(ValueError):
    pass


def items(assignment_name: str) -> list:
    """The assignment's report items, [] when its package has no manual.py (the student release)."""
    module_name = f"{PACKAGE}.{assignment_name}.manual"
    try:
        if importlib.util.find_spec(module_name) is None:
            return []
    except ModuleNotFoundError:  # no such assignment package either
        return []
    found = list(getattr(importlib.import_module(module_name), "ITEMS", []))
    _validate(assignment_name, found)
    return found


def _validate(assignment_name: str, found: list) -> None:
    seen = set()
    for item in found:
        where = f"{assignment_name}/manual.py"
        if not isinstance(item, ReportItem):
            raise ManualRubricError(f"{where}: {item!r} is not a ReportItem")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", item.grade_id) or item.grade_id in seen:
            raise ManualRubricError(f"{where}: grade_id {item.grade_id!r} is not a unique nbgrader id")
        if not item.points > 0:
            raise ManualRubricError(f"{where}: {item.grade_id} has {item.points} points (ungraded items stay out)")
        seen.add(item.grade_id)


def column(item: ReportItem) -> str:
    """The gradebook column of an item, e.g. 'vae-3a (2 pts)': `merge` reads its maximum from it."""
    return f"{item.grade_id} ({item.points:g} pts)"


def columns(assignment_name: str) -> list:
    """The empty manual columns `batch` adds to its CSV, one per report item."""
    return [column(item) for item in items(assignment_name)]


def total_points(assignment_name: str) -> float:
    return sum(item.points for item in items(assignment_name))


def listing(assignment_name: str) -> list:
    """Lines for `python -m grading list -v`."""
    found = items(assignment_name)
    width = max([42] + [len(item.title) + 8 for item in found])
    return [f"    {'report: ' + item.title:<{width}} {item.points:>3g}  (manual, {item.grade_id})" for item in found]


def gradescope_readme(assignment_name: str) -> str:
    """The README of the Gradescope zip: the manual questions to create, in order, with their points
    and criteria (the report PDF has one item a page, in the same order)."""
    found = items(assignment_name)
    if not found:
        return f"{assignment_name}: no manual questions (the autograder gives every point).\n"
    lines = [f"{assignment_name}: manual questions of the written report",
             "",
             "The autograder grades the code. Create these questions in Gradescope's outline, in this order,",
             "with these points: students build their report with the notebook's last cell (or",
             "`python -m grading report NOTEBOOK.ipynb OUT.pdf`), one question a page after a cover page,",
             "and assign each page to its question. Export the scores as CSV and merge them with",
             "`python -m grading merge grades.csv scores.csv --out final.csv`.",
             ""]
    for number, item in enumerate(found, 1):
        lines.append(f"{number}. {item.title} ({item.points:g} pts)  [{item.grade_id}]")
        lines += [f"   {line}" for line in _wrap(item.criteria)]
    lines += ["", f"Total: {total_points(assignment_name):g} points."]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 96) -> list:
    import textwrap
    return textwrap.wrap(" ".join(text.split()), width) if text else []


def notebook_mismatches(assignment_name: str, notebook) -> list:
    """How the rubric and the notebook's graded answer cells disagree (grade_id, order, points)."""
    from grading.pdf_report import read_items, read_notebook
    tagged = [(i.grade_id, i.points) for i in read_items(read_notebook(notebook)) if i.points > 0]
    listed = [(i.grade_id, i.points) for i in items(assignment_name)]
    if tagged == listed:
        return []
    return [f"{assignment_name}: manual.py lists {listed}, the notebook's graded answers are {tagged}"]
