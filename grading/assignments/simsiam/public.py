"""Questions of the `simsiam` assignment (6 points) and their public checks.

Public checks ship to students: they use the statement's facts only, never the reference
solution. The hidden checks (hidden.py, instructor only) compare with the reference, with the
grader's weights loaded, on other inputs.
"""
import torch

from grading import judge
from grading.rubric import CheckFailed, Question
from grading.runner import SubmissionFailure

Q1 = Question("Q1", "SimSiam.forward", points=2)
Q2 = Question("Q2", "CosineSimilarity", points=2)
Q3 = Question("Q3", "SimSiam.loss", points=2)
QUESTIONS = [Q1, Q2, Q3]

BATCH, DIM, PRED_DIM = 6, 8, 4
MLP_MODES = (None, "fixed_random_init", "no_pred_mlp")


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def forward_case(seed: int, stop_gradient: bool, mlp_mode=None, **more) -> dict:
    """The arguments of the `forward` probe: two batches of 3x8x8 views and a direction per output."""
    return {"x1": randn(seed, BATCH, 3, 8, 8), "x2": randn(seed + 1, BATCH, 3, 8, 8), "dim": DIM,
            "pred_dim": PRED_DIM, "stop_gradient": stop_gradient, "mlp_mode": mlp_mode,
            "directions": [randn(seed + 2 + k, BATCH, DIM) for k in range(4)], **more}


def passes_one_of(*attempts):
    """Run the attempts in order until one passes; otherwise fail with the first one's message."""
    first = None
    for attempt in attempts:
        try:
            return attempt()
        except (CheckFailed, SubmissionFailure) as failure:
            first = first or failure
    raise first


@Q1.check(points=0.5, public=True)
def outputs_and_stop_gradient(sub, ref):
    """z = encoder(x), p = predictor(z), four (B, d) tensors; z detached exactly when stop_gradient"""
    for stop_gradient in (True, False):
        got = sub.call("forward", **forward_case(1, stop_gradient))
        judge.close(got["outputs"][2], got["encoder_x1"], "forward: z1 (must be self.encoder(x1))")
        judge.close(got["outputs"][0], got["predictor_z1"], "forward: p1 (must be self.predictor(z1))")
        expected = [True, True, not stop_gradient, not stop_gradient]
        for name, attached, wanted in zip(("p1", "p2", "z1", "z2"), got["attached"], expected):
            judge.expect(attached == wanted, f"forward with stop_gradient={stop_gradient}: {name} is "
                                             f"{'attached to' if attached else 'detached from'} the graph; "
                                             f"it should be {'attached' if wanted else 'detached'}")


@Q2.check(points=0.5, public=True)
def parallel_opposite_and_orthogonal_rows(sub, ref):
    """rows pointing the same way give 1, opposite -1, orthogonal 0, whatever their lengths"""
    rows = randn(11, 3, 5)
    orthogonal = rows - (rows * rows.roll(1, 0)).sum(1, keepdim=True) / rows.roll(1, 0).norm(dim=1, keepdim=True) ** 2 \
        * rows.roll(1, 0)
    lengths = torch.tensor([[0.5], [3.0], [20.0]])
    x1 = torch.cat([rows, rows, rows.roll(1, 0)])
    x2 = torch.cat([rows * lengths, -rows * lengths, orthogonal])
    got = sub.call("cosine_similarity", x1=x1, x2=x2)
    judge.close(got, torch.tensor([1.0, 1, 1, -1, -1, -1, 0, 0, 0]), "CosineSimilarity()(x1, x2)", atol=1e-6)


@Q3.check(points=0.5, public=True)
def statement_facts(sub, ref):
    """-1 when each prediction points like the other view's target, +1 when opposite; symmetric; a batch mean"""
    p1, p2, z1, z2 = (randn(21 + k, 5, 7) for k in range(4))

    def value(standin, *tensors):
        args = dict(zip(("p1", "p2", "z1", "z2"), tensors))
        return sub.call("loss", stop_gradient=True, standin=standin, **args)["value"]

    def general_facts(standin):
        what = "loss" + (" (with the grader's stand-in for CosineSimilarity)" if standin else "")
        judge.close(value(standin, p2, p1, z2, z1), value(standin, p1, p2, z1, z2),
                    f"{what}: swapping the two views must not change it")
        doubled = (torch.cat([t, t]) for t in (p1, p2, z1, z2))
        judge.close(value(standin, *doubled), value(standin, p1, p2, z1, z2),
                    f"{what}: a batch repeated twice must give the same value (a mean over the batch)")
        judge.expect(value(standin, z2, z1, z1, z2) < value(standin, -z2, -z1, z1, z2),
                     f"{what}: predictions aligned with the targets must give a lower loss than opposite ones")

    def with_cosine():
        judge.close(value(False, z2, z1, z1, z2), -1.0, "loss when p1 = z2 and p2 = z1")
        judge.close(value(False, -3 * z2, -z1, z1, z2), 1.0, "loss when p1 = -3 z2 and p2 = -z1")
        general_facts(False)

    # A wrong CosineSimilarity must not cost this question: the same facts, but the similarity
    # swapped for a stand-in (its values are not a cosine's, so only the properties are checked).
    passes_one_of(with_cosine, lambda: general_facts(True))
