"""The `simsiam` rubric: full marks for the reference, 0 for the starter, and every wrong variant
of a question loses that question's points and no others."""
import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import results


# (question, method whose solution region is replaced, body)
WRONG_VARIANTS = {
    "detach not assigned": ("Q1", "SimSiam.forward", """
        z1 = self.encoder(x1)
        z2 = self.encoder(x2)
        p1 = self.predictor(z1)
        p2 = self.predictor(z2)
        if self.stop_gradient:
            z1.detach()  # returns a detached copy, which is thrown away
            z2.detach()
        return p1, p2, z1, z2
        """),
    "predictions of detached targets": ("Q1", "SimSiam.forward", """
        z1, z2 = self.encoder(x1), self.encoder(x2)
        if self.stop_gradient:
            z1, z2 = z1.detach(), z2.detach()
        return self.predictor(z1), self.predictor(z2), z1, z2  # no gradient reaches the encoder
        """),
    "similarity without normalisation": ("Q2", "CosineSimilarity.forward", """
        return bdot(x1, x2)
        """),
    "no eps": ("Q2", "CosineSimilarity.forward", """
        return bdot(x1, x2) / (x1.norm(dim=1) * x2.norm(dim=1))  # NaN for a zero row
        """),
    "loss not averaged": ("Q3", "SimSiam.loss", """
        similarity = CosineSimilarity()
        return -0.5 * (similarity(p1, z2).sum() + similarity(p2, z1).sum())
        """),
    "loss detaches the targets itself": ("Q3", "SimSiam.loss", """
        similarity = CosineSimilarity()
        return -0.5 * (similarity(p1, z2.detach()).mean() + similarity(p2, z1.detach()).mean())
        """),
}


def test_reference_scores_6(grade):
    report = grade("simsiam", reference_source("simsiam"))
    assert (report.score, report.max_score) == (6, 6), results.table(report)
    assert [q.name for q in report.questions] == ["Q1 SimSiam.forward", "Q2 CosineSimilarity", "Q3 SimSiam.loss"]


@pytest.mark.parametrize("variant", list(WRONG_VARIANTS))
def test_a_wrong_answer_loses_its_own_points_only(grade, variant):
    number, method, body = WRONG_VARIANTS[variant]
    report = grade("simsiam", replace_solution(reference_source("simsiam"), method, body))
    assert_only_lost(report, number)


def test_a_wrong_similarity_does_not_cost_the_loss_even_when_the_loss_calls_it(grade):
    source = replace_solution(reference_source("simsiam"), "CosineSimilarity.forward", "return bdot(x1, x2) * 2")
    assert "bdot(x1, x2) * 2" in source and "similarity(p1, z2)" in source  # the loss still calls it
    assert_only_lost(grade("simsiam", source), "Q2")


def test_a_file_written_for_the_original_course_gets_full_marks(grade):
    report = grade("simsiam", KIT_ROOT / "tests" / "submissions" / "simsiam")
    assert report.score == 6, results.table(report)
    assert "q3_solution.py" in report.origin


def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade):
    source = reference_source("simsiam").replace(
        "        z1 = self.encoder(x1)\n",
        "        torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
        "        z1 = self.encoder(x1)\n")
    source += "\nimport random as _r\nfor _ in range(_r.randint(1, 9)):\n    torch.randn(3)\n"
    first, second = grade("simsiam", source), grade("simsiam", source)
    assert first.score == 6
    assert scores(first) == scores(second)
