"""gRPC failures counted per status code against a real Triton server."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from perfanalyzer import _core
from tritonclient.grpc import service_pb2

from .helpers import cli

FAILED = re.compile(r"(\d+) of (\d+) requests failed \(([^)]*)\)")


def _failed_summary(stderr: str) -> tuple[int, int, str]:
    m = FAILED.search(stderr)
    assert m, stderr
    return int(m.group(1)), int(m.group(2)), m.group(3)


@pytest.mark.parametrize("streaming", [False, True])
def test_unknown_model_counts_not_found(triton, streaming: bool, until: Callable[..., bool]) -> None:
    """The engine itself (not the control plane) sends to a model Triton does not have."""
    request = service_pb2.ModelInferRequest(model_name="no_such_model", id="1")
    if streaming:  # without this Triton never closes a request on a stream
        request.parameters["triton_enable_empty_final_response"].bool_param = True
    engine = _core.GrpcEngine(triton.grpc_url, [request.SerializeToString()], streaming=streaming)
    try:
        engine.set_concurrency(2)
        engine.start()
        until(lambda: engine.failed >= 20, 60)
        engine.stop()
        _, w = engine.swap()
        failed = engine.failed
        messages = engine.error_messages()
    finally:
        engine.close()
    assert failed >= 20 and w.ok == 0
    code = "STREAM_ERROR" if streaming else "NOT_FOUND"
    assert w.grpc_codes == {code: failed}, (w.grpc_codes, messages)
    assert w.error_count == failed
    assert any("no_such_model" in m for m in messages), messages
    if not streaming:
        assert all(m.startswith("gRPC NOT_FOUND:") for m in messages), messages


def test_bad_parameter_run_names_invalid_argument_and_exits_99(triton) -> None:
    # Triton answers INVALID_ARGUMENT for a 'priority' parameter that is not an integer.
    run = cli("-m", "identity", "-i", "grpc", "-u", triton.grpc_url, "--request-parameter", "priority:high:string",
              "-p", "300", "-r", "5", "--concurrency-range", "2")
    assert run.code == 99, run.stderr
    failed, total, what = _failed_summary(run.stderr)
    assert failed == total >= 1
    assert what == f"{failed} INVALID_ARGUMENT", run.stderr
    assert "Traceback" not in run.stderr and "latency" not in run.stderr.lower()


def test_bad_parameter_on_a_stream_counts_in_stream_errors(triton) -> None:
    run = cli("-m", "identity", "-i", "grpc", "--streaming", "-u", triton.grpc_url, "--request-parameter",
              "priority:high:string", "-p", "300", "-r", "5")
    assert run.code == 99, run.stderr
    failed, total, what = _failed_summary(run.stderr)
    assert failed == total >= 1
    assert what == (f"{failed} in-stream error" + ("s" if failed != 1 else "")), run.stderr
    assert "priority" in run.stderr


def test_http_failures_keep_error_kinds(triton) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--request-parameter", "priority:high:string",
              "-p", "300", "-r", "5")
    assert run.code == 99, run.stderr
    failed, total, what = _failed_summary(run.stderr)
    assert failed == total >= 1
    assert what == f"{failed} http_5xx", run.stderr  # Triton's HTTP 500 for the same parameter
