"""--service-kind tfserving against a real gRPC server on loopback speaking
TensorFlow Serving's PredictionService (TF Serving itself cannot be installed
on a test machine): GetModelMetadata answers a signature_def for an "add"
model, Predict adds its two inputs, unknown models are answered NOT_FOUND as
TF Serving does. The server records every request it receives."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pytest
from perfanalyzer.services.tfserving_proto import tf_framework_pb2 as framework
from perfanalyzer.services.tfserving_proto import tf_serving_pb2 as serving

from .helpers import cli, cli_on_cpus

MODEL = "add"
VERSION = 3
MAX_REQUESTS = 100_000  # the peer refuses past this: a runaway client cannot keep a test alive


@dataclass
class Received:
    lock: threading.Lock = field(default_factory=threading.Lock)
    predict: list[serving.PredictRequest] = field(default_factory=list)
    metadata: list[serving.GetModelMetadataRequest] = field(default_factory=list)
    peers: set[str] = field(default_factory=set)  # the connections Predict came on


def _tensor_info(dtype: int, dims: list[int]) -> framework.TensorInfo:
    info = framework.TensorInfo(dtype=dtype)
    info.tensor_shape.dim.extend(framework.TensorShapeProto.Dim(size=d) for d in dims)
    return info


def _signatures() -> serving.SignatureDefMap:
    sigmap = serving.SignatureDefMap()
    for name in ("serving_default", "other"):
        sig = sigmap.signature_def[name]
        sig.method_name = "tensorflow/serving/predict"
        sig.inputs["a"].CopyFrom(_tensor_info(framework.DT_FLOAT, [-1, 4]))
        sig.inputs["b"].CopyFrom(_tensor_info(framework.DT_INT32, [-1, 4]))
        sig.outputs["sum"].CopyFrom(_tensor_info(framework.DT_FLOAT, [-1, 4]))
    return sigmap


class AddModel:
    def __init__(self, received: Received) -> None:
        self.received = received

    def _known(self, spec: serving.ModelSpec, context: grpc.ServicerContext) -> None:
        if spec.name != MODEL:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
        if spec.HasField("version") and spec.version.value != VERSION:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Servable not found for request: Specific({spec.name}, {spec.version.value})")

    def metadata(self, request: serving.GetModelMetadataRequest,
                 context: grpc.ServicerContext) -> serving.GetModelMetadataResponse:
        with self.received.lock:
            self.received.metadata.append(request)
        self._known(request.model_spec, context)
        response = serving.GetModelMetadataResponse()
        response.model_spec.name = MODEL
        response.model_spec.version.value = VERSION
        response.metadata["signature_def"].Pack(_signatures())
        return response

    def predict(self, request: serving.PredictRequest, context: grpc.ServicerContext) -> serving.PredictResponse:
        with self.received.lock:
            if len(self.received.predict) >= MAX_REQUESTS:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "test peer: too many requests")
            self.received.predict.append(request)
            self.received.peers.add(context.peer())
        self._known(request.model_spec, context)
        a, b = (_array(request.inputs[name]) for name in ("a", "b"))
        response = serving.PredictResponse()
        out = response.outputs["sum"]
        out.dtype = framework.DT_FLOAT
        out.tensor_shape.CopyFrom(request.inputs["a"].tensor_shape)
        out.tensor_content = (a + b).astype("<f4").tobytes()
        return response


def _array(t: framework.TensorProto) -> np.ndarray:
    dtype = {framework.DT_FLOAT: "<f4", framework.DT_INT32: "<i4"}[t.dtype]
    return np.frombuffer(t.tensor_content, dtype=dtype).reshape([d.size for d in t.tensor_shape.dim])


def serve(model: AddModel, credentials: grpc.ServerCredentials | None = None) -> tuple[grpc.Server, int]:
    """A real gRPC server on 127.0.0.1 answering PredictionService's Predict and
    GetModelMetadata with `model` (plain, or TLS with `credentials`); (server, port)."""
    handler = grpc.method_handlers_generic_handler("tensorflow.serving.PredictionService", {
        "Predict": grpc.unary_unary_rpc_method_handler(
            model.predict, request_deserializer=serving.PredictRequest.FromString,
            response_serializer=serving.PredictResponse.SerializeToString),
        "GetModelMetadata": grpc.unary_unary_rpc_method_handler(
            model.metadata, request_deserializer=serving.GetModelMetadataRequest.FromString,
            response_serializer=serving.GetModelMetadataResponse.SerializeToString),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
    address = "127.0.0.1:0"
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    server.start()
    return server, port


@pytest.fixture
def tfserving() -> Iterator[tuple[str, Received]]:
    received = Received()
    server, port = serve(AddModel(received))
    try:
        yield f"127.0.0.1:{port}", received
    finally:
        server.stop(grace=None).wait(10)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    doc = {"data": [{"a": [0.5, 1.5, 2.5, 3.5], "b": [1, 2, 3, 4]},
                    {"a": [-1.0, 0.0, 1.0, 2.0], "b": [10, 20, 30, 40]}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc))
    return path


def _client_count(stdout: str) -> list[int]:
    return [int(part.split("\n")[0]) for part in stdout.split("    Request count: ")[1:]]


def test_predict_requests_carry_the_tensors(tfserving: tuple[str, Received], data_file: Path) -> None:
    url, received = tfserving
    run = cli("-m", MODEL, "-x", str(VERSION), "--service-kind", "tfserving", "-i", "grpc", "-u", url,
              "--input-data", str(data_file), "--concurrency-range", "1:2", "--request-count", "40")
    assert run.code == 0, run.stderr
    assert "Service Kind: TensorFlow Serving" in run.stdout
    assert "Server:" not in run.stdout  # client-side statistics only
    assert _client_count(run.stdout) == [40, 40]
    assert len(received.predict) == 80
    assert len(received.metadata) == 1 and list(received.metadata[0].metadata_field) == ["signature_def"]
    specs = {(r.model_spec.name, r.model_spec.version.value, r.model_spec.signature_name) for r in received.predict}
    assert specs == {(MODEL, VERSION, "serving_default")}
    first, second = received.predict[0], received.predict[1]  # concurrency 1 sends the steps in turn
    assert set(first.inputs) == {"a", "b"}
    assert first.inputs["a"].dtype == framework.DT_FLOAT and first.inputs["b"].dtype == framework.DT_INT32
    assert [d.size for d in first.inputs["a"].tensor_shape.dim] == [1, 4]  # -b 1: the batch dimension is 1
    assert _array(first.inputs["a"]).tolist() == [[0.5, 1.5, 2.5, 3.5]]
    assert _array(first.inputs["b"]).tolist() == [[1, 2, 3, 4]]
    assert _array(second.inputs["b"]).tolist() == [[10, 20, 30, 40]]
    assert sum(_array(r.inputs["b"])[0, 0] == 1 for r in received.predict) == 40


def test_threads_each_send_on_a_connection_of_their_own(tfserving: tuple[str, Received], data_file: Path) -> None:
    url, received = tfserving
    run = cli_on_cpus(8, "-m", MODEL, "--service-kind", "tfserving", "-u", url, "--input-data", str(data_file),
                      "--max-threads", "3", "--concurrency-range", "6", "--request-count", "90")
    assert run.code == 0, run.stderr
    assert _client_count(run.stdout) == [90]
    assert len(received.predict) == 90  # the budget is exact across the threads
    assert len(received.peers) == 3, received.peers  # one channel per thread


def test_signature_batch_and_time_windows(tfserving: tuple[str, Received], data_file: Path) -> None:
    url, received = tfserving
    export = data_file.parent / "export.json"
    run = cli("-m", MODEL, "--service-kind", "tfserving", "-u", url, "--model-signature-name", "other",
              "-b", "2", "--shape", "a:4", "-p", "300", "-s", "50", "-r", "20", "--profile-export-file", str(export))
    assert run.code == 0, run.stderr
    doc = json.loads(export.read_text())
    assert doc["service_kind"] == "tfserving"
    assert doc["endpoint"] == "tensorflow.serving.PredictionService/Predict"
    sent = sum(len(e["requests"]) for e in doc["experiments"])
    assert 0 < _client_count(run.stdout)[0] <= sent <= len(received.predict)
    assert {(r.model_spec.name, r.model_spec.HasField("version"), r.model_spec.signature_name)
            for r in received.predict} == {(MODEL, False, "other")}
    assert {tuple(d.size for d in r.inputs["a"].tensor_shape.dim) for r in received.predict} == {(2, 4)}


def test_unknown_model_fails_with_the_answer(tfserving: tuple[str, Received], data_file: Path) -> None:
    url, received = tfserving
    run = cli("-m", "resnet", "--service-kind", "tfserving", "-i", "grpc", "-u", url, "-p", "300")
    assert run.code == 99
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "model 'resnet'" in lines[0] and "NOT_FOUND" in lines[0] and "Servable not found" in lines[0]
    assert received.metadata[0].model_spec.name == "resnet" and not received.predict


def test_unknown_signature(tfserving: tuple[str, Received]) -> None:
    url, _ = tfserving
    run = cli("-m", MODEL, "--service-kind", "tfserving", "-u", url, "--model-signature-name", "nope", "-p", "300")
    assert run.code == 99
    assert "--model-signature-name nope" in run.stderr and "other, serving_default" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_no_server_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    run = cli("-m", MODEL, "--service-kind", "tfserving", "-u", f"127.0.0.1:{port}", "-p", "300")
    assert run.code == 99
    assert "cannot reach the server" in run.stderr and str(port) in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
