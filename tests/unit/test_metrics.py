"""--collect-metrics: parsing Triton's Prometheus text, perf_analyzer's per-GPU
aggregation, the console block and the verbose CSV cells, and the sampler
against a real HTTP endpoint (and an unreachable one)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from perfanalyzer.metrics import MetricsSampler, aggregate, parse
from perfanalyzer.report.metrics_text import csv_cells, metrics_lines

DATA = Path(__file__).parent / "data"


def recorded() -> list[str]:
    return [(DATA / f"triton_metrics_gpu_{i}.txt").read_text() for i in range(3)]


def test_parse_keys_gpus_by_uuid_and_reads_cpu() -> None:
    s = parse(recorded()[0], t_ns=7)
    assert s.t_ns == 7
    assert s.gpu["GPU-aaaa"] == {"utilization": 0.5, "memory_total": 50000, "memory_used": 1000, "power": 60.0}
    assert s.gpu["GPU-bbbb"]["power"] == 80.5
    assert s.cpu == {"cpu_utilization": 0.2, "cpu_memory_total": 25276510208, "cpu_memory_used": 800000000}


def test_aggregation_follows_perf_analyzer() -> None:
    m = aggregate([parse(t, i) for i, t in enumerate(recorded())])
    # utilization and power averaged, used memory max, total memory first
    assert m.gpu_utilization["GPU-aaaa"] == pytest.approx(0.7)
    assert m.gpu_utilization["GPU-bbbb"] == pytest.approx(0.2)
    assert m.gpu_power_usage["GPU-aaaa"] == pytest.approx(70.0)
    assert m.gpu_power_usage["GPU-bbbb"] == pytest.approx((80.5 + 90.5 + 70.0) / 3)
    assert m.gpu_memory_used_bytes == {"GPU-aaaa": 3000, "GPU-bbbb": 2500}
    assert m.gpu_memory_total_bytes == {"GPU-aaaa": 50000, "GPU-bbbb": 75000}
    assert m.cpu_utilization == pytest.approx(0.4)
    assert m.cpu_memory_used_bytes == 800001000
    assert m.samples == 3


def test_console_block_and_csv_cells() -> None:
    m = aggregate([parse(t) for t in recorded()[:2]])
    lines = metrics_lines(m)
    assert lines[:4] == ["", "  Server Prometheus Metrics: ", "    Avg GPU Utilization:", "      GPU-aaaa : 60%"]
    assert "      GPU-bbbb : 85.5 watts" in lines
    assert "      GPU-aaaa : 3000 bytes" in lines and "      GPU-aaaa : 50000 bytes" in lines
    assert lines[-2:] == ["    Avg CPU Utilization: 30%", "    Max CPU Memory Usage: 800001000 bytes"]
    assert csv_cells(m) == ["GPU-aaaa:0.6;GPU-bbbb:0.2;", "GPU-aaaa:65;GPU-bbbb:85.5;",
                            "GPU-aaaa:3000;GPU-bbbb:2000;", "GPU-aaaa:50000;GPU-bbbb:75000;"]
    assert csv_cells(None) == ["", "", "", ""]


def test_cpu_only_server_has_no_gpu_entries() -> None:
    text = "# TYPE nv_cpu_utilization gauge\nnv_cpu_utilization 0.25\n"
    m = aggregate([parse(text)])
    assert m.gpu_utilization == {} and m.cpu_utilization == 0.25 and m.cpu_memory_used_bytes is None


def test_malformed_text_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse("nv_gpu_utilization{gpu_uuid=\"x\"} not-a-number\n")


@pytest.fixture
def endpoint() -> Iterator[str]:
    """A real HTTP server on loopback answering the recorded scrapes in turn."""
    texts = recorded()
    calls = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = texts[min(calls["n"], len(texts) - 1)].encode()
            calls["n"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_sampler_keeps_samples_by_time(endpoint: str) -> None:
    clock = iter(range(100, 10_000, 100))
    sampler = MetricsSampler(endpoint, 1000, clock_ns=lambda: next(clock))
    for _ in range(3):
        assert sampler.scrape() is not None  # t = 100, 200, 300
    assert [s.t_ns for s in sampler.between(150, 300)] == [200, 300]
    m = sampler.level_metrics(150, 300)
    assert m is not None and m.samples == 2
    assert m.gpu_memory_total_bytes["GPU-aaaa"] == 50001  # first of the level's samples
    # No sample inside a level's span (window shorter than the interval): one scrape now.
    later = sampler.level_metrics(10_000, 20_000)
    assert later is not None and later.samples == 1


def test_sampler_thread_runs_and_stops(endpoint: str) -> None:
    sampler = MetricsSampler(endpoint, 10).start()
    try:
        deadline = threading.Event()
        for _ in range(200):
            if len(sampler.between(0, 2**63)) >= 2:
                break
            deadline.wait(0.01)
    finally:
        sampler.stop()
    assert len(sampler.between(0, 2**63)) >= 2 and not sampler.failed


def test_unreachable_endpoint_warns_once() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    warnings: list[str] = []
    sampler = MetricsSampler(f"127.0.0.1:{port}/metrics", 1000, warn=warnings.append)
    assert sampler.scrape() is None and sampler.scrape() is None
    assert sampler.level_metrics(0, 2**63) is None
    assert len(warnings) == 1 and f"127.0.0.1:{port}/metrics" in warnings[0] and "continuing" in warnings[0]
