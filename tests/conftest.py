"""Shared fixtures: one sandbox launcher per test process, and helpers to grade source text."""
import re
import sys
from pathlib import Path

import pytest
import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT_ROOT))

from grading import assignments, grader  # noqa: E402
from grading.release import strip_solutions  # noqa: E402
from grading.runner import Limits  # noqa: E402
from grading.sandbox import Launcher  # noqa: E402

# Short limits keep the hostile tests fast; real checks take well under a second each.
TEST_LIMITS = Limits(import_seconds=20, time_scale=0.25, memory_megabytes=512)


@pytest.fixture
def offline(monkeypatch):
    """No network: every HTTP(S) request goes to a proxy address where nothing listens."""
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors run fastest on one thread, and with parallel test workers more threads only
    fight over the cores (up to 10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def launcher():
    preload = sorted({module for name in assignments.names() for module in assignments.load(name).preload})
    launcher = Launcher("auto", preload)
    launcher.start()
    yield launcher
    launcher.close()


@pytest.fixture
def grade(launcher, tmp_path):
    """grade(assignment_name, source_text_or_path, limits=..., hidden=True) -> Report; with
    hidden=False, only the public checks run (what students run themselves)."""
    def run(name, submission, file_name=None, limits=TEST_LIMITS, hidden=True):
        assignment = assignments.load(name)
        if isinstance(submission, str):
            path = tmp_path / (file_name or f"{assignment.module}.py")
            path.write_text(submission)
            submission = path
        return grader.grade(assignment, submission, launcher, limits, hidden=hidden)
    return run


def reference_source(name: str) -> str:
    return assignments.load(name).solution_path.read_text()


def starter_source(name: str) -> str:
    return strip_solutions(reference_source(name))[0]


def replace_solution(source: str, function: str, body: str) -> str:
    """`source` with the solution region of `function` (the first region after its `def`)
    replaced by `body` (dedented; re-indented to the region's level). `function` may be
    "Class.method" for a name that more than one class defines."""
    owner, _, function = function.rpartition(".")
    lines = source.splitlines()
    first = next(i for i, line in enumerate(lines) if re.match(rf"class {owner}\b", line)) if owner else 0
    start = next(i for i in range(first, len(lines)) if re.match(rf"\s*def {function}\(", lines[i]))
    begin = next(i for i in range(start, len(lines)) if lines[i].strip() == "### BEGIN SOLUTION")
    end = next(i for i in range(begin, len(lines)) if lines[i].strip() == "### END SOLUTION")
    indent = lines[begin][:len(lines[begin]) - len(lines[begin].lstrip())]
    new_body = [indent + line if line.strip() else line for line in _dedent(body).splitlines()]
    return "\n".join(lines[:begin + 1] + new_body + lines[end:]) + "\n"


def _dedent(text: str) -> str:
    import textwrap
    return textwrap.dedent(text).strip("\n")


def scores(report) -> dict:
    return {q.name.split()[0]: q.score for q in report.questions}


def assert_only_lost(report, lost: str):
    """Every question scores full marks except `lost`, which scores less than its maximum."""
    for question in report.questions:
        number = question.name.split()[0]
        if number == lost:
            assert question.score < question.max_score, f"{number} should lose points: {question}"
        else:
            assert question.score == question.max_score, f"{number} lost points: {question.messages}"
