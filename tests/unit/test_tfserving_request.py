"""--service-kind tfserving without a server: the flags it takes, the
PredictRequest bytes the engine sends (read back with the message classes and
checked field by field on the wire), and the model spec read from a
GetModelMetadata answer."""

from __future__ import annotations

import numpy as np
import pytest
from perfanalyzer.cli import parse_args
from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.services.tfserving import (
    PREDICT_METHOD,
    TFServingService,
    encode_predict,
    model_version,
    spec_from_signature,
)
from perfanalyzer.services.tfserving_proto import tf_framework_pb2 as framework
from perfanalyzer.services.tfserving_proto import tf_serving_pb2 as serving


def tfs(*extra: str) -> list[str]:
    return ["-m", "add", "--service-kind", "tfserving", *extra]


def test_settings_and_defaults() -> None:
    s = parse_args(tfs())
    assert (s.service_kind, s.server_url, s.model_signature_name) == ("tfserving", "localhost:8500", "serving_default")
    s = parse_args(tfs("-i", "grpc", "-u", "tfs:9000", "--model-signature-name", "predict", "-x", "2",
                       "--grpc-channels", "2"))
    assert (s.server_url, s.model_signature_name, s.model_version, s.grpc_channels) == ("tfs:9000", "predict", "2", 2)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (tfs("--shared-memory", "system"), "--shared-memory system does not apply to --service-kind tfserving"),
        (tfs("-H", "A: b"), "-H does not apply to --service-kind tfserving"),
        (tfs("--streaming", "-i", "grpc"), "--streaming does not apply to --service-kind tfserving"),
        (tfs("--request-parameter", "k:1:int"), "--request-parameter does not apply to --service-kind tfserving"),
        (tfs("--collect-metrics"), "Server-side metric collection is only supported with Triton client backend."),
        (tfs("-x", "latest"), "-x latest: TensorFlow Serving model versions are integers"),
        (["-m", "add", "--model-signature-name", "x"], "--model-signature-name applies only to --service-kind"),
    ],
)
def test_flags_that_do_not_apply(argv: list[str], needle: str) -> None:
    with pytest.raises(OptionError, match=needle.replace("-", r"\-")):
        parse_args(argv)


def test_tls_flags_apply_without_dash_i() -> None:
    s = parse_args(tfs("--ssl-grpc-use-ssl"))
    assert s.ssl_grpc_use_ssl and s.protocol == "http"  # TF Serving is gRPC whether -i grpc is given or not


SPEC = ModelSpec("add", "3", "tensorflow_savedmodel", 2,
                 (TensorSpec("a", "FP32", (4,)), TensorSpec("s", "BYTES", (2,)), TensorSpec("opt", "INT64", (1,))),
                 ())


def test_predict_request_fields() -> None:
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    s = np.array([[b"x", b"yz"], [b"", b"\x00\xff"]], dtype=object)
    raw = encode_predict(SPEC, {"a": a, "s": s}, "serving_default")
    req = serving.PredictRequest.FromString(raw)
    assert (req.model_spec.name, req.model_spec.version.value, req.model_spec.signature_name) == (
        "add", 3, "serving_default")
    assert set(req.inputs) == {"a", "s"}  # an input left out stays out
    ta, ts = req.inputs["a"], req.inputs["s"]
    assert ta.dtype == framework.DT_FLOAT and [d.size for d in ta.tensor_shape.dim] == [2, 4]
    assert np.frombuffer(ta.tensor_content, "<f4").tolist() == a.reshape(-1).tolist()
    assert not ta.float_val
    assert ts.dtype == framework.DT_STRING and list(ts.string_val) == [b"x", b"yz", b"", b"\x00\xff"]
    assert not ts.tensor_content


def test_predict_request_on_the_wire() -> None:
    """Field numbers of the public protocol: model_spec=1, inputs=2 (map entry
    key=1, value=2), TensorProto dtype=1, tensor_shape=2, tensor_content=4."""
    spec = ModelSpec("m", "", "", 1, (TensorSpec("x", "INT32", (1,)),), ())
    raw = encode_predict(spec, {"x": np.array([[7]], dtype=np.int32)}, "sig")
    model_spec = b"\x0a\x01m" + b"\x1a\x03sig"  # name=1, signature_name=3; no version (2) when -x is not given
    dim = b"\x12\x02\x08\x01"  # dim { size: 1 }
    tensor = b"\x08\x03" + b"\x12\x08" + dim + dim + b"\x22\x04\x07\x00\x00\x00"  # DT_INT32, [1, 1], 7 LE
    entry = b"\x0a\x01x" + b"\x12" + bytes([len(tensor)]) + tensor
    assert raw == b"\x0a" + bytes([len(model_spec)]) + model_spec + b"\x12" + bytes([len(entry)]) + entry


def test_model_version() -> None:
    assert model_version("") is None
    assert model_version("12") == 12
    with pytest.raises(OptionError, match="-x v1"):
        model_version("v1")


def _metadata(inputs: dict[str, tuple[int, list[int]]], name: str = "serving_default", unknown_rank: bool = False,
              ) -> bytes:
    sigmap = serving.SignatureDefMap()
    sig = sigmap.signature_def[name]
    for key, (dtype, dims) in inputs.items():
        info = sig.inputs[key]
        info.dtype = dtype
        info.tensor_shape.dim.extend(framework.TensorShapeProto.Dim(size=d) for d in dims)
        info.tensor_shape.unknown_rank = unknown_rank
    response = serving.GetModelMetadataResponse()
    response.metadata["signature_def"].Pack(sigmap)
    return response.SerializeToString()


def test_spec_from_signature() -> None:
    raw = _metadata({"b": (framework.DT_INT64, [-1, 3, -1]), "a": (framework.DT_STRING, [-1])})
    spec = spec_from_signature("m", "", "serving_default", raw, batch_size=4)
    assert spec.max_batch_size == 4  # the first dimension is the batch one, sized by -b
    assert spec.inputs == (TensorSpec("a", "BYTES", ()), TensorSpec("b", "INT64", (3, -1)))


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (_metadata({"a": (framework.DT_FLOAT, [-1])}, name="predict"),
         "--model-signature-name serving_default: model 'm' has no such signature (signatures: predict)"),
        (_metadata({"a": (framework.DT_RESOURCE, [-1])}), "input 'a' has a data type this tool cannot send "
         "(DT_RESOURCE)"),
        (_metadata({"a": (framework.DT_FLOAT, [])}, unknown_rank=True), "input 'a' has an unknown rank"),
        (_metadata({}), "the signature has no inputs"),
        (serving.GetModelMetadataResponse().SerializeToString(), "the server's metadata has no signature_def"),
    ],
)
def test_bad_signatures(raw: bytes, needle: str) -> None:
    with pytest.raises(ServerError) as info:
        spec_from_signature("m", "", "serving_default", raw, batch_size=1)
    assert needle in str(info.value)


def test_service_urls() -> None:
    service = TFServingService("127.0.0.1:8500")
    try:
        assert service.infer_url("m") == f"grpc://127.0.0.1:8500{PREDICT_METHOD}"
        assert service.server_stats("m") is None
    finally:
        service.close()
    with pytest.raises(ServerError, match="invalid gRPC server address"):
        TFServingService("http://host:8500")
