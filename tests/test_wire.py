"""The plain-data format that crosses the sandbox boundary."""
import pickle
import struct

import numpy as np
import pytest
import torch

from grading import wire


def test_round_trip_of_plain_values_and_arrays():
    value = {"a": [1, 2.5, None, True, "text"], "t": torch.arange(6.0).view(2, 3), "n": np.int8([1, -2]),
             "pair": (torch.tensor(3), {"bf16": torch.ones(2, dtype=torch.bfloat16)}), "nan": float("nan")}
    back = wire.decode(wire.encode(value))
    assert back["a"] == [1, 2.5, None, True, "text"]
    assert torch.equal(back["t"], value["t"]) and back["t"].dtype == torch.float32
    assert torch.equal(back["n"], torch.tensor([1, -2], dtype=torch.int8))
    assert isinstance(back["pair"], tuple) and back["pair"][0].shape == ()
    assert back["pair"][1]["bf16"].dtype == torch.float32  # numpy has no bfloat16
    assert back["nan"] != back["nan"]


def test_non_contiguous_and_grad_tensors_are_sent_as_values():
    tensor = torch.randn(4, 5, requires_grad=True).t()
    assert torch.equal(wire.decode(wire.encode(tensor)), tensor.detach())


@pytest.mark.parametrize("value", [lambda: 0, object(), {1: "int key"}, torch.nn.Linear(2, 2), np.array(["a"])])
def test_anything_else_is_refused_when_encoding(value):
    with pytest.raises(wire.WireError):
        wire.encode(value)


def _message(header: bytes, *buffers: bytes) -> bytes:
    parts = [wire.MAGIC, struct.pack("<I", len(header)), header]
    for buffer in buffers:
        parts += [struct.pack("<Q", len(buffer)), buffer]
    return b"".join(parts)


@pytest.mark.parametrize("data", [
    pickle.dumps({"score": 35}),                                                   # a pickle is not a message
    wire.MAGIC + b"\xff\xff\xff\xff",                                              # header longer than the data
    _message(b'{"__array__": 0, "dtype": "object", "shape": [1]}', b"x" * 8),      # dtype not allowed
    _message(b'{"__array__": 0, "dtype": "float32", "shape": [3]}', b"x" * 8),     # size does not match shape
    _message(b'{"__array__": 0, "dtype": "float32", "shape": [4294967296, 4294967296]}', b""),
    _message(b'{"__array__": 5, "dtype": "float32", "shape": [1]}', b"x" * 4),     # no such buffer
    _message(b"[" * 100 + b"]" * 100),                                             # nested too deeply
    _message(b"not json"),
    wire.encode([1, 2])[:-1] + b"\x01\x00",                                        # truncated buffer length
])
def test_malformed_messages_are_refused(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_framing_over_a_pipe(tmp_path):
    import os
    read_fd, write_fd = os.pipe()
    wire.send(write_fd, {"x": torch.ones(3)})
    assert torch.equal(wire.receive(read_fd)["x"], torch.ones(3))
    wire.send(write_fd, list(range(10)))
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.receive(read_fd, max_bytes=10)
