"""Tensors: generated data within each datatype's range, and the raw and JSON
forms a data file may give a tensor in."""

from __future__ import annotations

import numpy as np
import pytest
from perfanalyzer.inputs import (
    INT_TYPES,
    STRING_CHARACTERS,
    TensorDataError,
    bf16_bits,
    element_count,
    make_tensor,
    split_bytes_elements,
    tensor_bytes,
    tensor_from_bytes,
    tensor_from_list,
    tensor_from_strings,
    tensor_json_values,
)


def rng() -> np.random.Generator:
    return np.random.default_rng(7)


# ---------------------------------------------------------------- generated data


@pytest.mark.parametrize("datatype", INT_TYPES)
def test_random_integers_cover_the_datatype_range(datatype):
    t = make_tensor(datatype, (4096,), "random", rng())
    info = np.iinfo(t.dtype)
    assert t.dtype == np.dtype(datatype.lower())
    assert info.min <= t.min() and t.max() <= info.max
    # Spread over the whole range, not just small values: both extremes' quarters are hit.
    span = int(info.max) - int(info.min)
    assert int(t.min()) < int(info.min) + span // 4 and int(t.max()) > int(info.max) - span // 4


@pytest.mark.parametrize("datatype, dtype", [("FP16", np.float16), ("FP32", np.float32), ("FP64", np.float64)])
def test_random_floats_are_finite_in_unit_interval(datatype, dtype):
    t = make_tensor(datatype, (1000,), "random", rng())
    assert t.dtype == dtype and np.isfinite(t).all()
    assert 0 <= t.min() and t.max() < 1 and t.std() > 0.1


def test_random_bf16_and_bool():
    bits = make_tensor("BF16", (1000,), "random", rng())
    values = (bits.astype(np.uint32) << 16).view(np.float32)
    assert bits.dtype == np.uint16 and 0 <= values.min() and values.max() < 1
    flags = make_tensor("BOOL", (1000,), "random", rng())
    assert flags.dtype == np.bool_ and 0 < flags.sum() < 1000


@pytest.mark.parametrize("datatype", ["BOOL", "INT8", "UINT64", "FP16", "BF16", "FP64"])
def test_zero_mode(datatype):
    t = make_tensor(datatype, (3, 2), "zero", rng())
    assert t.shape == (3, 2) and not t.any()


def test_random_strings_honour_string_length_and_character_set():
    t = make_tensor("BYTES", (2, 3), "random", rng(), string_length=5)
    assert t.shape == (2, 3)
    allowed = set(STRING_CHARACTERS.tobytes())
    for s in t.reshape(-1):
        assert isinstance(s, bytes) and len(s) == 5 and set(s) <= allowed
    assert len(set(t.reshape(-1))) > 1


def test_string_data_is_replicated_in_either_mode():
    for mode in ("random", "zero"):
        t = make_tensor("BYTES", (3,), mode, rng(), string_length=5, string_data="FOOBAR")
        assert list(t) == [b"FOOBAR"] * 3


def test_element_count_uses_python_integers():
    assert element_count((2**40, 2**40)) == 2**80
    assert element_count(()) == 1


# ---------------------------------------------------------------- from a JSON list


@pytest.mark.parametrize("datatype, values, expected", [
    ("BOOL", [True, False], np.array([True, False])),
    ("UINT8", [0, 255], np.array([0, 255], dtype=np.uint8)),
    ("INT8", [-128, 127], np.array([-128, 127], dtype=np.int8)),
    ("UINT16", [65535, 1], np.array([65535, 1], dtype=np.uint16)),
    ("INT16", [-32768, 2], np.array([-32768, 2], dtype=np.int16)),
    ("UINT32", [2**32 - 1, 0], np.array([2**32 - 1, 0], dtype=np.uint32)),
    ("INT32", [-(2**31), 5], np.array([-(2**31), 5], dtype=np.int32)),
    ("UINT64", [2**64 - 1, 3], np.array([2**64 - 1, 3], dtype=np.uint64)),
    ("INT64", [-(2**63), 2**63 - 1], np.array([-(2**63), 2**63 - 1], dtype=np.int64)),
    ("FP16", [1.5, -2], np.array([1.5, -2], dtype=np.float16)),
    ("FP32", [0.25, 3], np.array([0.25, 3], dtype=np.float32)),
    ("FP64", [1e300, -1e-300], np.array([1e300, -1e-300], dtype=np.float64)),
    ("BF16", [1.0, -2.0], np.array([0x3F80, 0xC000], dtype=np.uint16)),
])
def test_every_datatype_from_a_list(datatype, values, expected):
    t = tensor_from_list(datatype, values, (2,))
    assert t.dtype == expected.dtype and np.array_equal(t, expected)


def test_list_takes_the_shape_row_major_and_nonfinite_floats():
    t = tensor_from_list("INT32", [1, 2, 3, 4, 5, 6], (2, 3))
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]]
    f = tensor_from_list("FP32", [float("nan"), float("inf")], (2,))
    assert np.isnan(f[0]) and np.isinf(f[1])
    assert tensor_from_list("FP32", [], (0, 4)).shape == (0, 4)


def test_strings_from_a_list_are_utf8():
    t = tensor_from_list("BYTES", ["héllo", ""], (2,))
    assert list(t) == ["héllo".encode(), b""]


def test_bf16_rounds_to_nearest_even():
    halfway_down = np.float32(1 + 2**-8)          # between 1.0 (even) and 1.0078125: stays 1.0
    halfway_up = np.float32(1 + 3 * 2**-8)        # between 1.0078125 (odd) and 1.015625: goes up
    above = np.float32(1 + 2**-8 + 2**-12)
    bits = bf16_bits(np.array([halfway_down, halfway_up, above, np.nan], dtype=np.float32))
    assert bits.tolist() == [0x3F80, 0x3F82, 0x3F81, 0x7FC0]


@pytest.mark.parametrize("datatype, values, message", [
    ("FP32", [1, 2, 3], "expected 4 elements for shape [4], got 3"),
    ("FP32", ["1", 2, 3, 4], "element 0 is the string '1'; a FP32 input takes numbers"),
    ("INT32", [1, 2.5, 3, 4], "element 1 is the number 2.5; a INT32 input takes integers"),
    ("INT64", [1, 2, True, 4], "element 2 is a boolean; a INT64 input takes integers"),
    ("BOOL", [True, 1, False, True], "element 1 is the number 1; a BOOL input takes true or false"),
    ("BYTES", ["a", "b", 3, "d"], "element 2 is the number 3; a BYTES input takes strings"),
    ("FP32", [None, 1, 2, 3], "element 0 is null; a FP32 input takes numbers"),
    ("FP32", [[1], 2, 3, 4], "element 0 is a list; a FP32 input takes numbers"),
    ("UINT8", [0, 256, 1, 1], "element 1 (256) is outside the UINT8 range 0..255"),
    ("INT8", [-129, 0, 1, 1], "element 0 (-129) is outside the INT8 range -128..127"),
    ("UINT64", [-1, 0, 1, 1], "element 0 (-1) is outside the UINT64 range"),
    ("FP16", [1, 70000.0, 1, 1], "element 1 (70000.0) is outside the FP16 range"),
    ("FP32", [1e39, 1, 1, 1], "element 0 (1e+39) is outside the FP32 range"),
    ("BF16", [1, 1, 1e39, 1], "element 2 (1e+39) is outside the BF16 range"),
    ("FP64", [10**400, 1, 1, 1], "a value is too large for FP64"),
    ("BYTES", ["\ud800", "a", "b", "c"], "a string holds an unpaired UTF-16 surrogate"),
])
def test_list_errors(datatype, values, message):
    with pytest.raises(TensorDataError) as e:
        tensor_from_list(datatype, values, (4,))
    assert message in str(e.value)


# ---------------------------------------------------------------- from raw bytes


def test_raw_bytes_are_little_endian_row_major():
    raw = np.array([[1, 2], [3, 4]], dtype="<i4").tobytes()
    t = tensor_from_bytes("INT32", raw, (2, 2))
    assert t.dtype == np.int32 and t.tolist() == [[1, 2], [3, 4]]
    assert tensor_from_bytes("FP16", np.array([0.5], dtype="<f2").tobytes(), (1,)).tolist() == [0.5]
    assert tensor_bytes("INT32", t) == raw  # and back


def test_raw_bytes_of_the_wrong_size():
    with pytest.raises(TensorDataError, match=r"expected 12 bytes \(3 x INT32\) for shape \[3\], got 8 bytes"):
        tensor_from_bytes("INT32", bytes(8), (3,))


def test_bytes_elements_are_length_prefixed():
    raw = b"\x02\x00\x00\x00ab" + b"\x00\x00\x00\x00" + b"\x03\x00\x00\x00xyz"
    assert split_bytes_elements(raw) == [b"ab", b"", b"xyz"]
    assert list(tensor_from_bytes("BYTES", raw, (3,))) == [b"ab", b"", b"xyz"]
    with pytest.raises(TensorDataError, match=r"expected 2 elements for shape \[2\], got 3"):
        tensor_from_bytes("BYTES", raw, (2,))


@pytest.mark.parametrize("raw, message", [
    (b"\x05\x00\x00\x00abc", "BYTES element 0 claims 5 bytes but only 3 are left"),
    (b"\x01\x00\x00\x00a\x01\x00", "BYTES data ends inside the 4-byte length of element 1"),
])
def test_truncated_bytes_elements(raw, message):
    with pytest.raises(TensorDataError, match=message):
        split_bytes_elements(raw)


def test_strings_keep_bytes_whole():
    t = tensor_from_strings([b"abc", b"de"], (1, 2))
    assert t.dtype == object and t.tolist() == [[b"abc", b"de"]]


# ---------------------------------------------------------------- to JSON values


def test_json_values():
    assert tensor_json_values("INT64", np.array([[1, 2]], dtype=np.int64)) == [1, 2]
    assert tensor_json_values("BOOL", np.array([True, False])) == [True, False]
    assert tensor_json_values("BYTES", np.array([b"a", b"\xc3\xa9"], dtype=object)) == ["a", "é"]


@pytest.mark.parametrize("datatype, array, message", [
    ("BYTES", np.array([b"\xff"], dtype=object), "not UTF-8 text"),
    ("FP32", np.array([np.nan], dtype=np.float32), "NaN or infinity"),
    ("FP64", np.array([np.inf]), "NaN or infinity"),
])
def test_json_values_that_json_cannot_carry(datatype, array, message):
    with pytest.raises(TensorDataError, match=message):
        tensor_json_values(datatype, array)
