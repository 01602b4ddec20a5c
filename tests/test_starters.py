"""Every assignment's blank starter (the released module) scores 0 and tells the student, per
question, that nothing is written yet, instead of crashing the grader."""
import pytest

from conftest import starter_source
from grading import assignments, results


@pytest.mark.parametrize("name", assignments.names())
def test_starter_scores_0_with_a_message_per_question(grade, name):
    report = grade(name, starter_source(name))
    assert report.score == 0, results.table(report)
    for question in report.questions:
        assert question.messages and "not implemented yet" in question.messages[0], question
