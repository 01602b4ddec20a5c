"""What every assignment's rubric must do, one specification for all seven.

Each `tests/test_<assignment>.py` declares its cases, and this module runs them:
- `WRONG_VARIANTS`: (question, function, wrong body) triples: the reference with that function's
  solution region replaced (see conftest.replace_solution) loses that question's points, and
  only those;
- `RANDOM_ORDER_EDITS`: (text, replacement) pairs that make the reference draw its random numbers
  in another order: it must still get full marks, the same every time;
- `COMMON_MISTAKES`: (question, function, wrong body, words) for the mistakes students make most
  (see the statements and their answers): the *public* checks alone catch each one, with a
  message holding every one of `words` (a message that names the mistake);
- `tests/submissions/<assignment>/` holds a file written for the original course (or in another
  style), which gets full marks.
"""
import importlib
import json

import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import assignments, results

NAMES = assignments.names()
CASES = {name: importlib.import_module(f"test_{name}") for name in NAMES}
VARIANTS = [(name, number, function, body) for name in NAMES for number, function, body in CASES[name].WRONG_VARIANTS]
MISTAKES = [(name, *mistake) for name in NAMES for mistake in CASES[name].COMMON_MISTAKES]


def test_every_question_has_a_wrong_variant():
    for name in NAMES:
        covered = {number for number, _, _ in CASES[name].WRONG_VARIANTS}
        questions = {question.number for question in assignments.load(name).questions}
        assert covered == questions, f"{name}: no wrong variant for {sorted(questions - covered)}"


@pytest.mark.parametrize("name", NAMES)
def test_reference_scores_full_marks_with_a_valid_results_json(grade, name):
    assignment = assignments.load(name)
    report = grade(name, reference_source(name))
    assert report.score == report.max_score == assignment.points, results.table(report)
    data = json.loads(json.dumps(results.gradescope(report)))
    assert set(data) >= {"score", "execution_time", "output", "tests"}
    assert [test["name"] for test in data["tests"]] == [question.name for question in assignment.questions]
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] == "passed"
    assert report.isolation in ("namespaces", "uid", "none")


@pytest.mark.parametrize("name, number, function, body", VARIANTS,
                         ids=[f"{name}-{number}-{i}" for i, (name, number, _, _) in enumerate(VARIANTS)])
def test_a_wrong_answer_loses_its_own_points_only(grade, name, number, function, body):
    report = grade(name, replace_solution(reference_source(name), function, body))
    assert_only_lost(report, number)


@pytest.mark.parametrize("name", NAMES)
def test_a_file_written_for_the_original_course_gets_full_marks(grade, name):
    report = grade(name, KIT_ROOT / "tests" / "submissions" / name)
    assert report.score == report.max_score, results.table(report)


@pytest.mark.parametrize("name", NAMES)
def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade, name):
    source = reference_source(name)
    for text, replacement in CASES[name].RANDOM_ORDER_EDITS:
        assert text in source, f"{name}: the reference no longer contains {text!r}: update RANDOM_ORDER_EDITS"
        source = source.replace(text, replacement, 1)
    source += "\nimport random as _r\nfor _ in range(_r.randint(1, 9)):\n    torch.randn(3)\n"
    first, second = grade(name, source), grade(name, source)
    assert first.score == first.max_score, results.table(first)
    assert scores(first) == scores(second)


@pytest.mark.parametrize("name, number, function, body, words", MISTAKES,
                         ids=[f"{name}-{number}-{i}" for i, (name, number, *_) in enumerate(MISTAKES)])
def test_the_public_checks_name_a_common_mistake(grade, name, number, function, body, words):
    report = grade(name, replace_solution(reference_source(name), function, body), hidden=False)
    question = next(q for q in report.questions if q.name.split()[0] == number)
    assert question.score < question.max_score, f"{name} {number}: the public checks miss this mistake"
    shown = " ".join(question.messages)
    assert all(word in shown for word in words), f"{name} {number}: {shown!r} does not name the mistake {words}"
