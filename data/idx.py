"""The IDX file format of MNIST and FashionMNIST (LeCun et al.): a big-endian header, then bytes."""
import gzip
import struct
from pathlib import Path

import numpy as np

_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
               np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def write_idx(path, array: np.ndarray, compress: bool = False) -> Path:
    """Write `array` (uint8 images (N, H, W) or labels (N,)) as an IDX file, gzipped if asked."""
    array = np.asarray(array)
    if array.dtype.kind in "iuf" and array.dtype.itemsize > 1:
        array = array.astype(array.dtype.newbyteorder(">"))
    code = _TYPE_CODES[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzipped or not)."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    _, _, code, ndim = struct.unpack(">BBBB", data[:4])
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = {v: k for k, v in _TYPE_CODES.items()}[code]
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
