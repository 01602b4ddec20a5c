"""A graded submission: per-question results, and its three renderings (table, Gradescope JSON, CSV).

Everything a submission can influence (messages, printed output, file names) is hostile text: it
is made safe once, when the report is built (`clean`): bounded in length, valid UTF-8, control
characters escaped. The files are written without following symlinks (`write_safely`), since a
submission may have planted one where the results go, and root would write through it.
"""
import csv
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

MAX_MESSAGE = 500         # characters of one message
MAX_MESSAGES = 20         # messages of one question
MAX_NOTE = 4000           # characters of one note (printed output included)
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def clean(text, limit: int = MAX_MESSAGE, keep_newlines: bool = False) -> str:
    """`text` as safe, bounded text: lone surrogates and control characters escaped (no terminal
    escape sequence reaches the instructor's screen; printed output keeps its newlines and tabs),
    at most `limit` characters."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    kept = "\n\t" if keep_newlines else ""
    text = "".join(c if c.isprintable() or c in kept else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class QuestionResult:
    name: str                 # "Q4 create_mlp"
    score: float
    max_score: float
    messages: List[str]       # one line per failed check
    checks_passed: int
    checks_run: int
    points: float = None      # the question's points (max_score is less when hidden checks did not run)

    def __post_init__(self):
        self.messages = [clean(m) for m in self.messages[:MAX_MESSAGES]] + \
            ([f"... and {len(self.messages) - MAX_MESSAGES} more"] if len(self.messages) > MAX_MESSAGES else [])
        if self.points is None:
            self.points = self.max_score

    @property
    def status(self) -> str:
        return "passed" if self.score >= self.max_score - 1e-9 else "failed"


@dataclass
class Report:
    assignment: str
    origin: str
    questions: List[QuestionResult]
    execution_time: float
    mode: str = "full"                       # "full", or "public" (hidden tests not available)
    isolation: str = ""
    notes: List[str] = field(default_factory=list)   # warnings, printed output
    import_error: Optional[str] = None       # why the submission could not be imported, if it could not

    def __post_init__(self):
        self.origin = clean(self.origin)
        self.notes = [clean(note, MAX_NOTE, keep_newlines=True) for note in self.notes]
        self.import_error = None if self.import_error is None else clean(self.import_error)

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max_score(self) -> float:
        return sum(q.max_score for q in self.questions)

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)


def _points(value: float) -> str:
    return f"{value:g}"


def table(report: Report) -> str:
    """The per-question table. With public checks only, each question shows its points in
    public checks out of its points, and a line says how many points the hidden checks decide."""
    width = max([len(q.name) for q in report.questions] + [8])
    public = report.mode == "public"
    lines = [f"{report.assignment}: {report.origin}"]
    for q in report.questions:
        status = "ok" if q.status == "passed" else "FAIL"
        scored = f"{_points(q.score)}/{_points(q.points)}"
        lines.append(f"  {q.name:<{width}}  {scored:>9} {status:<4}" + (f"  {q.messages[0]}" if q.messages else ""))
        lines += [f"  {'':<{width}}  {'':>9} {'':<4}  {message}" for message in q.messages[1:]]
    lines.append(f"  {'Total':<{width}}  {_points(report.score)}/{_points(report.points)}")
    if public:
        hidden = report.points - report.max_score
        lines.append(f"  Public checks only: they can give {_points(report.max_score)} of the "
                     f"{_points(report.points)} points; the hidden checks, run when your work is graded, "
                     f"decide the other {_points(hidden)}.")
    if report.import_error:
        lines.append(f"  Importing your file failed: {report.import_error}")
    lines += [f"  {note}" for note in report.notes]
    return "\n".join(lines)


def gradescope(report: Report) -> dict:
    """Gradescope's results.json schema."""
    tests = []
    for q in report.questions:
        output = (f"{q.checks_passed}/{q.checks_run} checks passed"
                  + "".join(f"\n- {message}" for message in q.messages))
        tests.append({"name": q.name, "score": q.score, "max_score": q.max_score, "status": q.status,
                      "output": output, "visibility": "visible"})
    notes = ([f"Importing your file failed: {report.import_error}"] if report.import_error else []) + report.notes
    return {"score": report.score, "execution_time": int(round(report.execution_time)),
            "output": "\n".join(notes), "tests": tests, "stdout_visibility": "visible"}


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: never a formula (a name like '=HYPERLINK(...)')."""
    text = clean(value)
    return "'" + text if text.startswith(CSV_FORMULA_STARTS) else text


def csv_text(assignment, rows, extra_columns=()) -> str:
    """One row per student: the student, one column per question, the total, any problem, then
    `extra_columns` left empty (e.g. the report items graded by hand)."""
    out = io.StringIO()
    writer = csv.writer(out)
    question_names = [q.name for q in assignment.questions]
    writer.writerow(["student", *question_names, "total", "problem", *extra_columns])
    empty = [""] * len(extra_columns)
    for student, report, problem in rows:
        if report is None:
            writer.writerow([csv_cell(student), *[0] * len(question_names), 0, csv_cell(problem), *empty])
            continue
        scores = {q.name: q.score for q in report.questions}
        writer.writerow([csv_cell(student), *[_points(scores.get(n, 0)) for n in question_names],
                         _points(report.score), csv_cell(problem or ""), *empty])
    return out.getvalue()


def write_csv(path, assignment, rows, extra_columns=()) -> None:
    write_safely(path, csv_text(assignment, rows, extra_columns))


def write_safely(path, text: str) -> None:
    """Write `text` to `path` through a new file in the same folder, then a rename: a symlink
    planted at `path` is replaced, never followed, and readers never see half a file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
