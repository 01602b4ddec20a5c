"""Helpers for probes: the functions that exercise a submission and return plain values.

Probes run twice for every hidden check: inside the sandbox on the submission, and in the
grader on the reference solution; the grader compares the two results. They must therefore
return only what `grading.wire` can carry (numbers, strings, lists, dicts, tensors), never a
module or a function, and must not depend on anything but their arguments.
"""
import contextlib
import math

import torch


class Rejected(Exception):
    """A probe refuses what the submission returned; the message is shown to the student."""


def type_name(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("a builtins.", "a ")


def as_float(value, what: str) -> float:
    """A Python number, or a tensor/array holding exactly one number."""
    if isinstance(value, bool):
        raise Rejected(f"{what} returned a bool; expected a float")
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, "item") and hasattr(value, "shape") and math.prod(value.shape) == 1:
        return float(value.item())
    raise Rejected(f"{what} returned {type_name(value)}; expected a float")


def as_tensor(value, what: str, shape=None) -> torch.Tensor:
    """A torch tensor (detached, on the CPU), optionally of a given shape."""
    if not isinstance(value, torch.Tensor):
        raise Rejected(f"{what} returned {type_name(value)}; expected a torch.Tensor")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise Rejected(f"{what} returned a tensor of shape {tuple(value.shape)}; expected {tuple(shape)}")
    return value.detach().cpu()


def as_module(value, what: str) -> torch.nn.Module:
    if not isinstance(value, torch.nn.Module):
        raise Rejected(f"{what} returned {type_name(value)}; expected a torch.nn.Module")
    return value


def describe_layer(module: torch.nn.Module) -> dict:
    """The facts of a layer the rubric may check, by its torch.nn base class."""
    nn = torch.nn
    for base, fields in ((nn.Linear, ("in_features", "out_features")),
                         (nn.Conv2d, ("in_channels", "out_channels", "kernel_size", "stride", "padding")),
                         (nn.ConvTranspose2d, ("in_channels", "out_channels", "kernel_size", "stride",
                                               "padding", "output_padding")),
                         (nn.MaxPool2d, ("kernel_size", "stride")),
                         (nn.AdaptiveMaxPool2d, ("output_size",)), (nn.AdaptiveAvgPool2d, ("output_size",)),
                         (nn.Softmax, ("dim",)), (nn.LogSoftmax, ("dim",)), (nn.BatchNorm1d, ("num_features",)),
                         (nn.BatchNorm2d, ("num_features",)), (nn.Embedding, ("num_embeddings", "embedding_dim")),
                         (nn.LSTMCell, ("input_size", "hidden_size")), (nn.Dropout, ("p",))):
        if isinstance(module, base):
            facts = {"layer": base.__name__}
            for field in fields:
                value = getattr(module, field)
                facts[field] = list(value) if isinstance(value, tuple) else value
            return facts
    return {"layer": type(module).__name__}


def trace_layers(network: torch.nn.Module, *inputs):
    """Run `network(*inputs)` and list the leaf modules in the order they were called.

    Returns (layers, output, modules): `layers` is a list of `describe_layer` dicts with the
    output shape of each call, `modules` the distinct called modules in first-call order (to load
    weights into). A module called twice appears twice in `layers`.
    """
    layers, modules, handles = [], [], []

    def record(module, args, output):
        facts = describe_layer(module)
        if isinstance(output, torch.Tensor):
            facts["output_shape"] = list(output.shape)
        layers.append(facts)
        if not any(module is seen for seen in modules):
            modules.append(module)

    for module in network.modules():
        if not list(module.children()):
            handles.append(module.register_forward_hook(record))
    try:
        output = network(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return layers, output, modules


def load_parameters(modules, tensors, what: str) -> None:
    """Copy `tensors` into the parameters of `modules`, in order, checking every shape."""
    parameters = [p for module in modules for p in module.parameters(recurse=False)]
    if len(parameters) != len(tensors):
        raise Rejected(f"{what} has {len(parameters)} parameter tensors in its layers; expected {len(tensors)}")
    with torch.no_grad():
        for i, (parameter, tensor) in enumerate(zip(parameters, tensors)):
            if tuple(parameter.shape) != tuple(tensor.shape):
                raise Rejected(f"{what}: parameter {i} has shape {tuple(parameter.shape)}; "
                               f"expected {tuple(tensor.shape)}")
            parameter.copy_(tensor.to(parameter.dtype))


def describe_network(network: torch.nn.Module, x, weights=None, what: str = "the network") -> dict:
    """The called layers of `network` on `x`, its output (with `weights` loaded into the layers in
    call order, when given) and its number of parameters, as plain values for the grader."""
    with torch.no_grad():
        layers, output, modules = trace_layers(network, x)
        if weights is not None:
            load_parameters(modules, weights, what)
            output = network(x)
    return {"layers": layers, "output": as_tensor(output, what),
            "parameters": sum(p.numel() for p in network.parameters())}


def gradients_of(output: torch.Tensor, tensors, retain_graph: bool = False):
    """The gradient of `output.sum()` with respect to each of `tensors` (zeros where it does not
    depend on one, detached), or None when `output` is detached from the autograd graph."""
    if not output.requires_grad:
        return None
    tensors = list(tensors)
    found = torch.autograd.grad(output.sum(), tensors, retain_graph=retain_graph, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g.detach() for t, g in zip(tensors, found)]


@contextlib.contextmanager
def replaced(owner, **attributes):
    """Temporarily replace attributes of a class or object (restored even on error)."""
    saved = {name: owner.__dict__[name] for name in attributes if name in owner.__dict__}
    try:
        for name, value in attributes.items():
            setattr(owner, name, value)
        yield
    finally:
        for name in attributes:
            if name in saved:
                setattr(owner, name, saved[name])
            else:
                delattr(owner, name)


def with_standins(owner, standins: dict, names):
    """Swap the methods or functions `names` of `owner` (a class or module) for the stand-ins
    of `standins` (name -> replacement), for the duration of a `with` block.

    A stand-in is deliberately *not* an answer, only recognisable behaviour: it lets a probe
    grade a function meant to call a helper the student also writes, whatever that helper's own
    correctness (see `grading.judge.with_or_without_helpers`).
    """
    unknown = set(names) - set(standins)
    if unknown:
        raise ValueError(f"no stand-in for {sorted(unknown)}")
    return replaced(owner, **{name: standins[name] for name in names})
