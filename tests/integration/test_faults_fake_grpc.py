"""The CLI (-i grpc) against a gRPC server that lies or breaks
(fake_grpc_server.py): control-plane answers with missing fields, garbage
bytes, error statuses or none at all, and ModelInfer likewise. Each case: the
exit code, one stderr line, no traceback."""

from __future__ import annotations

import json

import grpc
import pytest
from tritonclient.grpc import service_pb2 as pb

from .fake_grpc_server import MODEL, NEVER, Fail, FakeGrpcServer, config, metadata
from .faults import COUNTED, FAST, one_line, run

TENSOR = pb.ModelMetadataResponse.TensorMetadata
ESC = "no model \x1b[2J\x1b]0;pwned\x07 here"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def infer_with_raw_output(declared: int, sent: bytes = b"\0" * 64) -> bytes:
    """A ModelInferResponse whose raw_output_contents (field 6) declares `declared` bytes."""
    output = pb.ModelInferResponse.InferOutputTensor(name="OUTPUT0", datatype="INT32", shape=[16])
    head = pb.ModelInferResponse(model_name=MODEL, model_version="1", outputs=[output]).SerializeToString()
    return head + b"\x32" + varint(declared) + sent


CONTROL_PLANE = {
    "no-input-name": ({"ModelMetadata": metadata(inputs=[TENSOR(datatype="INT32", shape=[16])])},
                      "inputs[0].name is missing"),
    "no-datatype": ({"ModelMetadata": metadata(inputs=[TENSOR(name="INPUT0", shape=[16])])},
                    "inputs[0].datatype is missing"),
    "unknown-datatype": ({"ModelMetadata": metadata(inputs=[TENSOR(name="INPUT0", datatype="FLOAT", shape=[16])])},
                         "inputs[0].datatype is 'FLOAT', not a KServe datatype"),
    "negative-max-batch-size": ({"ModelConfig": config(max_batch_size=-3)}, "max_batch_size is -3"),
    "terabyte-input": ({"ModelMetadata": metadata(inputs=[TENSOR(name="INPUT0", datatype="INT32",
                                                                 shape=[10**12])])},
                       "input 'INPUT0' [1000000000000]: 1000000000000 x INT32 elements need 3.6 TiB"),
    "metadata-garbage": ({"ModelMetadata": b"\xff\xff\xff\xff"}, "is not available on the server"),
    "metadata-not-found": ({"ModelMetadata": Fail(grpc.StatusCode.NOT_FOUND, ESC)},
                           "no model \\x1b[2J\\x1b]0;pwned\\x07 here"),
    "not-live": ({"ServerLive": pb.ServerLiveResponse(live=False)}, "is not live"),
    "live-unavailable": ({"ServerLive": Fail(grpc.StatusCode.UNAVAILABLE, "going down")}, "going down"),
    "model-not-ready": ({"ModelReady": pb.ModelReadyResponse(ready=False)}, "is not ready"),
    "config-internal": ({"ModelConfig": Fail(grpc.StatusCode.INTERNAL, "config lost")}, "config lost"),
    "no-statistics-for-the-model": ({"ModelStatistics": pb.ModelStatisticsResponse()},
                                    "no statistics for model 'm'"),
    "statistics-garbage": ({"ModelStatistics": b"\x0a\xff\xff\xff\xff\x0f"}, "reading statistics failed"),
}


@pytest.mark.parametrize("case", CONTROL_PLANE)
def test_control_plane_faults(case, tmp_path):
    answers, needle = CONTROL_PLANE[case]
    csv = tmp_path / "out.csv"
    with FakeGrpcServer(answers) as server:
        r = run("-m", MODEL, "-i", "grpc", "-u", server.url, *FAST, "-f", str(csv))
    one_line(r, 99, needle)
    assert not csv.exists()


def test_control_plane_that_never_answers_ends_on_its_timeout():
    with FakeGrpcServer({"ModelMetadata": NEVER}) as server:
        r = run("-m", MODEL, "-i", "grpc", "-u", server.url, *FAST, timeout=120)
    one_line(r, 99, "is not available on the server", "DEADLINE_EXCEEDED")


def test_healthy_fake_server_is_measured(tmp_path):
    csv = tmp_path / "out.csv"
    with FakeGrpcServer() as server:
        r = run("-m", MODEL, "-i", "grpc", "-u", server.url, *COUNTED, "-f", str(csv))
    assert r.code == 0, r.stderr
    assert csv.read_text().startswith("Concurrency,Inferences/Second,")


DATA_PLANE = {
    "internal-error-with-escapes": (Fail(grpc.StatusCode.INTERNAL, ESC), "\\x1b[2J\\x1b]0;pwned\\x07"),
    "unavailable": (Fail(grpc.StatusCode.UNAVAILABLE, "overloaded"), "UNAVAILABLE"),
    "never-answers": (NEVER, "requests failed"),
}


@pytest.mark.parametrize("case", DATA_PLANE)
def test_data_plane_faults(case, tmp_path):
    answer, needle = DATA_PLANE[case]
    csv = tmp_path / "out.csv"
    with FakeGrpcServer({"ModelInfer": answer}) as server:
        r = run("-m", MODEL, "-i", "grpc", "-u", server.url, *FAST, "--request-timeout", "300", "-f", str(csv))
    one_line(r, 99, needle)
    assert not csv.exists()


def test_request_count_against_a_server_that_never_answers_ends():
    # The deadline of --request-timeout ends each call, and a failed call counts toward the window.
    with FakeGrpcServer({"ModelInfer": NEVER}) as server:
        r = run("-m", MODEL, "-i", "grpc", "-u", server.url, "--request-count", "5", "--request-timeout", "300",
                timeout=30)
    one_line(r, 99, "requests failed")


@pytest.mark.parametrize("declared", [2**63 - 1, 2**62, 2**32 + 64, 65])
def test_validation_against_lying_raw_output_sizes(declared, tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"INPUT0": list(range(16))}],
                                "validation_data": [{"OUTPUT0": list(range(16))}]}))
    with FakeGrpcServer({"ModelInfer": infer_with_raw_output(declared)}) as server:
        r = run("-m", MODEL, "-i", "grpc", "-u", server.url, *FAST, "--input-data", str(data))
    one_line(r, 99)


def test_validation_against_a_garbage_response(tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"INPUT0": list(range(16))}],
                                "validation_data": [{"OUTPUT0": list(range(16))}]}))
    with FakeGrpcServer({"ModelInfer": b"\xff" * 40}) as server:
        r = run("-m", MODEL, "-i", "grpc", "-u", server.url, *FAST, "--input-data", str(data))
    one_line(r, 99)
