"""Measurement truth against a real Triton server over HTTP."""

from __future__ import annotations

import csv
import io

import pytest
from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, Settings

from .helpers import cli


def settings(triton, **kw) -> Settings:
    base = dict(url=triton.http_url, measurement_interval_ms=500, max_trials=20, stability_percentage=100.0)
    base.update(kw)
    return Settings(**base).validate()


@pytest.mark.parametrize("client", ["native", "curl"])
def test_client_count_equals_server_success_delta(triton, client: str) -> None:
    result = profile(settings(triton, model_name="identity", concurrency_range=Range(2, 2, 1), http_client=client))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    m = level.merged
    assert m.request_count > 100
    # Boundaries are read client-first, the server's counters a moment later:
    # requests finishing in between count one window earlier on the server.
    # Beyond those, the two may differ by what was in flight (c = 2) at each
    # end and by the server updating its statistics just after it answers
    # (allow 1 ms of requests for that at each end).
    skew_s = sum(m.server_skew_ns) / 1e9 + 0.002
    diff = abs(m.request_count - m.server.success_count)
    assert diff <= 2 * 2 + m.throughput * skew_s + 1, (diff, m.server_skew_ns, m.throughput)
    # Triton counts an inference when it executes and a success when it has
    # answered: a read in between sees them one request apart (at most c = 2).
    assert abs(m.server.inference_count - m.server.success_count) <= 2


def test_known_service_time_at_concurrency_1(triton) -> None:
    result = profile(settings(triton, model_name="sleep_2ms", measurement_interval_ms=1000))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    m = level.merged
    avg_us = m.avg_latency_ns / 1000
    server_us = m.server.avg_request_us
    assert avg_us >= 2000, "the model sleeps 2 ms per request"
    assert avg_us >= server_us, "the client sees at least what the server spent"
    assert avg_us < server_us + 1000, "loopback adds well under 1 ms"
    # Closed loop at concurrency 1: one request at a time, back to back.
    assert m.throughput * m.avg_latency_ns / 1e9 == pytest.approx(1.0, rel=0.03)
    # Percentiles are ordered and bracket the average sensibly.
    p = [m.percentile_ns(x) for x in (50, 90, 95, 99)]
    assert p == sorted(p) and p[0] >= 2_000_000


def test_open_ended_sweep_stops_at_latency_limit(triton) -> None:
    # One instance of a ~2.5 ms service: about 2.5 ms at concurrency 1, 5 ms at 2.
    result = profile(settings(triton, model_name="sleep_2ms", concurrency_range=Range(1, 0, 1),
                              latency_threshold_ms=4))
    assert result.sweep.status == "over_limit"
    assert "Measured latency went over the set limit of 4 msec." in result.sweep.message
    assert [lvl.value for lvl in result.sweep.levels] == [1]
    assert result.exit_code == 0


def test_cli_report_and_csv(triton, tmp_path) -> None:
    out = tmp_path / "result.csv"
    run = cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:3", "-p", "500",
              "-s", "100", "-r", "20", "-f", str(out))
    assert run.code == 0, run.stderr
    assert "*** Measurement Settings ***" in run.stdout
    for c in (1, 2, 3):
        assert f"Request concurrency: {c}\n  Client: \n    Request count: " in run.stdout
    assert "Avg HTTP time:" in run.stdout and "Avg request latency:" in run.stdout
    assert "Inferences/Second vs. Client Average Batch Latency" in run.stdout
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == ["Concurrency", "Inferences/Second", "Client Send", "Network+Server Send/Recv",
                       "Server Queue", "Server Compute Input", "Server Compute Infer", "Server Compute Output",
                       "Client Recv", "p50 latency", "p90 latency", "p95 latency", "p99 latency"]
    body = rows[1:]
    assert sorted(int(r[0]) for r in body) == [1, 2, 3]
    throughputs = [float(r[1]) for r in body]
    assert throughputs == sorted(throughputs)
    for r in body:
        assert all(cell.isdigit() for cell in r[2:]), r


def test_count_windows_and_percentile(triton) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--measurement-mode", "count_windows",
              "--measurement-request-count", "1000", "--percentile", "95", "-s", "100", "-r", "30", "-v")
    assert run.code == 0, run.stderr
    assert 'Using "count_windows" mode for stabilization' in run.stdout
    assert "Avg latency:" not in run.stdout
    assert "Pass [3]" in run.stdout
    assert "Inferences/Second vs. Client p95 Batch Latency" in run.stdout


def test_batch_and_shape(triton) -> None:
    result = profile(settings(triton, model_name="identity_dynamic", batch_size=4,
                              shapes=(("INPUT0", (8,)),), stability_percentage=100.0))
    assert result.exit_code == 0, result.sweep.message
    m = result.sweep.levels[0].merged
    # -b 4: throughput counts inferences, four per request.
    assert m.throughput == pytest.approx(4 * m.request_count / (m.duration_ns / 1e9))
    # (one request of 4 may have executed but not yet answered when read)
    assert m.server.inference_count == pytest.approx(4 * m.server.success_count, abs=4)
