"""Plain data across the sandbox boundary: a small, strict format instead of pickle.

The grader never unpickles what a submission sends: a pickle can run code in the reader. A
message here is a tree of None, bool, int, float, str, list, tuple, dict (str keys) and arrays
(torch tensors or numpy arrays), laid out as

    b"KITW" | u32 header length | header (JSON) | for each array: u64 length | raw bytes

where the header is the tree with every array replaced by {"__array__": i, "dtype", "shape"}.
Decoding checks every length, dtype and shape before it touches the bytes, and returns torch
tensors. Only standard-library modules, numpy and torch are used, so the file can run inside the
sandbox as it is.
"""
import json
import math
import os
import struct

import numpy as np
import torch

MAGIC = b"KITW"
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "complex64", "complex128")
MAX_DEPTH = 32
MAX_STRING = 1 << 20
MAX_HEADER = 8 << 20    # JSON beyond this would cost the grader many times its size in objects
MAX_ARRAYS = 100_000


class WireError(ValueError):
    """The bytes are not a well-formed message (or break a size limit)."""


def _to_numpy(array) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        tensor = array.detach().cpu()
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
            tensor = tensor.float()
        if tensor.is_sparse or tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        array = tensor.resolve_conj().resolve_neg().numpy()
    array = np.asarray(array)
    if not array.flags["C_CONTIGUOUS"]:  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        array = array.copy(order="C")
    if array.dtype.name not in DTYPES:
        raise WireError(f"arrays of dtype {array.dtype} cannot be sent")
    return array


def encode(obj) -> bytes:
    """Serialize a tree of plain values and arrays (see the module docstring)."""
    buffers = []

    def walk(value, depth):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        if isinstance(value, (torch.Tensor, np.ndarray)):
            array = _to_numpy(value)
            buffers.append(array.tobytes())
            return {"__array__": len(buffers) - 1, "dtype": array.dtype.name, "shape": list(array.shape)}
        if isinstance(value, tuple):
            return {"__tuple__": [walk(item, depth + 1) for item in value]}
        if isinstance(value, list):
            return [walk(item, depth + 1) for item in value]
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                raise WireError("dictionary keys must be strings")
            return {key: walk(item, depth + 1) for key, item in value.items()}
        raise WireError(f"values of type {type(value).__name__} cannot be sent")

    header = json.dumps(walk(obj, 0)).encode()
    parts = [MAGIC, struct.pack("<I", len(header)), header]
    for buffer in buffers:
        parts += [struct.pack("<Q", len(buffer)), buffer]
    return b"".join(parts)


def decode(data: bytes):
    """Inverse of `encode`. Raises WireError on anything malformed."""
    view = memoryview(data)
    if bytes(view[:4]) != MAGIC or len(view) < 8:
        raise WireError("not a grader message")
    (header_length,) = struct.unpack("<I", view[4:8])
    if 8 + header_length > len(view):
        raise WireError("truncated header")
    if header_length > MAX_HEADER:
        raise WireError(f"a header of {header_length >> 20} MB is over the limit of {MAX_HEADER >> 20} MB")
    try:
        header = json.loads(bytes(view[8:8 + header_length]))
    except (ValueError, RecursionError) as error:
        raise WireError(f"bad header: {error}") from None

    buffers, offset = [], 8 + header_length
    while offset < len(view):
        if offset + 8 > len(view):
            raise WireError("truncated buffer length")
        (length,) = struct.unpack("<Q", view[offset:offset + 8])
        offset += 8
        if offset + length > len(view):
            raise WireError("truncated buffer")
        buffers.append(view[offset:offset + length])
        offset += length
        if len(buffers) > MAX_ARRAYS:
            raise WireError(f"more than {MAX_ARRAYS} arrays")

    def walk(value, depth):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise WireError("string too long")
            return value
        if isinstance(value, list):
            return [walk(item, depth + 1) for item in value]
        if isinstance(value, dict):
            if "__array__" in value:
                return _array(value)
            if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
                return tuple(walk(item, depth + 1) for item in value["__tuple__"])
            return {str(key): walk(item, depth + 1) for key, item in value.items()}
        raise WireError(f"unexpected {type(value).__name__} in header")

    def _array(spec):
        index, dtype, shape = spec.get("__array__"), spec.get("dtype"), spec.get("shape")
        if not (isinstance(index, int) and 0 <= index < len(buffers)):
            raise WireError("bad array index")
        if dtype not in DTYPES:
            raise WireError(f"dtype {dtype!r} not allowed")
        if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise WireError("bad array shape")
        item_size = np.dtype(dtype).itemsize
        if math.prod(shape) * item_size != len(buffers[index]):
            raise WireError("array size does not match its shape")
        array = np.frombuffer(buffers[index], dtype=dtype).reshape(shape).copy()
        return torch.from_numpy(array)

    return walk(header, 0)


# Framing over a pipe: u64 length, then the message.

def send(fd: int, obj) -> None:
    """Write one framed message to a file descriptor (blocking)."""
    send_encoded(fd, encode(obj))


def send_encoded(fd: int, payload: bytes) -> None:
    """Write an already encoded message, framed."""
    data = memoryview(struct.pack("<Q", len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


class FrameReader:
    """Reads framed messages from a file descriptor, keeping every byte read beyond the current
    frame for the next one: two messages that arrive in one read are two messages.

    `next_frame()` returns a complete frame from what was already read (or None), `fill()` reads
    once more from the descriptor (False at end of file), and `receive()` does both until a
    message is complete (blocking). The grader drives `next_frame`/`fill` itself, under select
    with a deadline; the child, which trusts the grader, calls `receive`.
    """

    def __init__(self, fd: int, max_bytes: int = 1 << 30):
        self.fd, self.max_bytes = fd, max_bytes
        self._buffer = bytearray()

    def next_frame(self):
        """The payload of the next complete frame (a memoryview), or None if more bytes are needed.
        Raises WireError as soon as a frame announces more than `max_bytes`."""
        if len(self._buffer) < 8:
            return None
        (length,) = struct.unpack("<Q", self._buffer[:8])
        if length > self.max_bytes:
            raise WireError(f"a message of {length >> 20} MB is over the limit of {self.max_bytes >> 20} MB")
        if len(self._buffer) < 8 + length:
            return None
        payload = bytes(memoryview(self._buffer)[8:8 + length])
        del self._buffer[:8 + length]
        return payload

    def fill(self, chunk_size: int = 1 << 20) -> bool:
        """Read what is available (one read); False when the other side closed the pipe."""
        chunk = os.read(self.fd, chunk_size)
        self._buffer += chunk
        return bool(chunk)

    def receive(self):
        """The next message, decoded (blocking). Raises EOFError when the pipe closes first."""
        while (payload := self.next_frame()) is None:
            if not self.fill():
                raise EOFError("the other side closed the pipe")
        return decode(payload)
