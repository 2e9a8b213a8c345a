"""The protobuf reader and the gRPC validation fed responses whose lengths
and varints lie: 2^63, 2^64-1, over-long varints and length prefixes past
the end, spliced anywhere into well-formed KServe and TF Serving answers.
Each is read within its bytes: a mismatch or a malformed message, never a
read outside the response."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from perfanalyzer import _core
from perfanalyzer.services.tfserving_proto import tf_framework_pb2 as framework
from perfanalyzer.services.tfserving_proto import tf_serving_pb2 as serving
from tritonclient.grpc import service_pb2 as kserve

OUT = np.array([1, 2, 3, 4], "<f4").tobytes()
LIES = [
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # 2^63
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # 2^64 - 1
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # eleven bytes: no varint
    b"\xff\xff\xff\xff\x0f",  # 2^32 - 1
    b"\x32\xff\xff\xff\xff\x07",  # raw_output_contents of 2^31 - 1 bytes
    b"\x2a\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # an output of 2^63 bytes
    b"\x0a\x7f", b"\x00", b"\x0b", b"\x0f",
]


def kserve_answer() -> bytes:
    r = kserve.ModelInferResponse(model_name="m", model_version="1")
    r.outputs.add(name="OUT", datatype="FP32", shape=[4])
    r.raw_output_contents.append(OUT)
    return r.SerializeToString()


def tf_answer() -> bytes:
    t = framework.TensorProto(dtype=1, tensor_content=OUT)
    t.tensor_shape.dim.add(size=4)
    r = serving.PredictResponse()
    r.outputs["OUT"].CopyFrom(t)
    return r.SerializeToString()


def validator() -> _core.Validator:
    v = _core.Validator(1)
    v.set_steps(0, (0,), 0)
    v.add_output(0, "OUT", "FP32", OUT)
    return v


def test_the_answers_spliced_into_are_valid() -> None:
    assert _core.check_grpc_response(validator(), 0, kserve_answer()) is None
    assert _core.check_grpc_response(validator(), 0, tf_answer(), "tf_predict") is None


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(["kserve", "tf_predict"]), st.lists(st.tuples(st.integers(0, 200), st.sampled_from(LIES),
                                                                     st.booleans()), min_size=1, max_size=4))
def test_lying_lengths_spliced_anywhere(fmt: str, splices: list[tuple[int, bytes, bool]]) -> None:
    msg = bytearray(kserve_answer() if fmt == "kserve" else tf_answer())
    for at, lie, overwrite in splices:
        at = min(at, len(msg))
        msg[at:at + (len(lie) if overwrite else 0)] = lie
    data = bytes(msg)
    got = _core.check_grpc_response(validator(), 0, data, fmt)
    assert got is None or isinstance(got, str)
    try:
        fields = _core.pb_fields(data)
    except ValueError:
        return
    # a message the reader accepts is one whose fields lie inside it
    assert sum(len(v) for _, wire, v in fields if wire == 2) <= len(data)
