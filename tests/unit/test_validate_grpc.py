"""validation_data checked against protobuf responses, as the compiled gRPC
engines do: KServe v2 ModelInferResponse (raw_output_contents aligned with
outputs) and TF Serving's PredictResponse (tensor_content or the typed
*_val fields). Responses are built with the protobuf library from the
public message definitions, so field numbers are checked on the wire."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from perfanalyzer import _core
from perfanalyzer.inputs import strings_tensor, tensor_bytes
from perfanalyzer.services.tfserving_proto import tf_framework_pb2 as framework
from perfanalyzer.services.tfserving_proto import tf_serving_pb2 as serving
from tritonclient.grpc import service_pb2 as kserve

MISMATCH = "Output doesn't match expected output"
MALFORMED_KSERVE = "malformed ModelInferResponse from the server: its outputs cannot be validated"
MALFORMED_TF = "malformed PredictResponse from the server: its outputs cannot be validated"


def strs(*items: str) -> np.ndarray:
    return strings_tensor([x.encode() for x in items], (len(items),))


def f32(*values: float) -> bytes:
    return np.array(values, "<f4").tobytes()


def validator_for(expected: dict[str, tuple[str, bytes]], steps: tuple[int, ...] = (0,)) -> _core.Validator:
    v = _core.Validator(1)
    v.set_steps(0, steps, 0)
    for name, (dt, raw) in expected.items():
        v.add_output(0, name, dt, raw, len(steps))
    return v


def infer_response(outputs: list[tuple[str, str, bytes | None]]) -> bytes:
    """(name, datatype, raw contents or None to leave them out) per output."""
    r = kserve.ModelInferResponse(model_name="m", model_version="1")
    for name, dt, _ in outputs:
        r.outputs.add(name=name, datatype=dt, shape=[1])
    r.raw_output_contents.extend(raw for _, _, raw in outputs if raw is not None)
    return r.SerializeToString()


# ---- KServe v2 -------------------------------------------------------------

def test_kserve_match_and_mismatch() -> None:
    v = validator_for({"OUT": ("FP32", f32(1, 2, 3))}, steps=(4,))
    good = infer_response([("OTHER", "INT32", b"\0" * 8), ("OUT", "FP32", f32(1, 2, 3))])
    assert _core.check_grpc_response(v, 0, good) is None
    bad = infer_response([("OTHER", "INT32", b"\0" * 8), ("OUT", "FP32", f32(1, 2.5, 3))])
    assert _core.check_grpc_response(v, 0, bad) == f"{MISMATCH}: step 4, output 'OUT', element 1: expected 2, got 2.5"


def test_kserve_outputs_pair_with_raw_contents_by_position() -> None:
    v = validator_for({"A": ("INT32", np.array([7], "<i4").tobytes()), "B": ("INT32", np.array([9], "<i4").tobytes())})
    swapped = infer_response([("A", "INT32", np.array([9], "<i4").tobytes()),
                              ("B", "INT32", np.array([7], "<i4").tobytes())])
    assert _core.check_grpc_response(v, 0, swapped) == f"{MISMATCH}: step 0, output 'A', element 0: expected 7, got 9"


def test_kserve_missing_output_wrong_datatype_and_no_raw_contents() -> None:
    v = validator_for({"OUT": ("FP32", f32(1))})
    assert _core.check_grpc_response(v, 0, infer_response([("X", "FP32", f32(1))])) == \
        f"{MISMATCH}: step 0, output 'OUT' is missing from the response"
    assert _core.check_grpc_response(v, 0, infer_response([("OUT", "FP64", b"\0" * 8)])) == \
        f"{MISMATCH}: step 0, output 'OUT': expected datatype FP32, got FP64"
    assert _core.check_grpc_response(v, 0, infer_response([("OUT", "FP32", None)])) == \
        f"{MISMATCH}: step 0, output 'OUT' has no raw contents in the response"
    assert _core.check_grpc_response(v, 0, b"") == f"{MISMATCH}: step 0, output 'OUT' is missing from the response"


def test_kserve_batched_strings() -> None:
    rows = strs("ab", "", "xyz", "q").reshape(2, 2)
    v = validator_for({"S": ("BYTES", tensor_bytes("BYTES", rows))}, steps=(3, 8))
    assert _core.check_grpc_response(v, 0, infer_response([("S", "BYTES", tensor_bytes("BYTES", rows))])) is None
    other = strs("ab", "", "xyz", "Q")
    assert _core.check_grpc_response(v, 0, infer_response([("S", "BYTES", tensor_bytes("BYTES", other))])) == \
        f'{MISMATCH}: step 8, output \'S\', element 1: expected "q", got "Q"'


def test_kserve_body_without_expected_outputs_is_not_read() -> None:
    v = _core.Validator(2)
    v.add_output(1, "OUT", "FP32", f32(1))
    assert _core.check_grpc_response(v, 0, b"\xff\xff garbage") is None
    assert _core.check_grpc_response(v, 1, b"\xff\xff garbage") == MALFORMED_KSERVE


@pytest.mark.parametrize("tail", [
    b"\x28\x01",              # outputs (5) as a varint
    b"\x32\x05abc",           # raw contents (6) longer than the message
    b"\x2a\x02\x08\x01",      # an output whose name (1) is a varint
    b"\x2a\x03\x0a\x05a",     # an output whose name runs past the output
])
def test_kserve_malformed_responses(tail: bytes) -> None:
    v = validator_for({"OUT": ("FP32", f32(1))})
    assert _core.check_grpc_response(v, 0, infer_response([("OUT", "FP32", f32(1))]) + tail) == MALFORMED_KSERVE


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_kserve_truncated_or_corrupted_responses_never_crash(data: st.DataObject) -> None:
    v = validator_for({"OUT": ("FP32", f32(1, 2)), "S": ("BYTES", tensor_bytes("BYTES", strs("a")))})
    msg = bytearray(infer_response([("OUT", "FP32", f32(1, 2)), ("S", "BYTES", tensor_bytes(
        "BYTES", strs("a")))]))
    cut = data.draw(st.integers(0, len(msg)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(msg) - 1), st.integers(0, 255)), max_size=3))
    for at, value in flips:
        msg[at] = value
    out = _core.check_grpc_response(v, 0, bytes(msg[:cut]))
    if cut == len(msg) and not flips:
        assert out is None
    else:
        assert out is None or out.startswith((MISMATCH, "malformed"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["kserve", "tf_predict"]))
def test_random_bytes_never_crash(data: bytes, fmt: str) -> None:
    v = validator_for({"OUT": ("FP32", f32(1, 2)), "S": ("BYTES", tensor_bytes("BYTES", strs("a")))})
    out = _core.check_grpc_response(v, 0, data, fmt)
    assert out is not None and out.startswith((MISMATCH, "malformed"))  # an expected output is always missing


# ---- TF Serving --------------------------------------------------------------

def predict_response(**tensors: framework.TensorProto) -> bytes:
    r = serving.PredictResponse()
    r.model_spec.name = "m"
    for name, t in tensors.items():
        r.outputs[name].CopyFrom(t)
    return r.SerializeToString()


def tensor(dtype: int, dims: list[int], **fields: object) -> framework.TensorProto:
    t = framework.TensorProto(dtype=dtype, **fields)
    t.tensor_shape.dim.extend(framework.TensorShapeProto.Dim(size=d) for d in dims)
    return t


def test_tf_tensor_content_match_and_mismatch() -> None:
    v = validator_for({"sum": ("FP32", f32(1, 2, 3, 4))}, steps=(2,))
    ok = predict_response(sum=tensor(framework.DT_FLOAT, [1, 4], tensor_content=f32(1, 2, 3, 4)))
    assert _core.check_grpc_response(v, 0, ok, "tf_predict") is None
    bad = predict_response(sum=tensor(framework.DT_FLOAT, [1, 4], tensor_content=f32(1, 2, 3, 5)))
    assert _core.check_grpc_response(v, 0, bad, "tf_predict") == \
        f"{MISMATCH}: step 2, output 'sum', element 3: expected 4, got 5"


@pytest.mark.parametrize(("datatype", "values", "dtype", "field"), [
    ("FP32", [1.5, -2.0, 3.25], framework.DT_FLOAT, "float_val"),
    ("FP64", [1.5, -2e300, 3.25], framework.DT_DOUBLE, "double_val"),
    ("INT32", [-1, 2**31 - 1, -(2**31)], framework.DT_INT32, "int_val"),
    ("INT16", [-1, 300, -300], framework.DT_INT16, "int_val"),
    ("INT8", [-1, 127, -128], framework.DT_INT8, "int_val"),
    ("UINT8", [0, 255, 7], framework.DT_UINT8, "int_val"),
    ("UINT16", [0, 65535, 7], framework.DT_UINT16, "int_val"),
    ("INT64", [-1, 2**62, -(2**63)], framework.DT_INT64, "int64_val"),
    ("UINT32", [0, 2**32 - 1, 5], framework.DT_UINT32, "uint32_val"),
    ("UINT64", [0, 2**64 - 1, 5], framework.DT_UINT64, "uint64_val"),
    ("BOOL", [True, False, True], framework.DT_BOOL, "bool_val"),
])
def test_tf_typed_values(datatype: str, values: list, dtype: int, field: str) -> None:
    array = np.array(values, dtype={"FP32": "<f4", "FP64": "<f8", "INT32": "<i4", "INT16": "<i2", "INT8": "i1",
                                    "UINT8": "u1", "UINT16": "<u2", "INT64": "<i8", "UINT32": "<u4",
                                    "UINT64": "<u8", "BOOL": "?"}[datatype])
    v = validator_for({"out": (datatype, tensor_bytes(datatype, array))})
    ok = predict_response(out=tensor(dtype, [3], **{field: values}))
    assert _core.check_grpc_response(v, 0, ok, "tf_predict") is None
    changed = list(values)
    changed[1] = values[0]
    got = _core.check_grpc_response(v, 0, predict_response(out=tensor(dtype, [3], **{field: changed})), "tf_predict")
    assert got is not None and got.startswith(f"{MISMATCH}: step 0, output 'out', element 1: expected ")


def test_tf_half_values_are_their_16_bits() -> None:
    halves = np.array([1.0, -0.5, 65504.0], "<f2")
    v = validator_for({"h": ("FP16", halves.tobytes())})
    bits = [int(b) for b in halves.view("<u2")]
    assert _core.check_grpc_response(v, 0, predict_response(h=tensor(framework.DT_HALF, [3], half_val=bits)),
                                     "tf_predict") is None


def test_tf_strings_and_unpacked_values() -> None:
    v = validator_for({"s": ("BYTES", tensor_bytes("BYTES", strs("ab", "", "c"))),
                       "f": ("FP32", f32(1, 2))})
    s = tensor(framework.DT_STRING, [3], string_val=[b"ab", b"", b"c"])
    # float_val written unpacked (one fixed32 field per value), as a proto2 writer may
    f = tensor(framework.DT_FLOAT, [2]).SerializeToString() + b"\x2d" + f32(1) + b"\x2d" + f32(2)
    assert _core.check_grpc_response(v, 0, predict_response(s=s, f=framework.TensorProto.FromString(f)),
                                     "tf_predict") is None
    r = serving.PredictResponse()
    r.outputs["s"].CopyFrom(s)
    raw = r.SerializeToString() + b"\x0a" + bytes([len(f) + 5]) + b"\x0a\x01f\x12" + bytes([len(f)]) + f
    assert _core.check_grpc_response(v, 0, raw, "tf_predict") is None
    s2 = tensor(framework.DT_STRING, [3], string_val=[b"ab", b"x", b"c"])
    got = _core.check_grpc_response(v, 0, predict_response(s=s2, f=framework.TensorProto.FromString(f)), "tf_predict")
    assert got == f'{MISMATCH}: step 0, output \'s\', element 1: expected "", got "x"'


def test_tf_single_value_fills_the_shape() -> None:
    v = validator_for({"z": ("FP32", f32(0.5, 0.5, 0.5, 0.5))})
    assert _core.check_grpc_response(v, 0, predict_response(z=tensor(framework.DT_FLOAT, [2, 2], float_val=[0.5])),
                                     "tf_predict") is None
    got = _core.check_grpc_response(v, 0, predict_response(z=tensor(framework.DT_FLOAT, [-1, 2], float_val=[0.5])),
                                    "tf_predict")
    assert got == f"{MISMATCH}: step 0, output 'z': expected 4 elements, got 1"


def test_tf_wrong_dtype_missing_output_and_malformed() -> None:
    v = validator_for({"sum": ("FP32", f32(1))})
    wrong = predict_response(sum=tensor(framework.DT_INT32, [1], int_val=[1]))
    assert _core.check_grpc_response(v, 0, wrong, "tf_predict") == \
        f"{MISMATCH}: step 0, output 'sum': expected datatype FP32, got INT32"
    odd = predict_response(sum=tensor(framework.DT_COMPLEX64, [1]))
    assert _core.check_grpc_response(v, 0, odd, "tf_predict") == \
        f"{MISMATCH}: step 0, output 'sum': expected datatype FP32, got TF dtype 8"
    other = predict_response(prod=tensor(framework.DT_FLOAT, [1], float_val=[1]))
    assert _core.check_grpc_response(v, 0, other, "tf_predict") == \
        f"{MISMATCH}: step 0, output 'sum' is missing from the response"
    ok = predict_response(sum=tensor(framework.DT_FLOAT, [1], float_val=[1]))
    for bad in (ok[:-1], ok + b"\x08", ok + b"\x0b"):
        assert _core.check_grpc_response(v, 0, bad, "tf_predict") == MALFORMED_TF
    bad_packed = tensor(framework.DT_FLOAT, [1]).SerializeToString() + b"\x2a\x03\0\0\x80"  # 3 bytes of fixed32
    assert _core.check_grpc_response(v, 0, b"\x0a" + bytes([len(bad_packed) + 7]) + b"\x0a\x03sum\x12"
                                     + bytes([len(bad_packed)]) + bad_packed, "tf_predict") == MALFORMED_TF


def test_unknown_response_format_refused() -> None:
    with pytest.raises(ValueError, match="unknown response format"):
        _core.check_grpc_response(_core.Validator(1), 0, b"", "json")


def test_single_value_fills_at_most_a_bounded_shape() -> None:
    n = (1 << 20) + 1  # the shape is the server's: past 2**20 elements a single value is not repeated
    v = validator_for({"z": ("FP32", np.zeros(n, "<f4").tobytes())})
    got = _core.check_grpc_response(v, 0, predict_response(z=tensor(framework.DT_FLOAT, [n], float_val=[0.0])),
                                    "tf_predict")
    assert got == f"{MISMATCH}: step 0, output 'z': expected {n} elements, got 1"


def test_grpc_engine_checks_its_validator() -> None:
    with pytest.raises(ValueError, match="the validator has 2 bodies, the engine 1"):
        _core.GrpcEngine("127.0.0.1:1", [b""], validator=_core.Validator(2))
    with pytest.raises(ValueError, match="unknown response format 'json'"):
        _core.GrpcEngine("127.0.0.1:1", [b""], response_format="json")
    with pytest.raises(RuntimeError, match="gRPC streams carry KServe responses only"):
        _core.GrpcEngine("127.0.0.1:1", [b""], streaming=True, validator=_core.Validator(1),
                         response_format="tf_predict")
