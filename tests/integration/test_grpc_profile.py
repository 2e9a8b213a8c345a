"""-i grpc against a real Triton server: counts, channels, compression, batching, errors."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from perfanalyzer import _core
from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, Settings

from .helpers import cli


def settings(triton, **kw) -> Settings:
    base = dict(url=triton.grpc_url, protocol="grpc", measurement_interval_ms=500, max_trials=20,
                stability_percentage=100.0)
    base.update(kw)
    return Settings(**base).validate()


def assert_counts_agree(level, concurrency: int, batch: int = 1) -> None:
    m = level.merged
    assert m.request_count > 50
    # As over HTTP: the server's counters are read a moment after each client
    # boundary, and requests in flight at either end may land on one side only.
    skew_s = sum(m.server_skew_ns) / 1e9 + 0.002
    diff = abs(m.request_count - m.server.success_count)
    assert diff <= 2 * concurrency + m.throughput / batch * skew_s + 1, (diff, m.server_skew_ns, m.throughput)
    # One statistics read may catch a request counted as inferred but not yet as
    # a success: at most the requests in flight.
    assert abs(m.server.inference_count - batch * m.server.success_count) <= batch * concurrency
    assert m.server.inference_count % batch == 0


@pytest.mark.parametrize("concurrency", [1, 4])
def test_client_count_equals_server_success_delta(triton, concurrency: int) -> None:
    result = profile(settings(triton, model_name="identity", concurrency_range=Range(concurrency, concurrency, 1)))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert level.merged.client.error_count == 0
    assert_counts_agree(level, concurrency)


def test_two_channels_and_gzip(triton) -> None:
    result = profile(settings(triton, model_name="identity", concurrency_range=Range(4, 4, 1), grpc_channels=2,
                              grpc_compression_algorithm="gzip"))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert level.merged.client.error_count == 0
    assert_counts_agree(level, 4)


def test_batch_size_counts_inferences(triton) -> None:
    result = profile(settings(triton, model_name="identity", batch_size=4, concurrency_range=Range(2, 2, 1),
                              grpc_compression_algorithm="deflate"))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert_counts_agree(level, 2, batch=4)
    # Throughput counts inferences: requests x batch size per second.
    m = level.merged
    assert m.throughput == pytest.approx(4 * m.request_count / (m.duration_ns / 1e9), rel=1e-6)


def _connections_to(port: int) -> int:
    """Established TCP connections of this process to `port` on loopback."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                cols = line.split()
                remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                if remote_port == port and cols[3] == "01" and cols[9] in inodes:
                    count += 1
    return count


@pytest.mark.parametrize("channels", [1, 3])
def test_each_channel_is_its_own_connection(triton, channels: int, until: Callable[..., bool]) -> None:
    import numpy as np
    from perfanalyzer.model import ModelSpec, TensorSpec
    from perfanalyzer.services.triton_grpc import encode_request

    spec = ModelSpec("identity", "", "python", 64, (TensorSpec("INPUT0", "FP32", (16,)),),
                     (TensorSpec("OUTPUT0", "FP32", (16,)),))
    message = encode_request(spec, {"INPUT0": np.ones((1, 16), dtype=np.float32)})
    engine = _core.GrpcEngine(triton.grpc_url, [message], channels=channels)
    try:
        engine.start()
        engine.set_concurrency(2 * channels)
        until(lambda: engine.completed >= 20 * channels, 20)
        connections = _connections_to(triton.grpc_port)
        engine.stop(drain_ms=2000)
        assert engine.failed == 0, engine.error_messages()
        assert engine.completed >= 20 * channels
        assert connections == channels
    finally:
        engine.close()


def test_console_reports_grpc_breakdown(triton) -> None:
    run = cli("-m", "identity", "-i", "grpc", "-u", triton.grpc_url, "-p", "300", "-s", "100", "-r", "20")
    assert run.code == 0, run.stderr
    line = next(x for x in run.stdout.splitlines() if "Avg gRPC time" in x)
    assert "(un)marshal request/response" in line and "response wait" in line
    assert "Successful request count" in run.stdout  # server statistics over gRPC


def test_unknown_model_is_one_line_exit_99(triton) -> None:
    run = cli("-m", "no_such_model", "-i", "grpc", "-u", triton.grpc_url)
    assert run.code == 99
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "no_such_model" in lines[0] and triton.grpc_url in lines[0], run.stderr
    assert "Traceback" not in run.stderr


def test_unreachable_server_is_one_line_exit_99(triton) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = cli("-m", "identity", "-i", "grpc", "-u", f"127.0.0.1:{port}")
    assert run.code == 99
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], run.stderr


def test_requests_the_server_rejects_end_with_its_status(triton) -> None:
    # Triton answers INVALID_ARGUMENT for a 'priority' parameter that is not an integer.
    run = cli("-m", "identity", "-i", "grpc", "-u", triton.grpc_url, "--request-parameter", "priority:high:string",
              "-p", "300", "-r", "5")
    assert run.code == 99
    assert "gRPC INVALID_ARGUMENT" in run.stderr and "priority" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_streaming_decoupled_model_counts_every_response(triton) -> None:
    """repeat_4 answers each request 4 times (1 ms apart) and then with an empty final response."""
    result = profile(settings(triton, model_name="repeat_4", streaming=True, concurrency_range=Range(2, 2, 1)))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    m = level.merged
    assert m.client.error_count == 0
    assert m.client.responses == 4 * m.request_count
    assert_counts_agree(level, 2)
    # The first response comes before the last one, which is what latency measures.
    assert m.client.first_response_count == m.request_count
    assert m.client.first_response_percentile_ns(50) < m.percentile_ns(50)
    (f,) = result.figures
    assert f.stream is not None
    assert f.stream.response_throughput == pytest.approx(4 * f.throughput, rel=1e-6)


def test_streaming_cli_reports_response_throughput(triton, tmp_path) -> None:
    out = tmp_path / "s.csv"
    run = cli("-m", "repeat_4", "-i", "grpc", "--streaming", "-u", triton.grpc_url, "-p", "300", "-s", "100",
              "-r", "20", "-f", str(out))
    assert run.code == 0, run.stderr
    assert "Response Throughput:" in run.stdout and "First response latency: p50" in run.stdout
    header, row = out.read_text().splitlines()[:2]
    cols = header.split(",")
    assert cols[:3] == ["Concurrency", "Inferences/Second", "Response Throughput"]
    values = dict(zip(cols, row.split(","), strict=True))
    assert float(values["Response Throughput"]) == pytest.approx(4 * float(values["Inferences/Second"]), rel=1e-3)


def test_streaming_non_decoupled_model_one_response_each(triton) -> None:
    result = profile(settings(triton, model_name="identity", streaming=True, concurrency_range=Range(3, 3, 1),
                              grpc_channels=2))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert level.merged.client.responses == level.merged.request_count
    assert_counts_agree(level, 3)


def test_streaming_server_errors_are_reported(triton) -> None:
    run = cli("-m", "identity", "-i", "grpc", "--streaming", "-u", triton.grpc_url, "--request-parameter",
              "priority:high:string", "-p", "300", "-r", "5")
    assert run.code == 99
    assert "priority" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_open_loop_over_grpc(triton) -> None:
    from perfanalyzer.settings import RateRange

    result = profile(settings(triton, model_name="identity", load_modes=("request_rate",),
                              request_rate_range=RateRange(200.0, 200.0, 1.0)))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    m = level.merged
    assert m.throughput == pytest.approx(200, rel=0.2)  # the schedule sets the rate, not the server
    assert m.client.scheduled_count == m.request_count
    assert_counts_agree(level, 4)


def test_incompatible_shape_is_an_option_error(triton) -> None:
    run = cli("-m", "identity", "-i", "grpc", "-u", triton.grpc_url, "--shape", "INPUT0:8")
    assert run.code == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "INPUT0" in lines[0] and "[16]" in lines[0], run.stderr
