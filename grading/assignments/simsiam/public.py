"""Questions of the `simsiam` assignment (6 points) and their public checks.

Public checks ship to students: they use the statement's facts only, never the reference
solution. Every expected value is computed here, in the grader, from inputs the grader chose: the
SimSiam of the given constructor (around the probes' tiny encoder) is rebuilt here with the same
weights, so nothing the submission's process reports about itself is taken on trust. Where a
common mistake can be recognised, the message names it. The hidden checks (hidden.py, instructor
only) compare with the reference, with the grader's weights loaded, on other inputs.
"""
import torch
from torch import nn

from grading import judge
from grading.assignments.simsiam import probes
from grading.probing import load_parameters
from grading.rubric import CheckFailed, Question, SubmissionFailure
from grading.shared import randn

Q1 = Question("Q1", "SimSiam.forward", points=2)
Q2 = Question("Q2", "CosineSimilarity", points=2)
Q3 = Question("Q3", "SimSiam.loss", points=2)
QUESTIONS = [Q1, Q2, Q3]

BATCH, DIM, PRED_DIM = 6, 8, 4
MLP_MODES = (None, "fixed_random_init", "no_pred_mlp")
OUTPUTS = ("p1", "p2", "z1", "z2")


# -- the SimSiam of the given constructor, rebuilt here -------------------------------------------

class StatementSimSiam(nn.Module):
    """What `SimSiam(TinyEncoder, dim, pred_dim, MLP_mode=...)` builds (the given constructor),
    its modules registered in the same order, and the statement's forward pass."""

    def __init__(self, dim: int, pred_dim: int, mlp_mode=None):
        super().__init__()
        self.encoder = probes.TinyEncoder(num_classes=dim, zero_init_residual=True)
        prev_dim = self.encoder.fc.weight.shape[1]
        self.encoder.fc = nn.Sequential(nn.Linear(prev_dim, prev_dim, bias=False), nn.BatchNorm1d(prev_dim), nn.ReLU(),
                                        nn.Linear(prev_dim, prev_dim, bias=False), nn.BatchNorm1d(prev_dim), nn.ReLU(),
                                        self.encoder.fc, nn.BatchNorm1d(dim, affine=False))
        self.predictor = nn.Identity() if mlp_mode == "no_pred_mlp" else \
            nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim), nn.ReLU(),
                          nn.Linear(pred_dim, dim))

    def forward(self, x1, x2, stop_gradient: bool):
        z1, z2 = self.encoder(x1), self.encoder(x2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        if stop_gradient:
            z1, z2 = z1.detach(), z2.detach()
        return p1, p2, z1, z2


def statement_model(dim, pred_dim, mlp_mode, weights=None) -> StatementSimSiam:
    model = StatementSimSiam(dim, pred_dim, mlp_mode).double().train()
    if weights is not None:
        load_parameters(list(model.modules()), weights, "the grader's SimSiam")
    return model


def grader_weights(seed: int, mlp_mode) -> list:
    """Random parameters for the SimSiam of the probes, in the order of its modules: weight
    matrices and kernels scaled by their fan-in, vectors (biases, BatchNorm scales and shifts)
    around 0.5."""
    weights = []
    shapes = [p.shape for p in StatementSimSiam(DIM, PRED_DIM, mlp_mode).parameters()]
    for i, shape in enumerate(shapes):
        values = randn(seed + i, *shape).double()
        fan_in = torch.tensor(shape[1:]).prod().item() if len(shape) > 1 else 0
        weights.append(values / fan_in ** 0.5 if fan_in else 0.5 + 0.5 * values)
    return weights


def forward_case(seed: int, stop_gradient: bool, mlp_mode=None, **more) -> dict:
    """The arguments of the `forward` probe: two batches of 3x8x8 views, a direction per output
    and the grader's weights."""
    return {"x1": randn(seed, BATCH, 3, 8, 8), "x2": randn(seed + 1, BATCH, 3, 8, 8), "dim": DIM,
            "pred_dim": PRED_DIM, "stop_gradient": stop_gradient, "mlp_mode": mlp_mode,
            "directions": [randn(seed + 2 + k, BATCH, DIM) for k in range(4)],
            "weights": grader_weights(seed + 50, mlp_mode), **more}


def statement_forward(case) -> dict:
    """The outputs of the statement's forward pass and the gradient that <direction_k, output_k>
    sends back to each view, computed here."""
    model = statement_model(case["dim"], case["pred_dim"], case["mlp_mode"], case["weights"])
    views = [x.double().requires_grad_(True) for x in (case["x1"], case["x2"])]
    outputs = model(*views, case["stop_gradient"])
    gradients = []
    for output, direction in zip(outputs, case["directions"]):
        if output.requires_grad:
            found = torch.autograd.grad((output * direction.double()).sum(), views, retain_graph=True,
                                        allow_unused=True)
            gradients.append([torch.zeros_like(v) if g is None else g for v, g in zip(views, found)])
        else:
            gradients.append([torch.zeros_like(v) for v in views])
    return {"outputs": [o.detach() for o in outputs], "gradients": gradients}


def judge_forward(got, expected, setting: str) -> None:
    """Outputs, then the gradients each output sends back to the views (stop-gradient by behaviour:
    none from a detached target z, none from one view's outputs to the other view)."""
    judge.expect(isinstance(got.get("outputs"), list) and len(got["outputs"]) == 4,
                 f"forward ({setting}): expected the 4 outputs p1, p2, z1, z2")
    for name, output, wanted in zip(OUTPUTS, got["outputs"], expected["outputs"]):
        judge.close(output, wanted, f"forward ({setting}): {name}")
    gradients = got.get("gradients")
    judge.expect(isinstance(gradients, list) and len(gradients) == 4 and
                 all(isinstance(g, list) and len(g) == 2 for g in gradients),
                 f"forward ({setting}): the gradients of the outputs could not be read")
    for name, sent_back, wanted in zip(OUTPUTS, gradients, expected["gradients"]):
        for view, gradient, wanted_gradient in zip(("x1", "x2"), sent_back, wanted):
            if wanted_gradient.abs().sum() == 0:
                if name[0] == "z" and name[-1] == view[-1]:
                    why = (f"{name} must be a detached target (with stop_gradient; note that "
                           f"`{name}.detach()` returns a new tensor: assign it, `{name} = {name}.detach()`)")
                else:
                    why = f"{name} must depend on x{name[-1]} only (encode each view in its own call)"
                judge.expect(isinstance(gradient, torch.Tensor) and gradient.abs().sum() == 0,
                             f"forward ({setting}): a gradient flows from {name} back to {view}; {why}")
            else:
                judge.expect(isinstance(gradient, torch.Tensor) and gradient.abs().sum() > 0,
                             f"forward ({setting}): no gradient flows from {name} back to {view}; it must "
                             f"(is {name} computed from a detached tensor? only the targets z are detached)")
                judge.close(gradient, wanted_gradient, f"forward ({setting}): gradient from {name} to {view}")


def passes_one_of(*attempts):
    """Run the attempts in order until one passes; otherwise fail with the first one's message."""
    first = None
    for attempt in attempts:
        try:
            return attempt()
        except (CheckFailed, SubmissionFailure) as failure:
            first = first or failure
    raise first


def cosine(x1, x2, dim=1, eps=1e-8) -> torch.Tensor:
    """The docstring's cosine similarity: x1 . x2 / max(|x1| |x2|, eps), along `dim`."""
    x1, x2 = x1.double(), x2.double()
    return (x1 * x2).sum(dim) / (x1.norm(dim=dim) * x2.norm(dim=dim)).clamp(min=eps)


# -- checks ---------------------------------------------------------------------------------------

@Q1.check(points=0.5, public=True)
def outputs_and_stop_gradient(sub, ref):
    """z = encoder(x), p = predictor(z) with the grader's weights; no gradient from z with stop_gradient"""
    for stop_gradient in (True, False):
        case = forward_case(1, stop_gradient)
        judge_forward(sub.call("forward", **case), statement_forward(case), f"stop_gradient={stop_gradient}")


@Q2.check(points=0.5, public=True)
def parallel_opposite_and_orthogonal_rows(sub, ref):
    """rows pointing the same way give 1, opposite -1, orthogonal 0, whatever their lengths; a zero row gives 0"""
    rows = randn(11, 3, 5)
    orthogonal = rows - (rows * rows.roll(1, 0)).sum(1, keepdim=True) / rows.roll(1, 0).norm(dim=1, keepdim=True) ** 2 \
        * rows.roll(1, 0)
    lengths = torch.tensor([[0.5], [3.0], [20.0]])
    x1 = torch.cat([rows, rows, rows.roll(1, 0), torch.zeros(1, 5)])
    x2 = torch.cat([rows * lengths, -rows * lengths, orthogonal, rows[:1]])
    got = sub.call("cosine_similarity", x1=x1, x2=x2)
    if isinstance(got, torch.Tensor) and got.shape == (10,) and torch.isnan(got[-1]) and \
            not torch.isnan(got[:-1]).any():
        raise CheckFailed("CosineSimilarity()(x1, x2): a zero row gives NaN; the denominator must be clamped at "
                          "eps, max(|x1| |x2|, eps)")
    judge.close(got, torch.tensor([1.0, 1, 1, -1, -1, -1, 0, 0, 0, 0]), "CosineSimilarity()(x1, x2)", atol=1e-6)


@Q2.check(points=0.5, public=True)
def along_its_dim(sub, ref):
    """CosineSimilarity(dim=0) compares columns, dim=-1 rows: the similarity is computed along self.dim"""
    for seed, dim, what in ((12, 0, "the similarity of each column"), (14, -1, "the similarity of each row")):
        x1, x2 = randn(seed, 5, 3), randn(seed + 1, 5, 3)
        got = sub.call("cosine_similarity", x1=x1, x2=x2, dim=dim)
        judge.close(got, cosine(x1, x2, dim=dim), f"CosineSimilarity(dim={dim})(x1, x2) for x1, x2 of shape (5, 3) "
                                                  f"({what}: use self.dim)")


def statement_loss(p1, p2, z1, z2, similarity) -> float:
    """The statement's loss, -1/2 (D(p1, z2) + D(p2, z1)), D the batch mean of `similarity`."""
    return float(-0.5 * (similarity(p1.double(), z2.double()).mean() + similarity(p2.double(), z1.double()).mean()))


def standin_similarity(x1, x2):
    """The probes' stand-in for CosineSimilarity (not a cosine similarity), computed here."""
    return probes._StandinSimilarity()(x1, x2)


@Q3.check(points=0.5, public=True)
def statement_facts(sub, ref):
    """-1 when each prediction points like the other view's target, +1 when opposite; symmetric; a batch mean"""
    p1, p2, z1, z2 = (randn(21 + k, 5, 7) for k in range(4))

    def value(standin, *tensors):
        args = dict(zip(("p1", "p2", "z1", "z2"), tensors))
        return sub.call("loss", stop_gradient=True, standin=standin, **args)["value"]

    def facts(standin):
        what = "loss" + (" (with the grader's stand-in for CosineSimilarity)" if standin else "")
        judge.close(value(standin, p2, p1, z2, z1), value(standin, p1, p2, z1, z2),
                    f"{what}: swapping the two views must not change it")
        doubled = (torch.cat([t, t]) for t in (p1, p2, z1, z2))
        single = value(standin, p1, p2, z1, z2)
        twice = value(standin, *doubled)
        if abs(twice - 2 * single) <= 1e-4 * abs(single) and abs(single) > 1e-6:
            raise CheckFailed(f"{what}: a batch repeated twice doubles it: it is a sum over the batch; D is the "
                              "mean over the batch of the negative cosine similarity")
        judge.close(twice, single, f"{what}: a batch repeated twice must give the same value (a mean over the batch)")
        judge.expect(value(standin, z2, z1, z1, z2) < value(standin, -z2, -z1, z1, z2),
                     f"{what}: predictions aligned with the targets must give a lower loss than opposite ones")
        judge.close(single, statement_loss(p1, p2, z1, z2, standin_similarity if standin else cosine),
                    f"{what}: -1/2 (D(p1, z2) + D(p2, z1)), D the batch mean of the similarity")
        if not standin:
            judge.close(value(False, z2, z1, z1, z2), -1.0, "loss when p1 = z2 and p2 = z1")
            judge.close(value(False, -3 * z2, -z1, z1, z2), 1.0, "loss when p1 = -3 z2 and p2 = -z1")

    # A wrong CosineSimilarity must not cost this question: the same facts, with the similarity
    # swapped for a stand-in (not a cosine similarity) whose values the grader computes too.
    passes_one_of(lambda: facts(False), lambda: facts(True))
