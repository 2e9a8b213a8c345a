"""validation_data with --service-kind tfserving, against a real gRPC
PredictionService on loopback (the "add" peer of test_tfserving): the
compiled engine checks every PredictResponse, whether the peer answers with
tensor_content (as TF Serving does for numbers) or with float_val."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from perfanalyzer.services.tfserving_proto import tf_framework_pb2 as framework
from perfanalyzer.services.tfserving_proto import tf_serving_pb2 as serving

from .helpers import CliRun, cli
from .test_tfserving import MODEL, AddModel, Received, _array, serve

MISMATCH = "Output doesn't match expected output"
A = ([0.5, 1.5, 2.5, 3.5], [-1.0, 0.0, 1.0, 2.0])
B = ([1, 2, 3, 4], [10, 20, 30, 40])


class TypedAddModel(AddModel):
    """Answers the sum in float_val, one of TensorProto's typed fields."""

    def predict(self, request: serving.PredictRequest, context: grpc.ServicerContext) -> serving.PredictResponse:
        response = super().predict(request, context)
        out = response.outputs["sum"]
        values = _array(framework.TensorProto(dtype=framework.DT_FLOAT, tensor_shape=out.tensor_shape,
                                              tensor_content=out.tensor_content))
        out.ClearField("tensor_content")
        out.float_val.extend(float(x) for x in values.reshape(-1))
        return response


@pytest.fixture(params=["tensor_content", "float_val"])
def peer(request: pytest.FixtureRequest) -> Iterator[tuple[str, Received]]:
    received = Received()
    server, port = serve((AddModel if request.param == "tensor_content" else TypedAddModel)(received))
    try:
        yield f"127.0.0.1:{port}", received
    finally:
        server.stop(grace=None).wait(10)


def write_doc(path: Path, sums: list[list[float]]) -> str:
    doc = {"data": [{"a": a, "b": b} for a, b in zip(A, B, strict=True)],
           "validation_data": [{"sum": s} for s in sums]}
    path.write_text(json.dumps(doc))
    return str(path)


def right_sums() -> list[list[float]]:
    return [[x + y for x, y in zip(a, b, strict=True)] for a, b in zip(A, B, strict=True)]


def run_tfs(url: str, data: str, *extra: str) -> CliRun:
    return cli("-m", MODEL, "--service-kind", "tfserving", "-u", url, "--input-data", data,
               "--concurrency-range", "1", "--request-count", "20", *extra)


def test_matching_outputs_pass(peer: tuple[str, Received], tmp_path: Path) -> None:
    url, received = peer
    run = run_tfs(url, write_doc(tmp_path / "v.json", right_sums()))
    assert run.code == 0, run.stderr
    assert MISMATCH not in run.stdout + run.stderr
    assert len(received.predict) >= 20


def test_wrong_output_fails_with_step_output_and_element(peer: tuple[str, Received], tmp_path: Path) -> None:
    url, received = peer
    sums = right_sums()
    sums[1][2] = 99.0
    run = run_tfs(url, write_doc(tmp_path / "v.json", sums))
    assert run.code == 99, run.stderr
    assert f"{MISMATCH}: step 1, output 'sum', element 2: expected 99, got 31" in run.stderr
    assert "Traceback" not in run.stderr
    assert received.predict  # the requests were answered; the answers differed


def test_batched_rows_name_their_step(peer: tuple[str, Received], tmp_path: Path) -> None:
    url, _ = peer
    run = run_tfs(url, write_doc(tmp_path / "v.json", right_sums()), "-b", "2")
    assert run.code == 0, run.stderr
    sums = right_sums()
    sums[1][0] = 0.0
    run = run_tfs(url, write_doc(tmp_path / "v.json", sums), "-b", "2")
    assert run.code == 99, run.stderr
    assert f"{MISMATCH}: step 1, output 'sum', element 0: expected 0, got 9" in run.stderr


def test_unknown_output_name_is_a_data_error(peer: tuple[str, Received], tmp_path: Path) -> None:
    url, received = peer
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"data": [{"a": A[0], "b": B[0]}], "validation_data": [{"prod": [1, 2, 3, 4]}]}))
    run = run_tfs(url, str(path))
    assert run.code == 3, run.stderr
    assert "has no output named 'prod'" in run.stderr and "outputs: sum" in run.stderr
    assert not received.predict
