"""The compiled output validator: byte-exact comparison of HTTP responses
against validation_data, with the step, output and first differing element
named in perf_analyzer's message."""

from __future__ import annotations

import json

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.data_loader import DataSet
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import strings_tensor, tensor_bytes
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.validation import build_validator, request_steps

MISMATCH = "Output doesn't match expected output"


def response(outputs: list[tuple[str, str, bytes | None]]) -> tuple[bytes, int]:
    """A Triton binary response: (name, datatype, raw bytes or None for a JSON-only output)."""
    entries, blobs = [], b""
    for name, dt, raw in outputs:
        entry: dict = {"name": name, "datatype": dt, "shape": [1]}
        if raw is None:
            entry["data"] = [0]
        else:
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs += raw
        entries.append(entry)
    header = json.dumps({"model_name": "m", "model_version": "1", "outputs": entries},
                        separators=(",", ":")).encode()
    return header + blobs, len(header)


def f32(*values: float) -> bytes:
    return np.array(values, "<f4").tobytes()


def validator_for(expected: dict[str, tuple[str, bytes]], steps: tuple[int, ...] = (0,),
                  stream: int = 0) -> _core.Validator:
    v = _core.Validator(1)
    v.set_steps(0, steps, stream)
    for name, (dt, raw) in expected.items():
        v.add_output(0, name, dt, raw, len(steps))
    return v


def test_match_and_mismatch_name_step_output_and_element() -> None:
    v = validator_for({"OUT": ("FP32", f32(1, 2, 3))}, steps=(4,))
    body, n = response([("OTHER", "INT32", b"\0" * 8), ("OUT", "FP32", f32(1, 2, 3))])
    assert v.check_http(0, body, n) is None
    body, n = response([("OTHER", "INT32", b"\0" * 8), ("OUT", "FP32", f32(1, 2.5, 3))])
    assert v.check_http(0, body, n) == f"{MISMATCH}: step 4, output 'OUT', element 1: expected 2, got 2.5"


def test_batch_rows_map_to_their_steps() -> None:
    # Two rows of 3 elements, steps 7 and 2: a difference in row 2 is step 2, element 1 within it.
    v = validator_for({"OUT": ("INT64", np.array([1, 2, 3, 4, 5, 6], "<i8").tobytes())}, steps=(7, 2))
    body, n = response([("OUT", "INT64", np.array([1, 2, 3, 4, -5, 6], "<i8").tobytes())])
    assert v.check_http(0, body, n) == f"{MISMATCH}: step 2, output 'OUT', element 1: expected 5, got -5"


def test_bytes_outputs_compare_by_element() -> None:
    exp = tensor_bytes("BYTES", strings_tensor([b"ab", b"cd"], (2,)))
    got = tensor_bytes("BYTES", strings_tensor([b"ab", b"cde"], (2,)))
    v = validator_for({"S": ("BYTES", exp)})
    assert v.check_http(0, *response([("S", "BYTES", exp)])) is None
    assert v.check_http(0, *response([("S", "BYTES", got)])) == (
        f'{MISMATCH}: step 0, output \'S\', element 1: expected "cd", got "cde"')


def test_missing_short_and_non_binary_outputs_are_mismatches() -> None:
    v = validator_for({"OUT": ("FP32", f32(1, 2))})
    assert "output 'OUT' is missing from the response" in v.check_http(0, *response([("X", "FP32", f32(1))]))
    assert v.check_http(0, *response([("OUT", "FP32", f32(1))])) == (
        f"{MISMATCH}: step 0, output 'OUT': expected 2 elements, got 1")
    assert "needs --output-tensor-format binary" in v.check_http(0, *response([("OUT", "FP32", None)]))
    body, n = response([("OUT", "FP32", f32(1, 2))])
    assert "shorter than its binary_data_size" in v.check_http(0, body[:-1], n)


def test_unexpected_outputs_and_other_bodies_pass() -> None:
    v = _core.Validator(2)
    v.add_output(1, "OUT", "UINT8", b"\x01")
    assert v.check_http(0, *response([("OUT", "UINT8", b"\x02")])) is None
    assert v.check_output(1, "OUT", b"\x01") is None
    assert v.check_output(1, "NOPE", b"\x09") is None
    assert v.check_output(1, "OUT", b"\xff") == f"{MISMATCH}: step 0, output 'OUT', element 0: expected 1, got 255"


@pytest.mark.parametrize("dt, exp, got, words", [
    ("INT8", np.int8(-3), np.int8(4), "expected -3, got 4"),
    ("UINT64", np.uint64(2**64 - 1), np.uint64(1), "expected 18446744073709551615, got 1"),
    ("BOOL", np.bool_(True), np.bool_(False), "expected true, got false"),
    ("FP64", np.float64(0.1), np.float64(0.2), "expected 0.10000000000000001, got 0.20000000000000001"),
    ("FP16", np.float16(1), np.float16(2), "expected 0x3c00, got 0x4000"),
])
def test_values_are_shown_by_datatype(dt: str, exp: np.generic, got: np.generic, words: str) -> None:
    v = validator_for({"O": (dt, np.array([exp]).tobytes())})
    assert v.check_output(0, "O", np.array([got]).tobytes()).endswith(words)


SPEC = ModelSpec("m", "", "", 8, (TensorSpec("I", "FP32", (2,)),),
                 (TensorSpec("O", "FP32", (2,)), TensorSpec("P", "INT32", (1,))))


def data_set(n: int) -> DataSet:
    steps = tuple({"I": np.full(2, k, np.float32)} for k in range(n))
    expected = tuple({"O": np.full(2, k, np.float32)} if k != 1 else {} for k in range(n))
    return DataSet((steps,), (expected,), from_json=True, origin="--input-data d.json")


def test_build_validator_follows_the_batching_of_the_bodies() -> None:
    data = data_set(3)
    assert request_steps(SPEC, data, 2) == [[0, 1], [2, 0], [1, 2]]
    v = build_validator(SPEC, data, 1, "binary")
    assert v.n_bodies == 3
    assert v.check_output(0, "O", f32(0, 0)) is None
    assert v.check_output(1, "O", f32(9, 9)) is None            # step 1 has no validation_data
    assert "step 2, output 'O', element 0: expected 2, got 9" in v.check_output(2, "O", f32(9, 9))
    v2 = build_validator(SPEC, data, 2, "binary")
    assert v2.check_output(0, "O", f32(9, 9, 9, 9)) is None     # step 1 in the batch: not checked
    assert "step 0, output 'O', element 0: expected 0, got 9" in v2.check_output(1, "O", f32(2, 2, 9, 9))


def test_no_validation_data_no_validator_and_json_outputs_refused() -> None:
    steps = ({"I": np.zeros(2, np.float32)},)
    assert build_validator(SPEC, DataSet((steps,)), 1, "json") is None
    with pytest.raises(OptionError, match="validation_data needs --output-tensor-format binary"):
        build_validator(SPEC, data_set(2), 1, "json")


def test_engine_checks_the_body_count() -> None:
    with pytest.raises(ValueError, match="1 bodies, the engine 2"):
        _core.HttpEngine("http://127.0.0.1:9/", [(b"a", []), (b"b", [])], validator=_core.Validator(1))
