"""Probes of the `simsiam` assignment: build a SimSiam around a tiny encoder, call one student
function on the grader's inputs, return plain values.

Each probe isolates what it exercises. The encoder is `TinyEncoder` below (the constructor
signature of torchvision's ResNets, a Linear head `fc`, a few hundred parameters), weights come
from the grader, and everything runs in float64. `loss` can run with the submission's
`CosineSimilarity` swapped for a stand-in that is deliberately *not* a cosine similarity, so a
wrong `CosineSimilarity` costs its own question only, not the loss as well.
"""
import contextlib

import torch
from torch import nn

from grading.probing import Rejected, as_float, as_tensor, gradients_of, load_parameters, replaced, type_name

OUTPUTS = ("p1", "p2", "z1", "z2")


class TinyEncoder(nn.Module):
    """Stands in for `torchvision.models.resnet18`: called as `TinyEncoder(num_classes=dim,
    zero_init_residual=True)`, with a Linear head `fc` that SimSiam replaces by its projector."""

    def __init__(self, num_classes: int = 1000, zero_init_residual: bool = False, width: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(3, width, kernel_size=3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


class _StandinSimilarity(nn.Module):
    """Not a cosine similarity: a bounded, symmetric function of two rows, increasing with their
    alignment, that the grader recognises. Same constructor as CosineSimilarity."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return torch.tanh((x1 * x2).sum(dim=self.dim) / 3) + 0.1 * (x1 + x2).mean(dim=self.dim)


def _similarity(sub, standin: bool):
    return replaced(sub, CosineSimilarity=_StandinSimilarity) if standin else contextlib.nullcontext()


def _model(sub, dim: int, pred_dim: int, stop_gradient: bool, mlp_mode, weights=None) -> nn.Module:
    """The submission's SimSiam around TinyEncoder, in float64 and training mode, with the
    grader's weights when given (in the order of `model.modules()`)."""
    model = sub.SimSiam(TinyEncoder, dim=dim, pred_dim=pred_dim, stop_gradient=stop_gradient, MLP_mode=mlp_mode)
    if not isinstance(model, nn.Module):
        raise Rejected(f"SimSiam(...) built {type_name(model)}; expected a torch.nn.Module")
    model = model.double().train()
    if weights is not None:
        load_parameters(list(model.modules()), weights, "SimSiam (its given constructor)")
    return model


def forward(sub, x1, x2, dim, pred_dim, stop_gradient, mlp_mode, directions, weights=None):
    """Run `forward`; report the outputs, whether each is attached to the autograd graph, and the
    gradient that <direction_k, output_k> sends back to each view (the grader computes what they
    must be with its own copy of the given model)."""
    model = _model(sub, dim, pred_dim, stop_gradient, mlp_mode, weights)
    views = [x.double().requires_grad_(True) for x in (x1, x2)]
    result = model(*views)
    if not (isinstance(result, (tuple, list)) and len(result) == 4):
        raise Rejected(f"forward returned {type_name(result)}; expected the 4 tensors (p1, p2, z1, z2)")
    for name, output in zip(OUTPUTS, result):
        as_tensor(output, f"forward ({name})", shape=(len(x1), dim))
    zeros = [torch.zeros_like(view) for view in views]  # what a detached output sends back
    sent_back = [gradients_of(output * direction.double(), views, retain_graph=True) or zeros
                 for output, direction in zip(result, directions)]
    return {"outputs": [output.detach() for output in result], "attached": [bool(o.requires_grad) for o in result],
            "gradients": sent_back}


def cosine_similarity(sub, x1, x2, eps=None, dim=None):
    """CosineSimilarity(dim, eps) on x1, x2. With another `dim` than 1, the given `bdot` (the dot
    product of the rows of (B, S) batches) is swapped for the dot product along `dim`, so an answer
    built on it is judged on its own use of `self.dim`."""
    settings = {name: value for name, value in (("dim", dim), ("eps", eps)) if value is not None}
    module = sub.CosineSimilarity(**settings)
    swapped = {} if dim is None else {"bdot": lambda a, b: (a * b).sum(dim=dim)}
    with replaced(sub, **swapped):
        try:
            result = module(x1.double(), x2.double())
        except RuntimeError as error:
            if dim is None:
                raise
            raise Rejected(f"CosineSimilarity(dim={dim}) failed on inputs of shape {tuple(x1.shape)} "
                           f"({str(error).splitlines()[0][:200]}): is the similarity computed along self.dim?")
    along = 1 if dim is None else dim
    shape = tuple(size for axis, size in enumerate(x1.shape) if axis != along % x1.dim())
    if isinstance(result, torch.Tensor) and tuple(result.shape) != shape:
        raise Rejected(f"CosineSimilarity(dim={along}) returned a tensor of shape {tuple(result.shape)} for inputs "
                       f"of shape {tuple(x1.shape)}; expected {shape} (the similarity is computed along dim {along}: "
                       "use self.dim)")
    return as_tensor(result, "CosineSimilarity", shape=shape)


def loss(sub, p1, p2, z1, z2, stop_gradient, standin=False):
    """Call `loss` (with the stand-in similarity when `standin`); report its value and the
    gradient it sends to each of p1, p2, z1, z2 (None where none reaches)."""
    tensors = [t.double().requires_grad_(True) for t in (p1, p2, z1, z2)]
    with _similarity(sub, standin):
        model = _model(sub, p1.shape[1], 2, stop_gradient, None)
        value = model.loss(*tensors)
    number = as_float(value, "loss")
    found = (gradients_of(value, tensors) if isinstance(value, torch.Tensor) else None) or [None] * 4
    return {"value": number, "gradients": [g if g is not None and g.abs().sum() > 0 else None for g in found]}
