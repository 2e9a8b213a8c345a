"""--profile-export-file: every measured request, perf_analyzer's schema,
checked against the server's count and the report."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from .helpers import cli

SCHEMA = Path(__file__).parent / "data" / "profile_export.schema.json"


def test_export_has_every_measured_request(triton, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    run = cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:2", "-p", "400", "-s", "100",
              "-r", "20", "--profile-export-file", str(out))
    assert run.code == 0, run.stderr
    doc = json.loads(out.read_text())
    assert doc["service_kind"] == "triton" and doc["endpoint"] == "v2/models/identity/infer" and doc["version"]
    assert [e["experiment"] for e in doc["experiments"]] == [
        {"mode": "concurrency", "value": 1}, {"mode": "concurrency", "value": 2}]
    for e in doc["experiments"]:
        bounds = e["window_boundaries"]
        assert len(bounds) >= 4 and bounds == sorted(bounds)
        assert e["requests"], "no requests exported"
        for r in e["requests"]:
            (end,) = r["response_timestamps"]
            assert r["timestamp"] < end and bounds[0] < end <= bounds[-1]
        # ns since the epoch: in this century
        assert 1.6e18 < bounds[0] < 4.1e18


def test_export_refuses_an_existing_file(triton, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    out.write_text("keep me")
    run = cli("-m", "identity", "-u", triton.http_url, "--profile-export-file", str(out))
    assert run.code == 3
    assert "already exists" in run.stderr and str(out) in run.stderr
    assert out.read_text() == "keep me"


def test_export_request_count_matches_the_report(triton, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    run = cli("-m", "identity", "-u", triton.http_url, "--request-count", "321", "--profile-export-file", str(out))
    assert run.code == 0, run.stderr
    (e,) = json.loads(out.read_text())["experiments"]
    assert len(e["requests"]) == 321
    assert "Request count: 321" in run.stdout


def test_streaming_export_lists_every_response(triton, tmp_path: Path) -> None:
    """repeat_4 answers each request 4 times, then with an empty final response
    that, as in perf_analyzer, is not a response of its own."""
    out = tmp_path / "export.json"
    run = cli("-i", "grpc", "--streaming", "-m", "repeat_4", "-u", triton.grpc_url, "--request-count", "50",
              "--profile-export-file", str(out))
    assert run.code == 0, run.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    (e,) = doc["experiments"]
    assert len(e["requests"]) == 50
    for r in e["requests"]:
        times = r["response_timestamps"]
        assert len(times) == 4 and len(r["response_outputs"]) == 4
        assert r["timestamp"] < times[0] and times == sorted(times) and len(set(times)) == 4
