"""Helpers shared by every assignment's checks (grader side) and probes (sandbox side).

Inputs. Checks build their inputs with `randn`, `rand`, `randint` or `generator`, from a small
integer seed. In a public check the seed is used as it is: students see the same inputs every
time. In a hidden check the grader first mixes the seed with the submission's key (an instructor
secret and the submission's bytes, see `grading.secret`), so the same file always gets the same
hidden inputs, another file gets other ones, and no file can learn them in advance. Hidden inputs
are therefore built when the check runs, never at import time.

Layers. Probes describe the layers a network calls (`grading.probing.describe_layer`: a dict with
"layer" and its settings); `layer_line` prints one, `expect_layers` and `expect_layer_counts`
compare two lists of them with a message that names the first difference.

This file runs on both sides of the sandbox: it may import only the standard library and torch,
and the fork server preloads it (see `grading.zygote`).
"""
import contextlib
import contextvars
import hashlib
from collections import Counter

import torch

from grading.rubric import CheckFailed

_hidden_key = contextvars.ContextVar("hidden_key", default=None)


@contextlib.contextmanager
def hidden_inputs(key: bytes):
    """Within this block, seeds are mixed with `key` and checks count as hidden (their messages
    never show an input or an expected value; see `grading.judge`)."""
    token = _hidden_key.set(key)
    try:
        yield
    finally:
        _hidden_key.reset(token)


def in_hidden_check() -> bool:
    return _hidden_key.get() is not None


def mixed_seed(seed: int) -> int:
    """`seed` itself in a public check; in a hidden check, a 63-bit seed derived from it and the key."""
    key = _hidden_key.get()
    if key is None:
        return seed
    digest = hashlib.blake2b(str(seed).encode(), key=key[:64], digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2 ** 63 - 1)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(mixed_seed(seed))


def randn(seed: int, *shape) -> torch.Tensor:
    """Standard normal values of `shape` (float32)."""
    return torch.randn(*shape, generator=generator(seed))


def rand(seed: int, *shape) -> torch.Tensor:
    """Uniform values in [0, 1) of `shape` (float32)."""
    return torch.rand(*shape, generator=generator(seed))


def randint(seed: int, low: int, high: int, shape) -> torch.Tensor:
    """Integers in [low, high) of `shape` (int64)."""
    return torch.randint(low, high, tuple(shape), generator=generator(seed))


# -- layer lists ----------------------------------------------------------------------------------

def layer_line(layer: dict) -> str:
    """"Linear(in_features=784, out_features=256)": a layer's kind and settings, without its
    output shape or its attribute name."""
    details = ", ".join(f"{k}={v}" for k, v in layer.items() if k not in ("layer", "name", "output_shape"))
    return f"{layer['layer']}({details})"


def expect_layers(got: list, expected: list, what: str) -> None:
    """The layers called, in order, are `expected`: each a dict of the facts that must match
    (a fact left out of `expected` may be anything). Raises CheckFailed naming the first
    difference (in a hidden check, without showing the expected layer). Filter both lists first
    to the kinds of layer that matter."""
    names = [layer_line(layer) for layer in got]
    hidden = in_hidden_check()
    for i, want in enumerate(expected):
        should = "" if hidden else f"; layer {i + 1} should be {layer_line(want)}"
        if i >= len(got):
            raise CheckFailed(f"{what}: only {len(got)} layers are called ({', '.join(names) or 'none'}){should}")
        if {k: got[i].get(k) for k in want} != want:
            raise CheckFailed(f"{what}: layer {i + 1} is {names[i]}" + ("; not the expected layer" if hidden
                                                                          else f"; expected {layer_line(want)}"))
    if len(got) != len(expected):
        raise CheckFailed(f"{what}: {len(got)} layers are called, expected {len(expected)} "
                          f"(extra: {', '.join(names[len(expected):])})")


def expect_layer_counts(got: list, expected: list, what: str) -> None:
    """The same layers as `expected`, in any order (compared by `layer_line`)."""
    have, want = Counter(map(layer_line, got)), Counter(map(layer_line, expected))
    missing, extra = want - have, have - want
    if missing or extra:
        if in_hidden_check():
            raise CheckFailed(f"{what}: the layers differ from the expected ones"
                              + (f"; unexpected {', '.join(sorted(extra.elements()))}" if extra else ""))
        raise CheckFailed(f"{what}: the layers should be {', '.join(sorted(want.elements()))}"
                          + (f"; missing {', '.join(sorted(missing.elements()))}" if missing else "")
                          + (f"; unexpected {', '.join(sorted(extra.elements()))}" if extra else ""))


def of_kinds(layers: list, kinds) -> list:
    """The layers whose kind ("Linear", "Conv2d", ...) is one of `kinds`, in order."""
    return [layer for layer in layers if layer["layer"] in kinds]
