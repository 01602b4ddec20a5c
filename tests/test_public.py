"""Public tests: the public checks of every assignment, run on the modules in solutions/.

Students run them on their own work (`python -m pytest tests/test_public.py -k trainer`); the kit
runs them on the reference solutions. Your module is imported in a separate process, exactly as
the grader does it, so a crash or an infinite loop in your code fails a test instead of pytest.
"""
import pytest

from grading import assignments
from grading.grader import SubmissionProxy
from grading.rubric import CheckFailed, SubmissionFailure
from grading.runner import SubmissionRunner
from grading.sandbox import Launcher

CASES = [(name, question, check) for name in assignments.names()
         for question in assignments.load(name).questions for check in question.checks if check.public]


@pytest.fixture(scope="module")
def launcher():
    preload = sorted({module for name in assignments.names() for module in assignments.load(name).preload})
    launcher = Launcher.for_own_code(preload)
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def runners(launcher):
    opened = {}

    def runner_for(name):
        if name not in opened:
            assignment = assignments.load(name)
            opened[name] = SubmissionRunner(launcher, assignment, assignment.solution_path.read_bytes())
        return opened[name]

    yield runner_for
    for runner in opened.values():
        runner.close()


@pytest.mark.parametrize("name, question, check", CASES,
                         ids=[f"{name}-{question.number}-{check.function.__name__}" for name, question, check in CASES])
def test_public_check(name, question, check, runners):
    try:
        check.function(SubmissionProxy(runners(name), check.timeout), None)
        return
    except (CheckFailed, SubmissionFailure) as failure:
        message = f"{question.name}, {check.name}: {failure}"
    # The message is written for the student; the grader's traceback would only bury it.
    pytest.fail(message, pytrace=False)
