"""gRPC flags and the ModelInferRequest messages serialized once for the engine."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from perfanalyzer import cli
from perfanalyzer.inputs import tensor_bytes
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.services.triton_grpc import encode_request
from tritonclient.grpc import service_pb2

SPEC = ModelSpec(
    name="add_sub", version="", platform="python", max_batch_size=0,
    inputs=(TensorSpec("INPUT0", "FP32", (4,)), TensorSpec("INPUT1", "FP32", (4,)),
            TensorSpec("OPT", "INT32", (1,), optional=True)),
    outputs=(TensorSpec("OUTPUT0", "FP32", (4,)), TensorSpec("OUTPUT1", "FP32", (4,))),
)


def decode(raw: bytes) -> service_pb2.ModelInferRequest:
    req = service_pb2.ModelInferRequest()
    req.ParseFromString(raw)
    return req


def test_grpc_defaults_and_flags():
    s = cli.parse_args(["-m", "m", "-i", "grpc"])
    assert s.protocol == "grpc"
    assert s.server_url == "localhost:8001"  # perf_analyzer's gRPC default
    assert s.grpc_channels == 1 and s.grpc_compression_algorithm == "none"
    s = cli.parse_args(["-m", "m", "-i", "gRPC", "-u", "h:1", "--grpc-channels", "3",
                        "--grpc-compression-algorithm", "GZIP"])
    assert (s.protocol, s.server_url, s.grpc_channels, s.grpc_compression_algorithm) == ("grpc", "h:1", 3, "gzip")
    assert cli.parse_args(["-m", "m"]).server_url == "localhost:8000"


def test_request_carries_raw_contents_in_input_order():
    a = np.arange(4, dtype=np.float32)
    b = np.full(4, 2.5, dtype=np.float32)
    req = decode(encode_request(SPEC, {"INPUT1": b, "INPUT0": a}))
    assert req.model_name == "add_sub" and req.model_version == "" and req.id == ""
    assert [(i.name, i.datatype, list(i.shape)) for i in req.inputs] == [
        ("INPUT0", "FP32", [4]), ("INPUT1", "FP32", [4])]
    assert list(req.raw_input_contents) == [a.tobytes(), b.tobytes()]
    assert [o.name for o in req.outputs] == ["OUTPUT0", "OUTPUT1"]
    assert not any(i.HasField("contents") for i in req.inputs)  # raw contents only


def test_optional_input_present_is_sent():
    a = np.zeros(4, dtype=np.float32)
    opt = np.array([7], dtype=np.int32)
    req = decode(encode_request(SPEC, {"INPUT0": a, "INPUT1": a, "OPT": opt}))
    assert [i.name for i in req.inputs] == ["INPUT0", "INPUT1", "OPT"]
    assert req.raw_input_contents[2] == opt.tobytes()


def test_batched_shape_version_id_and_parameters():
    spec = ModelSpec("identity", "2", "python", 8, (TensorSpec("IN", "INT64", (3,)),),
                     (TensorSpec("OUT", "INT64", (3,)),))
    x = np.arange(6, dtype=np.int64).reshape(2, 3)
    req = decode(encode_request(spec, {"IN": x}, request_id="r1",
                                parameters={"flag": True, "n": 5, "s": "text"}))
    assert req.model_version == "2" and req.id == "r1"
    assert list(req.inputs[0].shape) == [2, 3]
    assert req.raw_input_contents[0] == x.tobytes()
    assert req.parameters["flag"].WhichOneof("parameter_choice") == "bool_param"
    assert req.parameters["flag"].bool_param is True
    assert req.parameters["n"].int64_param == 5
    assert req.parameters["s"].string_param == "text"


def test_bytes_tensor_uses_the_length_prefixed_layout():
    spec = ModelSpec("strings", "", "python", 0, (TensorSpec("S", "BYTES", (2,)),), ())
    x = np.array([b"ab", b"xyz"], dtype=np.object_)
    req = decode(encode_request(spec, {"S": x}))
    assert req.raw_input_contents[0] == tensor_bytes("BYTES", x)
    assert req.raw_input_contents[0] == b"\x02\x00\x00\x00ab\x03\x00\x00\x00xyz"


def test_engine_rejects_bad_arguments():
    from perfanalyzer import _core

    with pytest.raises(ValueError, match="compression"):
        _core.GrpcEngine("localhost:1", [b"x"], compression="lz4")
    with pytest.raises(ValueError, match="message"):
        _core.GrpcEngine("localhost:1", [])


def test_status_names():
    from perfanalyzer import _core

    assert _core.grpc_status_name(0) == "OK"
    assert _core.grpc_status_name(14) == "UNAVAILABLE"
    assert _core.grpc_status_name(99) == "UNKNOWN_CODE"


def test_unreachable_server_counts_unavailable_errors(until: Callable[..., bool]) -> None:
    """No server on the port: each call fails as UNAVAILABLE, counted as a
    transport error with gRPC's message, and the loop backs off between tries."""
    import socket

    from perfanalyzer import _core

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = _core.GrpcEngine(f"127.0.0.1:{port}", [b""], channels=2)
    try:
        engine.start()
        engine.set_concurrency(2)
        until(lambda: engine.failed >= 4, 10)
        engine.stop(drain_ms=1000)
        _, window = engine.swap()
        assert engine.completed == 0
        assert engine.failed >= 4
        assert window.errors["transport"] == window.error_count > 0
        messages = engine.error_messages()
        assert messages and all(m.startswith("gRPC UNAVAILABLE") for m in messages), messages
    finally:
        engine.close()
