"""Hidden checks of the `simsiam` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution, with the grader's weights loaded into
the same SimSiam (given constructor, tiny encoder), on inputs the students never see: every input
is built when the check runs, from `grading.shared`, whose seeds the grader mixes with the
submission's key (so each submission gets its own). Messages say what is wrong, never the hidden
inputs or the expected values.
"""
import torch

from grading import judge
from grading.assignments.simsiam.public import (
    MLP_MODES,
    OUTPUTS,
    Q1,
    Q2,
    Q3,
    forward_case,
    judge_forward,
    passes_one_of,
)
from grading.shared import randn


def forward_runs(sub, ref, seed: int):
    """(setting, case, submission's report, reference's report) for every stop_gradient and
    predictor mode."""
    for stop_gradient in (True, False):
        for k, mlp_mode in enumerate(MLP_MODES):
            case = forward_case(seed + 10 * k, stop_gradient, mlp_mode)
            setting = f"stop_gradient={stop_gradient}, MLP_mode={mlp_mode!r}"
            yield setting, case, sub.call("forward", **case), ref.call("forward", **case)


@Q1.check(points=0.5)
def outputs_match_the_reference(sub, ref):
    """p1, p2, z1, z2 with the grader's weights, for every predictor mode"""
    for setting, _, got, expected in forward_runs(sub, ref, 200):
        judge.expect(isinstance(got.get("outputs"), list) and len(got["outputs"]) == 4,
                     f"forward ({setting}): expected the 4 outputs p1, p2, z1, z2")
        for name, output, wanted in zip(OUTPUTS, got["outputs"], expected["outputs"]):
            judge.close(output, wanted, f"forward ({setting}): {name}")


@Q1.check(points=1)
def stop_gradient_checked_by_gradients(sub, ref):
    """the gradient that flows back to the views from each output (none from z with stop_gradient)"""
    for setting, _, got, expected in forward_runs(sub, ref, 300):
        judge_forward(got, expected, setting)


@Q2.check(points=0.5)
def rows_of_any_length(sub, ref):
    """random rows of very different lengths, in several dimensions"""
    for seed, shape in ((31, (7, 16)), (32, (4, 3)), (33, (9, 1))):
        scale = torch.logspace(-3, 3, shape[0]).unsqueeze(1)
        args = {"x1": randn(seed, *shape) * scale, "x2": randn(seed + 5, *shape) * scale.flip(0)}
        judge.close(sub.call("cosine_similarity", **args), ref.call("cosine_similarity", **args),
                    f"CosineSimilarity on rows of {shape[1]} values")


@Q2.check(points=0.5)
def zero_rows_and_eps(sub, ref):
    """a zero row gives 0, not NaN; CosineSimilarity(eps=1.0) on short rows clamps the denominator at eps"""
    x1, x2 = randn(41, 4, 6), randn(42, 4, 6)
    x1[1], x2[2], x1[3], x2[3] = 0, 0, 0, 0
    args = {"x1": x1, "x2": x2}
    judge.close(sub.call("cosine_similarity", **args), ref.call("cosine_similarity", **args),
                "CosineSimilarity with zero rows (rows 1 to 3)")
    short = randn(51, 5, 4) * torch.tensor([[0.05], [0.2], [0.4], [2.0], [5.0]])
    other = randn(52, 5, 4) * 0.3
    args = {"x1": short, "x2": other, "eps": 1.0}
    # The clamp is on the product of the norms (the docstring), or on each norm (torch's own
    # cosine_similarity, and many correct answers): on these rows both are accepted.
    per_norm = (short * other).sum(1) / (short.norm(dim=1).clamp(min=1.0) * other.norm(dim=1).clamp(min=1.0))
    judge.any_close(sub.call("cosine_similarity", **args), [ref.call("cosine_similarity", **args), per_norm.double()],
                    "CosineSimilarity(eps=1.0) on rows shorter than 1")


def judge_loss(sub, ref, args, compare):
    """`compare(submission's report, reference's report, what)` for the loss as it is, or else
    with the stand-in similarity in both: so a wrong CosineSimilarity (judged in Q2) does not
    cost the loss too."""
    def attempt(standin, what):
        return lambda: compare(sub.call("loss", standin=standin, **args), ref.call("loss", standin=standin, **args),
                               what)
    passes_one_of(attempt(False, ""), attempt(True, " (with the grader's stand-in for CosineSimilarity)"))


def loss_case(seed: int, stop_gradient: bool) -> dict:
    scale = torch.linspace(0.2, 4, 9).unsqueeze(1)
    return {"p1": randn(seed, 9, 6) * scale, "p2": randn(seed + 1, 9, 6), "z1": randn(seed + 2, 9, 6) * scale.flip(0),
            "z2": randn(seed + 3, 9, 6) * 2, "stop_gradient": stop_gradient}


def _gradient_matches(got, expected, name, what):
    if expected is None:
        judge.expect(got is None, f"loss{what}: a gradient reaches {name}; none should")
    else:
        judge.expect(got is not None, f"loss{what}: no gradient reaches {name} (is the loss detached from it?)")
        judge.close(got, expected, f"loss{what}: gradient with respect to {name}")


def _gradients(got, what):
    gradients = got.get("gradients")
    judge.expect(isinstance(gradients, list) and len(gradients) == 4, f"loss{what}: the gradients could not be read")
    return gradients


@Q3.check(points=0.5)
def value_matches_the_reference(sub, ref):
    """the value on batches of different scales"""
    def compare(got, expected, what):
        judge.close(got["value"], expected["value"], f"loss{what}")
    judge_loss(sub, ref, loss_case(61, True), compare)


@Q3.check(points=0.5)
def gradients_through_the_predictions(sub, ref):
    """the gradients that reach p1 and p2"""
    def compare(got, expected, what):
        judge.close(got["value"], expected["value"], f"loss{what}")
        for name, gradient, wanted in zip(("p1", "p2"), _gradients(got, what), expected["gradients"]):
            _gradient_matches(gradient, wanted, name, what)
    judge_loss(sub, ref, loss_case(71, True), compare)


@Q3.check(points=0.5)
def gradients_through_the_targets_without_stop_gradient(sub, ref):
    """stop_gradient=False: gradients reach z1 and z2 too (the loss must not detach them itself)"""
    def compare(got, expected, what):
        judge.close(got["value"], expected["value"], f"loss{what}")
        for name, gradient, wanted in zip(OUTPUTS, _gradients(got, what), expected["gradients"]):
            _gradient_matches(gradient, wanted, name, what)
    judge_loss(sub, ref, loss_case(81, False), compare)
