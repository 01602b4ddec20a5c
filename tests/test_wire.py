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
    assert torch.equal(wire.FrameReader(read_fd).receive()["x"], torch.ones(3))
    wire.send(write_fd, list(range(10)))
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.FrameReader(read_fd, max_bytes=10).receive()


def test_two_messages_in_one_read_are_two_messages():
    """A reader that comes late finds several frames in one read: none is lost."""
    import os
    read_fd, write_fd = os.pipe()
    for message in ({"event": "hello"}, {"event": "imported"}, [1, 2, 3]):
        wire.send(write_fd, message)
    os.close(write_fd)
    reader = wire.FrameReader(read_fd)
    assert reader.fill()  # one read takes all three frames
    assert [wire.decode(reader.next_frame()), wire.decode(reader.next_frame()), reader.receive()] == \
        [{"event": "hello"}, {"event": "imported"}, [1, 2, 3]]
    with pytest.raises(EOFError):
        reader.receive()


def test_a_frame_split_across_reads_is_reassembled():
    import os
    read_fd, write_fd = os.pipe()
    payload = wire.encode({"x": torch.arange(1000)})
    framed = len(payload).to_bytes(8, "little") + payload
    reader = wire.FrameReader(read_fd)
    for start in range(0, len(framed), 999):
        assert reader.next_frame() is None
        os.write(write_fd, framed[start:start + 999])
        reader.fill()
    assert torch.equal(wire.decode(reader.next_frame())["x"], torch.arange(1000))


def test_a_huge_header_is_refused_before_it_is_parsed():
    data = wire.MAGIC + (wire.MAX_HEADER + 1).to_bytes(4, "little") + b"[" + b"0," * (wire.MAX_HEADER // 2) + b"0]"
    with pytest.raises(wire.WireError, match="header"):
        wire.decode(data)
