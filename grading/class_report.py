"""`python -m grading batch ASSIGNMENT DIR --csv g.csv --report class.html`: the instructor's view of a class.

One self-contained HTML page (figures embedded as PNG, no JavaScript, a Content-Security-Policy
that forbids any script): the distribution of totals; per question, how many got full, partial
and no marks and the most frequent mistakes (messages that differ only in their numbers or quoted
values count as one); the submissions that could not be graded and why; the slowest; pairs of
submissions that share more code than independent work does (`grading.similarity`); and a row
per student that every name links to. Student names and messages are hostile input: all text is
HTML-escaped.
"""
import base64
import html
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from grading import results, similarity

SLOWEST_SHOWN = 10
FAILURES_SHOWN = 5          # most frequent mistakes listed per question
NAMES_SHOWN = 8             # students named per mistake (all are in the table at the bottom)
MESSAGES_SHOWN = 3          # messages per student in the table
PAIRS_SHOWN = 30            # similar pairs shown side by side, best first
# The note by which grading.grader says that nothing in a submission could be graded.
NOTHING_GRADABLE = "Nothing gradable: "


@dataclass
class Student:
    """One row of the batch, with what the page needs to show and link it."""
    name: str
    anchor: str
    report: object                  # grading.results.Report, or None when grading raised
    problem: str = ""               # why it could not be graded; "" when it was
    path: Optional[Path] = None

    @property
    def graded(self) -> bool:
        return not self.problem

    @property
    def total(self) -> float:
        return self.report.score if self.report is not None and self.graded else 0.0


@dataclass
class Mistake:
    template: str                   # the message with numbers and quoted values replaced
    example: str                    # one message as a student got it
    students: List[Student] = field(default_factory=list)


@dataclass
class QuestionStatistics:
    name: str
    points: float
    full: int
    partial: int
    zero: int
    mistakes: List[Mistake]         # most frequent first

    @property
    def graded(self) -> int:
        return self.full + self.partial + self.zero


@dataclass
class ClassReport:
    """Everything the page shows."""
    assignment: object
    students: List[Student]
    statistics: List[QuestionStatistics]
    pairs: list                     # grading.similarity.Pair, naming students by their anchors
    threshold: float
    compared: Optional[int]         # submissions whose code was compared; None: similarity not computed

    def similar_names(self) -> List[Tuple[str, str]]:
        names = {s.anchor: s.name for s in self.students}
        return [(names[p.first], names[p.second]) for p in self.pairs]


# -- the numbers -------------------------------------------------------------------------------------

_QUOTED = re.compile(r"""(?<!\w)'[^'\n]*'(?!\w)|(?<!\w)"[^"\n]*"(?!\w)""")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:0x[0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)"
                     r"(?!\w)")
_LIST_OF_NUMBERS = re.compile(r"\[[#,\s\[\]]*#[#,\s\[\]]*\]")


def failure_template(message: str) -> str:
    """The mistake behind a message: quoted values become '…', numbers #, lists of numbers [#…].
    "Q8 values: got 0.52, expected 1.3" and "...: got 2.6, expected 1.3" are the same mistake."""
    template = _QUOTED.sub("'…'", message)
    template = _NUMBER.sub("#", template)
    return _LIST_OF_NUMBERS.sub("[#…]", template)


def _ungraded_reason(report, problem: str) -> str:
    """Why a submission was not graded at all ("" if it was): grading raised, the file could
    not be imported, or nothing in it was Python to grade."""
    if report is None:
        return problem or "the grader failed"
    if report.import_error:
        return f"importing the file failed: {report.import_error}"
    return next((note for note in report.notes if note.startswith(NOTHING_GRADABLE)), "")


def students_of(rows, submissions=None) -> List[Student]:
    """The batch's rows (name, report or None, problem) as Students; `submissions`, if given,
    holds each row's path, in the same order."""
    paths = list(submissions) if submissions is not None else [None] * len(rows)
    return [Student(name, f"student-{i}", report, _ungraded_reason(report, problem),
                    None if path is None else Path(path))
            for i, ((name, report, problem), path) in enumerate(zip(rows, paths))]


def question_statistics(assignment, students: Sequence[Student]) -> List[QuestionStatistics]:
    """Per question of `assignment`, over the graded students: full, partial and zero marks, and
    the mistakes, each counted once per student."""
    graded = [s for s in students if s.graded]
    statistics = []
    for question in assignment.questions:
        scores, mistakes = Counter(), {}
        for student in graded:
            result = next((q for q in student.report.questions if q.name == question.name), None)
            score, maximum = (result.score, result.max_score) if result else (0.0, question.points)
            scores["full" if score >= maximum - 1e-9 else "zero" if score <= 1e-9 else "partial"] += 1
            for message in dict.fromkeys(result.messages if result else []):
                mistake = mistakes.setdefault(failure_template(message), Mistake(failure_template(message), message))
                if student not in mistake.students:
                    mistake.students.append(student)
        ranked = sorted(mistakes.values(), key=lambda m: (-len(m.students), m.template))
        statistics.append(QuestionStatistics(question.name, question.points, scores["full"], scores["partial"],
                                             scores["zero"], ranked))
    return statistics


def _histogram(students: Sequence[Student], max_points: float) -> str:
    """Totals as a histogram, a data: URI of a PNG (students not graded shown apart, at 0)."""
    import numpy as np
    from matplotlib.figure import Figure
    figure = Figure(figsize=(8, 2.8), dpi=100)
    axes = figure.subplots()
    bins = np.linspace(0, max_points or 1, 21)
    groups = [[s.total for s in students if s.graded], [0.0 for s in students if not s.graded]]
    axes.hist(groups, bins=bins, stacked=True, color=["#3b6ea5", "#b0b0b0"], label=["graded", "not graded"],
              edgecolor="white")
    axes.set_xlabel(f"total (out of {max_points:g})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _sources(assignment, students: Sequence[Student]) -> dict:
    """{anchor: Python source} of every submission that can be read (as the grader reads it)."""
    from grading.submission import NoSubmission, load
    sources = {}
    for student in students:
        if student.path is None:
            continue
        try:
            sources[student.anchor] = load(student.path, assignment.file_names).source.decode("utf-8", "replace")
        except (NoSubmission, OSError):
            continue
    return sources


# -- the page ----------------------------------------------------------------------------------------

def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _link(student: Student) -> str:
    return f'<a href="#{student.anchor}">{_e(student.name)}</a>'


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "–"


def _bar(stats: QuestionStatistics) -> str:
    """Full, partial and zero as one stacked bar (plain CSS widths)."""
    segments = [(stats.full, "full"), (stats.partial, "partial"), (stats.zero, "zero")]
    return '<div class="bar">' + "".join(
        f'<span class="{kind}" style="width:{100 * count / stats.graded:.2f}%"></span>'
        for count, kind in segments if count and stats.graded) + "</div>"


def _names(students: Sequence[Student]) -> str:
    shown = ", ".join(_link(s) for s in students[:NAMES_SHOWN])
    return shown + (f" and {len(students) - NAMES_SHOWN} more" if len(students) > NAMES_SHOWN else "")


def _questions_section(statistics: List[QuestionStatistics]) -> str:
    rows = "".join(
        f"<tr><td>{_e(s.name)}</td><td class=num>{s.points:g}</td><td>{_bar(s)}</td>"
        f"<td class=num>{_percent(s.full, s.graded)}</td><td class=num>{_percent(s.partial, s.graded)}</td>"
        f"<td class=num>{_percent(s.zero, s.graded)}</td></tr>" for s in statistics)
    table = (f"<table class=questions><tr><th>question</th><th>points</th><th></th><th>full</th><th>partial</th>"
             f"<th>zero</th></tr>{rows}</table>")
    details = "".join(_mistakes(s) for s in statistics if s.mistakes)
    graded = statistics[0].graded if statistics else 0
    return (f'<section id="questions"><h2>Per question</h2><p class=note>Over the {graded}'
            f" graded submissions. Messages that differ only in numbers or quoted values are one mistake.</p>"
            f"{table}{details}</section>")


def _mistakes(stats: QuestionStatistics) -> str:
    items = "".join(
        f"<li><span class=count>{len(m.students)}</span> <code>{_e(m.template)}</code>"
        + (f"<div class=example>e.g. {_e(m.example)}</div>" if m.example != m.template else "")
        + f"<div class=who>{_names(m.students)}</div></li>"
        for m in stats.mistakes[:FAILURES_SHOWN])
    more = len(stats.mistakes) - FAILURES_SHOWN
    return (f"<h3>{_e(stats.name)}: most frequent mistakes</h3><ol class=mistakes>{items}</ol>"
            + (f"<p class=note>and {more} other mistakes</p>" if more > 0 else ""))


def _ungraded_section(students: Sequence[Student]) -> str:
    failed = [s for s in students if not s.graded]
    rows = "".join(f"<tr><td>{_link(s)}</td><td class=message>{_e(s.problem)}</td></tr>" for s in failed)
    body = (f"<table><tr><th>student</th><th>reason</th></tr>{rows}</table>" if failed
            else "<p>None: every submission was graded.</p>")
    return f'<section id="ungraded"><h2>Not graded ({len(failed)})</h2>{body}</section>'


def _slowest_section(students: Sequence[Student]) -> str:
    timed = sorted((s for s in students if s.report is not None), key=lambda s: -s.report.execution_time)
    rows = "".join(f"<tr><td>{_link(s)}</td><td class=num>{s.report.execution_time:.1f} s</td>"
                   f"<td class=num>{s.total:g}</td></tr>" for s in timed[:SLOWEST_SHOWN])
    return (f'<section id="slowest"><h2>Slowest to grade</h2>'
            f"<table><tr><th>student</th><th>time</th><th>total</th></tr>{rows}</table></section>")


def _code_view(parts) -> str:
    return "<pre>" + "".join(f"<mark>{_e(text)}</mark>" if shared else _e(text) for text, shared in parts) + "</pre>"


def _similarity_section(pairs, by_anchor: dict, threshold: float, compared: Optional[int]) -> str:
    title = '<section id="similarity"><h2>Similar submissions</h2>'
    if compared is None:
        return title + "<p class=note>Not computed: the submissions' files were not given.</p></section>"
    intro = (f"<p class=note>{compared} submissions compared with copydetect, the given code left out. Listed: "
             f"pairs where at least {threshold:.0%} of one file's own code is also in the other "
             f"({len(pairs)} pairs). Shared code is highlighted. A score is a lead to read, not a verdict.</p>")
    blocks = "".join(
        f"<div class=pair><h3>{_link(by_anchor[p.first])} and {_link(by_anchor[p.second])}: "
        f"{p.scores[0]:.0%} and {p.scores[1]:.0%} of their own code, {p.shared_tokens} shared tokens</h3>"
        f"<table class=side><tr><td>{_code_view(p.views[0])}</td><td>{_code_view(p.views[1])}</td></tr></table></div>"
        for p in pairs[:PAIRS_SHOWN])
    more = (f"<p class=note>{len(pairs) - PAIRS_SHOWN} more pairs above the threshold are not shown: raise it to "
            f"see the closest first.</p>" if len(pairs) > PAIRS_SHOWN else "")
    return title + intro + blocks + more + "</section>"


def _student_rows(assignment, students: Sequence[Student]) -> str:
    rows = []
    for student in students:
        results = {q.name: q for q in student.report.questions} if student.report is not None else {}
        cells = []
        for question in assignment.questions:
            result = results.get(question.name)
            score, maximum = (result.score, result.max_score) if result else (0.0, question.points)
            kind = "full" if score >= maximum - 1e-9 else "zero" if score <= 1e-9 else "partial"
            cells.append(f'<td class="num {kind if student.graded else "none"}">{score:g}</td>')
        messages = [student.problem] if not student.graded else [
            f"{q.name.split()[0]}: {m}" for q in student.report.questions for m in q.messages]
        shown = "".join(f"<li>{_e(m)}</li>" for m in messages[:MESSAGES_SHOWN])
        more = f"<li>and {len(messages) - MESSAGES_SHOWN} more</li>" if len(messages) > MESSAGES_SHOWN else ""
        seconds = f"{student.report.execution_time:.1f}" if student.report is not None else "–"
        rows.append(f'<tr id="{student.anchor}"><td class=name>{_e(student.name)}</td>{"".join(cells)}'
                    f"<td class=num><b>{student.total:g}</b></td><td class=num>{seconds}</td>"
                    f"<td class=message><ul>{shown}{more}</ul></td></tr>")
    return "".join(rows)


def _students_section(assignment, students: Sequence[Student]) -> str:
    header = "".join(f'<th title="{_e(q.name)}">{_e(q.name.split()[0])}</th>' for q in assignment.questions)
    return (f'<section id="students"><h2>Students</h2><table class=students><tr><th>student</th>{header}'
            f"<th>total</th><th>s</th><th>messages</th></tr>{_student_rows(assignment, students)}</table></section>")


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;\
max-width:1200px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}.note{color:#666;margin:4px 0 10px}
table{border-collapse:collapse}td,th{padding:3px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
th{background:#f4f6f8;font-weight:600}.num{text-align:right;white-space:nowrap}
.bar{display:flex;width:260px;height:14px;background:#eee;border-radius:3px;overflow:hidden;margin-top:3px}
.bar span{display:block;height:100%}.full{background:#cfe8cf}.partial{background:#fbe7b5}.zero{background:#f5c9c6}
.none{background:#e4e4e4;color:#888}.bar .full{background:#3d9a4b}.bar .partial{background:#e0a526}\
.bar .zero{background:#c8463d}
ol.mistakes{margin:0 0 8px;padding-left:22px}ol.mistakes li{margin:4px 0}
.count{display:inline-block;min-width:22px;text-align:center;background:#3b6ea5;color:#fff;border-radius:9px;\
padding:0 6px;font-size:12px}
code{background:#f6f6f6;padding:1px 4px;border-radius:3px;word-break:break-word}
.example{color:#555;font-size:12px;margin-left:32px;word-break:break-word}.who{font-size:12px;margin-left:32px}
.message{font-size:12px;color:#444;max-width:520px;word-break:break-word}.message ul{margin:0;padding-left:16px}
.students td.name{white-space:nowrap}tr:target{outline:2px solid #3b6ea5}
table.side{width:100%;table-layout:fixed}table.side td{width:50%;border:none}
pre{font-size:12px;background:#fafafa;border:1px solid #e3e3e3;padding:8px;overflow:auto;max-height:420px;margin:0;\
white-space:pre-wrap;word-break:break-all}
mark{background:#ffe08a}.summary span{margin-right:18px}
"""


def render(report: ClassReport) -> str:
    """The page."""
    assignment, students = report.assignment, report.students
    graded = [s for s in students if s.graded]
    totals = sorted(s.total for s in graded)
    median = totals[len(totals) // 2] if totals else 0
    mean = sum(totals) / len(totals) if totals else 0
    summary = (f"<p class=summary><span>{len(students)} submissions</span><span>{len(graded)} graded</span>"
               f"<span>mean {mean:.1f} / {assignment.points:g}</span><span>median {median:g}</span>"
               f"<span>{len(report.pairs)} similar pairs</span></p>")
    contents = ('<p class=note><a href="#totals">totals</a> · <a href="#questions">per question</a> · '
                '<a href="#ungraded">not graded</a> · <a href="#slowest">slowest</a> · '
                '<a href="#similarity">similar submissions</a> · <a href="#students">students</a></p>')
    by_anchor = {s.anchor: s for s in students}
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            f"<title>{_e(assignment.name)}: class report</title><style>{STYLE}</style></head><body>"
            f"<h1>{_e(assignment.name)}: {_e(getattr(assignment, 'title', ''))}</h1>{summary}{contents}"
            f'<section id="totals"><h2>Totals</h2><img alt="histogram of totals" '
            f'src="{_histogram(students, assignment.points)}"></section>'
            + _questions_section(report.statistics) + _ungraded_section(students) + _slowest_section(students)
            + _similarity_section(report.pairs, by_anchor, report.threshold, report.compared)
            + _students_section(assignment, students) + "</body></html>")


def build(assignment, rows, submissions=None,
          similarity_threshold: float = similarity.DEFAULT_THRESHOLD) -> ClassReport:
    """The statistics and similar pairs of a batch (see `write_report`)."""
    students = students_of(rows, submissions)
    pairs, compared = [], None
    if submissions is not None:
        sources = _sources(assignment, students)
        pairs = similarity.similar_pairs(sources, similarity.given_code(assignment), similarity_threshold)
        compared = len(sources)
    return ClassReport(assignment, students, question_statistics(assignment, students), pairs, similarity_threshold,
                       compared)


def write_report(path, assignment, rows, submissions=None,
                 similarity_threshold: float = similarity.DEFAULT_THRESHOLD) -> ClassReport:
    """Write the class page to `path`; return what it shows.

    `rows` are `batch`'s: (student name, grading.results.Report or None, problem); `submissions`
    the submitted paths in the same order (files, notebooks, folders or zips), for similarity:
    None leaves that section out.
    """
    report = build(assignment, rows, submissions, similarity_threshold)
    results.write_safely(path, render(report))  # (never through a symlink a submission planted)
    return report
