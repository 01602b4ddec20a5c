"""The `simsiam` rubric's cases (run by tests/test_rubrics.py for every assignment), and the tests
of this rubric alone: a wrong similarity costs only its own question, the original course's file
name is accepted, and a file that forges what the probes report earns nothing."""
from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores

# (question, method whose solution region is replaced, wrong body)
WRONG_VARIANTS = [
    ("Q1", "SimSiam.forward", """
        z1 = self.encoder(x1)
        z2 = self.encoder(x2)
        p1 = self.predictor(z1)
        p2 = self.predictor(z2)
        if self.stop_gradient:
            z1.detach()  # returns a detached copy, which is thrown away
            z2.detach()
        return p1, p2, z1, z2
        """),
    ("Q1", "SimSiam.forward", """
        z1, z2 = self.encoder(x1), self.encoder(x2)
        if self.stop_gradient:
            z1, z2 = z1.detach(), z2.detach()
        return self.predictor(z1), self.predictor(z2), z1, z2  # no gradient reaches the encoder
        """),
    ("Q2", "CosineSimilarity.forward", """
        return bdot(x1, x2)  # not normalised
        """),
    ("Q2", "CosineSimilarity.forward", """
        return bdot(x1, x2) / (x1.norm(dim=1) * x2.norm(dim=1))  # no eps: NaN for a zero row
        """),
    ("Q2", "CosineSimilarity.forward", """
        norms = x1.norm(dim=1) * x2.norm(dim=1)  # dim=1 whatever self.dim says
        return bdot(x1, x2) / norms.clamp(min=self.eps)
        """),
    ("Q2", "CosineSimilarity.forward", """
        return (x1 * x2).sum(1) / (x1.norm(dim=1) * x2.norm(dim=1)).clamp(min=self.eps)  # self.dim ignored
        """),
    ("Q3", "SimSiam.loss", """
        similarity = CosineSimilarity()
        return -0.5 * (similarity(p1, z2).sum() + similarity(p2, z1).sum())  # not averaged
        """),
    ("Q3", "SimSiam.loss", """
        similarity = CosineSimilarity()
        return -0.5 * (similarity(p1, z2.detach()).mean() + similarity(p2, z1.detach()).mean())  # detaches itself
        """),
]

# Edits that make the reference draw random numbers in another order (it must keep full marks).
RANDOM_ORDER_EDITS = [
    ("        z1 = self.encoder(x1)\n",
     "        torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
     "        z1 = self.encoder(x1)\n"),
]

# (question, method, wrong body, words the public checks' message must hold)
COMMON_MISTAKES = [
    ("Q1", "SimSiam.forward", """
        z1 = self.encoder(x1)
        z2 = self.encoder(x2)
        p1 = self.predictor(z1)
        p2 = self.predictor(z2)
        if self.stop_gradient:
            z1.detach()
            z2.detach()
        return p1, p2, z1, z2
        """, ["detached target", "z1 = z1.detach()"]),
    ("Q2", "CosineSimilarity.forward", """
        return bdot(x1, x2) / (x1.norm(dim=1) * x2.norm(dim=1))
        """, ["zero row gives NaN", "eps"]),
    ("Q2", "CosineSimilarity.forward", """
        return (x1 * x2).sum(1) / (x1.norm(dim=1) * x2.norm(dim=1)).clamp(min=self.eps)
        """, ["self.dim"]),
    ("Q3", "SimSiam.loss", """
        similarity = CosineSimilarity()
        return -0.5 * (similarity(p1, z2).sum() + similarity(p2, z1).sum())
        """, ["sum over the batch", "mean"]),
]


def test_a_wrong_similarity_does_not_cost_the_loss_even_when_the_loss_calls_it(grade):
    source = replace_solution(reference_source("simsiam"), "CosineSimilarity.forward", "return bdot(x1, x2) * 2")
    assert "bdot(x1, x2) * 2" in source and "similarity(p1, z2)" in source  # the loss still calls it
    assert_only_lost(grade("simsiam", source), "Q2")


def test_the_original_course_file_name_is_accepted(grade):
    report = grade("simsiam", KIT_ROOT / "tests" / "submissions" / "simsiam")
    assert report.score == 6
    assert "q3_solution.py" in report.origin
    assert [q.name for q in report.questions] == ["Q1 SimSiam.forward", "Q2 CosineSimilarity", "Q3 SimSiam.loss"]


def test_a_similarity_that_ignores_its_dim_loses_points(grade):
    """Issue 13: every probe used dim=1, so a CosineSimilarity that ignores self.dim passed."""
    source = replace_solution(reference_source("simsiam"), "CosineSimilarity.forward", """
        return (x1 * x2).sum(1) / (x1.norm(dim=1) * x2.norm(dim=1)).clamp(min=self.eps)
        """)
    public = grade("simsiam", source, hidden=False)
    question = next(q for q in public.questions if q.name.startswith("Q2 "))
    assert question.score < question.max_score and "self.dim" in " ".join(question.messages), question.messages


def test_a_forged_forward_report_earns_nothing(grade):
    """forward unwritten, and the probe replaced at import by one that reports outputs, records and
    flags consistent with a correct forward (and no gradients): the grader computes what it expects
    with its own copy of the given model, so this earns nothing."""
    source = replace_solution(reference_source("simsiam"), "SimSiam.forward", "raise NotImplementedError()")
    source += """
import sys as _sys

def _forged(sub, x1, x2, dim, pred_dim, stop_gradient, mlp_mode, directions, weights=None):
    same = torch.zeros(len(x1), dim, dtype=torch.float64)
    return {"outputs": [same] * 4, "encoder_x1": same, "predictor_z1": same, "gradients": [],
            "attached": [True, True, not stop_gradient, not stop_gradient]}

_sys.modules["probes"].forward = _forged
"""
    report = grade("simsiam", source)
    assert scores(report)["Q1"] == 0, report.questions[0].messages


def test_a_forged_loss_report_earns_nothing(grade):
    """loss unwritten, and the probe replaced by one that reports the value of another loss with all
    the properties the statement names (symmetric, a batch mean, lower when aligned): the grader
    computes the loss itself, with the stand-in similarity too, so this earns nothing."""
    source = replace_solution(reference_source("simsiam"), "SimSiam.loss", "raise NotImplementedError()")
    source += """
import sys as _sys

def _forged(sub, p1, p2, z1, z2, stop_gradient, standin=False):
    value = -0.5 * ((p1 * z2).sum(1).mean() + (p2 * z1).sum(1).mean())
    return {"value": float(value), "gradients": [None] * 4}

_sys.modules["probes"].loss = _forged
"""
    report = grade("simsiam", source)
    assert scores(report)["Q3"] == 0, report.questions[2].messages
