"""Input tensors: datatypes, generated (random or zero) data, and conversions
between numpy arrays and the raw, JSON-list and JSON-value forms of a tensor."""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import numpy as np

from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec
from perfanalyzer.settings import DEFAULT_STRING_LENGTH

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
FLOAT_TYPES = ("FP16", "BF16", "FP32", "FP64")
INT_TYPES = ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64")

STRING_CHARACTERS = np.frombuffer((string.ascii_letters + string.digits).encode(), dtype=np.uint8)


class TensorDataError(ValueError):
    """Data that does not make a tensor of the wanted type and shape; the
    caller adds where it came from (file, step, input)."""


def element_count(shape: Sequence[int]) -> int:
    # Python ints: a hostile shape cannot overflow into a small, matching count.
    return math.prod(shape)


def _dtype(datatype: str, name: str) -> np.dtype:
    dtype = NUMPY_DTYPES.get(datatype)
    if dtype is None:
        raise OptionError(f"input '{name}': datatype {datatype} is not supported")
    return dtype


def make_tensor(
    datatype: str, shape: tuple[int, ...], mode: str, rng: np.random.Generator, name: str = "?",
    string_length: int = DEFAULT_STRING_LENGTH, string_data: str = "",
) -> np.ndarray:
    """A generated tensor of `shape`: random values within the datatype's range, or zeros.

    BYTES elements are --string-data when given, else `string_length` random
    letters and digits (zero mode: b"0")."""
    dtype = _dtype(datatype, name)
    count = element_count(shape)
    if datatype == "BYTES":
        if string_data:
            flat = [string_data.encode()] * count
        elif mode == "zero":
            flat = [b"0"] * count
        else:
            picks = rng.integers(0, len(STRING_CHARACTERS), size=(count, string_length))
            flat = [row.tobytes() for row in STRING_CHARACTERS[picks]]
        return strings_tensor(flat, shape)
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
    spec: ModelSpec, shapes: dict[str, tuple[int, ...]], batch_size: int, mode: str, seed: int = 0,
    string_length: int = DEFAULT_STRING_LENGTH, string_data: str = "",
) -> dict[str, np.ndarray]:
    """One request's worth of inputs; the batch dim is added when the model batches."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for t in spec.inputs:
        dims = shapes[t.name]
        full = (batch_size, *dims) if spec.max_batch_size > 0 else dims
        tensors[t.name] = make_tensor(t.datatype, full, mode, rng, t.name, string_length, string_data)
    return tensors


def strings_tensor(items: Sequence[bytes], shape: tuple[int, ...]) -> np.ndarray:
    # Filling an empty object array keeps numpy from splitting bytes into characters.
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out.reshape(shape)


def tensor_bytes(datatype: str, array: np.ndarray) -> bytes:
    """Raw little-endian row-major bytes, BYTES as 4-byte-length-prefixed items."""
    if datatype == "BYTES":
        out = bytearray()
        for item in array.reshape(-1):
            b = item if isinstance(item, bytes) else str(item).encode()
            out += len(b).to_bytes(4, "little") + b
        return bytes(out)
    return np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def split_bytes_elements(raw: bytes) -> list[bytes]:
    """The elements of a BYTES tensor serialized as 4-byte little-endian length + bytes."""
    items, pos = [], 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise TensorDataError(f"BYTES data ends inside the 4-byte length of element {len(items)}")
        n = int.from_bytes(raw[pos:pos + 4], "little")
        pos += 4
        if pos + n > len(raw):
            raise TensorDataError(
                f"BYTES element {len(items)} claims {n} bytes but only {len(raw) - pos} are left"
            )
        items.append(raw[pos:pos + n])
        pos += n
    return items


def tensor_from_strings(items: Sequence[bytes], shape: tuple[int, ...]) -> np.ndarray:
    """A BYTES tensor of exactly `shape` from its elements."""
    count = element_count(shape)
    if len(items) != count:
        raise TensorDataError(f"mismatch in the data provided: expected {count} elements for shape {list(shape)}, "
                              f"got {len(items)}")
    return strings_tensor(items, shape)


def tensor_from_bytes(datatype: str, raw: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """A tensor from its raw little-endian bytes (BYTES: length-prefixed elements)."""
    if datatype == "BYTES":
        return tensor_from_strings(split_bytes_elements(raw), shape)
    count = element_count(shape)
    dtype = NUMPY_DTYPES[datatype]
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise TensorDataError(
            f"mismatch in the data provided: expected {expected} bytes ({count} x {datatype}) for shape {list(shape)}, "
            f"got {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _first_bad(values: Sequence[object], ok: type | tuple[type, ...], wanted: str, datatype: str) -> None:
    # `type(v) in ok` rather than isinstance: JSON booleans are Python ints.
    kinds = ok if isinstance(ok, tuple) else (ok,)
    for i, v in enumerate(values):
        if type(v) not in kinds:
            raise TensorDataError(f"element {i} is {_json_type(v)}; a {datatype} input takes {wanted}")


def bf16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, rounded to nearest even (NaN stays NaN)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    out[np.isnan(values)] = 0x7FC0
    return out


def tensor_from_list(datatype: str, values: list[object], shape: tuple[int, ...]) -> np.ndarray:
    """A tensor from a flat JSON list: numbers, booleans for BOOL, strings for BYTES."""
    count = element_count(shape)
    if len(values) != count:
        raise TensorDataError(f"mismatch in the data provided: expected {count} elements for shape {list(shape)}, "
                              f"got {len(values)}")
    if datatype == "BYTES":
        _first_bad(values, str, "strings", datatype)
        try:
            items = [v.encode() for v in values]  # type: ignore[attr-defined]
        except UnicodeEncodeError:
            raise TensorDataError("a string holds an unpaired UTF-16 surrogate") from None
        return strings_tensor(items, shape)
    if datatype == "BOOL":
        _first_bad(values, bool, "true or false", datatype)
        return np.array(values, dtype=np.bool_).reshape(shape)
    dtype = NUMPY_DTYPES[datatype]
    if datatype in INT_TYPES:
        _first_bad(values, int, "integers", datatype)
        info = np.iinfo(dtype)
        for i, v in enumerate(values):
            if not info.min <= v <= info.max:  # type: ignore[operator]
                raise TensorDataError(f"element {i} ({v}) is outside the {datatype} range {info.min}..{info.max}")
        return np.array(values, dtype=dtype).reshape(shape)
    _first_bad(values, (int, float), "numbers", datatype)
    try:
        wide = np.array(values, dtype=np.float64)
    except OverflowError:
        raise TensorDataError(f"a value is too large for {datatype}") from None
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, by element
        narrow = wide.astype(np.float32 if datatype == "BF16" else dtype)
    overflow = np.isfinite(wide) & ~np.isfinite(narrow)
    if overflow.any():
        i = int(np.argmax(overflow))
        raise TensorDataError(f"element {i} ({values[i]}) is outside the {datatype} range")
    if datatype == "BF16":
        narrow = bf16_bits(narrow)
    return narrow.reshape(shape)


def tensor_json_values(datatype: str, array: np.ndarray) -> list[object]:
    """A tensor's elements as a flat JSON list (KServe v2 `data`)."""
    flat = np.ascontiguousarray(array).reshape(-1)
    if datatype == "BYTES":
        try:
            return [(x if isinstance(x, bytes) else str(x).encode()).decode() for x in flat]
        except UnicodeDecodeError:
            raise TensorDataError("a BYTES element is not UTF-8 text, which a JSON body cannot carry") from None
    if datatype in ("FP32", "FP64") and not np.isfinite(flat).all():
        raise TensorDataError("NaN or infinity cannot be written in a JSON body")
    return flat.tolist()
