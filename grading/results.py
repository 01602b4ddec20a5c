"""A graded submission: per-question results, and its three renderings (table, Gradescope JSON, CSV)."""
import csv
from dataclasses import dataclass, field
from typing import List


@dataclass
class QuestionResult:
    name: str                 # "Q4 create_mlp"
    score: float
    max_score: float
    messages: List[str]       # one line per failed check
    checks_passed: int
    checks_run: int

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
    notes: List[str] = field(default_factory=list)   # import errors, warnings, printed output

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max_score(self) -> float:
        return sum(q.max_score for q in self.questions)


def _points(value: float) -> str:
    return f"{value:g}"


def table(report: Report) -> str:
    width = max([len(q.name) for q in report.questions] + [8])
    lines = [f"{report.assignment}: {report.origin}"]
    if report.mode == "public":
        lines.append("(public checks only: the hidden tests run when your work is graded)")
    for q in report.questions:
        status = "ok" if q.status == "passed" else "FAIL"
        lines.append(f"  {q.name:<{width}}  {_points(q.score):>5}/{_points(q.max_score):<4} {status:<4}"
                     + (f"  {q.messages[0]}" if q.messages else ""))
        lines += [f"  {'':<{width}}  {'':>5} {'':<4} {'':<4}  {message}" for message in q.messages[1:]]
    lines.append(f"  {'Total':<{width}}  {_points(report.score):>5}/{_points(report.max_score)}")
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
    return {"score": report.score, "execution_time": int(round(report.execution_time)),
            "output": "\n".join(report.notes), "tests": tests, "stdout_visibility": "visible"}


def write_csv(path, assignment, rows) -> None:
    """One row per student: the student, one column per question, the total, any problem."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        question_names = [q.name for q in assignment.questions]
        writer.writerow(["student", *question_names, "total", "problem"])
        for student, report, problem in rows:
            if report is None:
                writer.writerow([student, *[0] * len(question_names), 0, problem])
                continue
            scores = {q.name: q.score for q in report.questions}
            writer.writerow([student, *[_points(scores.get(n, 0)) for n in question_names],
                             _points(report.score), problem or ""])
