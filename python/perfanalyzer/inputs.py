"""Input tensors: random or zero data of the model's types and shapes."""

from __future__ import annotations

import numpy as np

from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec

# KServe v2 datatype -> numpy dtype (BF16 travels as its raw 16 bits).
NUMPY_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "BF16": np.dtype(np.uint16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}

DEFAULT_STRING_LENGTH = 128


def make_tensor(
    datatype: str, shape: tuple[int, ...], mode: str, rng: np.random.Generator, name: str = "?"
) -> np.ndarray:
    """One tensor of the full (batched) shape."""
    dtype = NUMPY_DTYPES.get(datatype)
    if dtype is None:
        raise OptionError(f"input '{name}': datatype {datatype} is not supported")
    count = int(np.prod(shape, dtype=np.int64))
    if datatype == "BYTES":
        if mode == "zero":
            flat = [b"0"] * count
        else:
            letters = rng.integers(ord("a"), ord("z") + 1, size=(count, DEFAULT_STRING_LENGTH), dtype=np.uint8)
            flat = [row.tobytes() for row in letters]
        return np.array(flat, dtype=object).reshape(shape)
    if mode == "zero":
        return np.zeros(shape, dtype=dtype)
    if datatype == "BOOL":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if datatype in ("FP16", "FP32", "FP64"):
        return rng.random(size=shape, dtype=np.float64).astype(dtype)
    if datatype == "BF16":
        # The upper half of a float32 in [0, 1) is a valid bfloat16 in [0, 1).
        return (rng.random(size=shape, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def make_inputs(
    spec: ModelSpec, shapes: dict[str, tuple[int, ...]], batch_size: int, mode: str, seed: int = 0
) -> dict[str, np.ndarray]:
    """One request's worth of inputs; the batch dim is added when the model batches."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for t in spec.inputs:
        dims = shapes[t.name]
        full = (batch_size, *dims) if spec.max_batch_size > 0 else dims
        tensors[t.name] = make_tensor(t.datatype, full, mode, rng, t.name)
    return tensors


def tensor_bytes(datatype: str, array: np.ndarray) -> bytes:
    """Raw little-endian row-major bytes, BYTES as 4-byte-length-prefixed items."""
    if datatype == "BYTES":
        out = bytearray()
        for item in array.reshape(-1):
            b = item if isinstance(item, bytes) else str(item).encode()
            out += len(b).to_bytes(4, "little") + b
        return bytes(out)
    return np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
