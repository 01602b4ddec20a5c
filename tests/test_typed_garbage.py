"""No point for a constant: every graded function answering typed garbage scores 0.

Typed garbage is what a student who wants points without the work would hand in: every function
the student writes returns a value of the right type and shape, but not a computed one -- zeros,
a constant, the input echoed back, or a constant still attached to the autograd graph. It is made
from the reference itself: each function with a solution region runs the reference (so types and
shapes are right), then its result is replaced. A check that awards a point to such a file checks a
necessary property, not the behaviour.
"""
import ast

import pytest

from conftest import reference_source
from grading import assignments, results

GARBAGE = '''

# -- typed garbage (tests/test_typed_garbage.py) --
import functools as _functools

import torch as _torch


class _GarbageModule(_torch.nn.Module):
    """A network with no layers of its own whose outputs are garbage of the right shape."""

    def __init__(self, network, kind):
        super().__init__()
        self._hidden, self._kind = (network,), kind  # a tuple: not registered as a submodule

    def forward(self, *args, **kwargs):
        return _garble(self._hidden[0](*args, **kwargs), args, self._kind)


def _garble(value, inputs, kind):
    if isinstance(value, _torch.nn.Module):
        return _GarbageModule(value, kind)
    if isinstance(value, _torch.Tensor):
        if kind == "echo":
            echoed = [x for x in inputs if isinstance(x, _torch.Tensor) and x.shape == value.shape]
            if echoed:
                return echoed[0].to(value.dtype)
        if value.dtype == _torch.bool:
            return _torch.zeros_like(value)
        constant = {"zeros": 0, "constant": 1, "echo": 0, "attached": 0.5}[kind]
        if kind == "attached" and value.is_floating_point():
            return value * 0 + constant  # attached to the graph, gradient zero
        return _torch.full_like(value, constant)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        echoed = [x for x in inputs if isinstance(x, str)]
        return {"zeros": "", "constant": "a", "echo": echoed[0] if echoed else "", "attached": "a"}[kind]
    if isinstance(value, (int, float)):
        return type(value)({"zeros": 0, "constant": 1, "echo": 0, "attached": 1}[kind])
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return type(value)(_garble(item, inputs, kind) for item in value)
    if isinstance(value, dict):
        return {key: _garble(item, inputs, kind) for key, item in value.items()}
    if hasattr(value, "__dict__") and not isinstance(value, type):  # a distribution, a vocabulary: its contents
        for name, item in list(vars(value).items()):
            setattr(value, name, _garble(item, inputs, kind))
    return value


def _garbled(function, kind):
    @_functools.wraps(function)
    def garbage(*args, **kwargs):
        return _garble(function(*args, **kwargs), list(args) + list(kwargs.values()), kind)
    return garbage


def _garble_method(owner, name, kind):
    raw = owner.__dict__[name]
    if isinstance(raw, staticmethod):
        setattr(owner, name, staticmethod(_garbled(raw.__func__, kind)))
    elif isinstance(raw, classmethod):
        setattr(owner, name, classmethod(_garbled(raw.__func__, kind)))
    else:
        setattr(owner, name, _garbled(raw, kind))
'''


def _solution_lines(source: str):
    lines = source.splitlines()
    begins = [i + 1 for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION"]
    return begins


def graded_names(source: str):
    """(functions, methods as (class, name), module-level names) holding a solution region."""
    regions = _solution_lines(source)
    tree = ast.parse(source)
    inside = lambda node: any(node.lineno <= line <= node.end_lineno for line in regions)  # noqa: E731
    functions, methods, names = [], [], []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and inside(node):
            functions.append(node.name)
        elif isinstance(node, ast.ClassDef):  # (an __init__ builds layers: judged by them, not garbled)
            methods += [(node.name, item.name) for item in node.body
                        if isinstance(item, ast.FunctionDef) and inside(item) and item.name != "__init__"]
    lines = source.splitlines()
    for begin in regions:
        if not lines[begin - 1].startswith("### BEGIN"):
            continue  # indented: inside a function
        end = next(i for i in range(begin, len(lines)) if lines[i].strip() == "### END SOLUTION")
        region = ast.parse("\n".join(lines[begin:end]))
        names += [target.id for node in region.body if isinstance(node, ast.Assign)
                  for target in node.targets if isinstance(target, ast.Name)]
    return functions, methods, names


def typed_garbage(name: str, kind: str) -> str:
    source = reference_source(name)
    functions, methods, names = graded_names(source)
    assert functions or methods, f"no graded function found in {name}'s reference"
    tail = [GARBAGE]
    tail += [f"{function} = _garbled({function}, {kind!r})" for function in functions]
    tail += [f"_garble_method({owner}, {method!r}, {kind!r})" for owner, method in methods]
    tail += [f"{variable} = _garble({variable}, [], {kind!r})" for variable in names]
    return source + "\n".join(tail) + "\n"


# Questions about the layers a class's __init__ builds: typed garbage keeps the reference's layers
# (it cannot garble a constructor), so these keep the points for their structure.
LAYERS_ONLY = {"captioning": {"Q5"}}


@pytest.mark.parametrize("kind", ["zeros", "constant", "echo", "attached"])
@pytest.mark.parametrize("name", assignments.names())
def test_typed_garbage_scores_nothing(grade, name, kind):
    report = grade(name, typed_garbage(name, kind))
    earned = {q.name: q.score for q in report.questions
              if q.score > 0 and q.name.split()[0] not in LAYERS_ONLY.get(name, ())}
    assert not earned, f"{kind} garbage earns points:\n{results.table(report)}"
