"""--json: the document built from a run's figures, its schema, and what
happens when it cannot be written."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.resources
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
from perfanalyzer import _core, api, outcome, summary_file
from perfanalyzer.distributed.group import WorkerLoad, worker_figures
from perfanalyzer.errors import PerfAnalyzerError
from perfanalyzer.metrics import LevelMetrics
from perfanalyzer.profiler import LevelResult, Measurement, SweepResult
from perfanalyzer.report import summary
from perfanalyzer.report.figures import LevelFigures, OpenLoopFigures, StreamFigures, figures
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.settings import Range, RateRange, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(summary.schema())


def measured_level(value: int = 2, stable: bool = True) -> LevelFigures:
    """figures() of a level of 1000 requests taking 10, 20, .. 10000 usec, with server statistics."""
    w = _core.WindowStats()
    for i in range(1, 1001):
        w.record_ok(0, 5_000, i * 10_000 - 5_000, i * 10_000)
    srv = ServerStats(inference_count=1000, execution_count=1000, success_count=1000, success_ns=1000 * 400_000,
                      queue_count=1000, queue_ns=1000 * 100_000, compute_input_count=1000,
                      compute_input_ns=1000 * 10_000, compute_infer_count=1000, compute_infer_ns=1000 * 200_000,
                      compute_output_count=1000, compute_output_ns=1000 * 10_000)
    return figures(LevelResult("concurrency", value, Measurement(1_000_000_000, w, srv, 1), stable, 4), -1)


def open_loop_level(rate: float) -> LevelFigures:
    pct = {50: 900, 90: 1000, 95: 1100, 99: 1500}
    return LevelFigures(
        mode="request_rate", value=rate, stable=True, request_count=500, throughput=rate, avg_us=950, std_us=80,
        percentiles_us=pct, stabilizing_us=950, send_us=10, recv_us=12, server=None, windows=3, p99_9_us=1700,
        open_loop=OpenLoopFigures(response_percentiles_us=pct, lag_p50_us=40, lag_p99_us=1200, delayed=7,
                                  scheduled=500, postponed=3, send_rate=rate * 0.99, response_p99_9_us=1900),
        stream=StreamFigures(response_throughput=rate * 4, first_response_percentiles_us=pct,
                             first_response_p99_9_us=1800),
        metrics=LevelMetrics({"GPU-1": 0.5}, {"GPU-1": 120.0}, {"GPU-1": 1 << 30}, {"GPU-1": 1 << 34},
                             cpu_utilization=float("nan"), samples=4),
    )


def settings(**kw: object) -> Settings:
    return Settings(model_name="identity", **kw)


def doc_of(levels: list[LevelFigures], s: Settings | None = None, **kw: object) -> dict:
    args = {"status": "ok", "message": "", "exit_code": 0, **kw}
    return summary.document(s or settings(), [summary.level_fields(f) for f in levels], **args)


def test_closed_loop_level_has_every_figure_and_validates() -> None:
    f = measured_level()
    doc = json.loads(summary.render(doc_of([f])))
    VALIDATOR.validate(doc)
    (level,) = doc["levels"]
    assert level["value"] == 2 and isinstance(level["value"], int)
    assert list(level["percentiles_us"]) == ["50", "90", "95", "99", "99.9"]
    # nearest rank: p99.9 is the 999th request, p99 the 990th (histogram buckets within 0.1 %)
    assert abs(level["percentiles_us"]["99.9"] - 9990) <= 10 and abs(level["percentiles_us"]["99"] - 9900) <= 10
    assert level["windows"] == 4 and level["request_count"] == 1000
    assert (level["send_us"], level["recv_us"]) == (f.send_us, f.recv_us) == (5, 5)
    assert level["avg_latency_us"] == f.avg_us and level["stabilizing_latency_us"] == f.avg_us
    assert level["network_us"] == f.network_us and level["response_wait_us"] == f.response_wait_us
    assert level["server"]["queue"] == 100 and level["server"]["compute_infer"] == 200
    assert level["client_overhead_pct"] == pytest.approx(f.client_overhead_pct)
    assert level["open_loop"] is None and level["stream"] is None and level["metrics"] is None


def test_open_loop_stream_and_metrics_figures() -> None:
    doc = json.loads(summary.render(doc_of([open_loop_level(50.0)])))
    VALIDATOR.validate(doc)
    (level,) = doc["levels"]
    assert level["client_overhead_pct"] is None
    o = level["open_loop"]
    assert o["response_percentiles_us"]["99.9"] == 1900 and o["lag_p99_us"] == 1200
    assert (o["scheduled"], o["delayed"], o["postponed"]) == (500, 7, 3)
    assert o["delayed_pct"] == pytest.approx(1.4) and o["send_rate"] == pytest.approx(49.5)
    assert level["stream"] == {"response_throughput": 200.0,
                               "first_response_percentiles_us": {"50": 900, "90": 1000, "95": 1100, "99": 1500,
                                                                 "99.9": 1800}}
    assert level["metrics"]["gpu_utilization"] == {"GPU-1": 0.5}
    assert level["metrics"]["cpu_utilization"] is None  # NaN is not JSON


def test_levels_by_load_value_unstable_included() -> None:
    levels = [open_loop_level(200.0), open_loop_level(50.0), dataclasses.replace(open_loop_level(100.0),
                                                                                 stable=False)]
    doc = doc_of(levels, status="unstable", message="level 100 did not stabilize", exit_code=0)
    VALIDATOR.validate(doc)
    assert [(lv["value"], lv["stable"]) for lv in doc["levels"]] == [(50.0, True), (100.0, False), (200.0, True)]
    assert doc["status"] == "unstable" and doc["message"] == "level 100 did not stabilize"


def test_settings_as_run_without_secrets() -> None:
    s = settings(url="http://user:secret@example.com:8000", http_headers=("Authorization: Bearer xyz", "X-Id: 7"),
                 request_intervals_ns=(1000, 2000, 3000), request_rate_range=RateRange(10.0, 20.0, 5.0),
                 load_modes=("request_rate",), seed=42, concurrency_range=Range(1, 4, 1))
    doc = doc_of([], s)
    VALIDATOR.validate(doc)
    text = json.dumps(doc)
    assert "secret" not in text and "Bearer" not in text
    got = doc["settings"]
    assert got["http_headers"] == ["Authorization", "X-Id"] and got["request_intervals_ns"] == 3
    assert got["seed"] == 42 and got["load_mode"] == "request_rate"
    assert got["request_rate_range"] == {"start": 10.0, "end": 20.0, "step": 5.0}
    assert got["https"]["verify_peer"] == 1
    assert set(got) >= {f.name for f in dataclasses.fields(Settings)}


def test_schema_is_strict_about_fields() -> None:
    """A figure added to the document but not to the schema (or docs) fails here."""
    doc = doc_of([measured_level()])
    doc["levels"][0]["p99_9_us"] = 1
    with pytest.raises(jsonschema.ValidationError, match="p99_9_us"):
        VALIDATOR.validate(doc)
    del doc["levels"][0]["p99_9_us"]
    del doc["levels"][0]["percentiles_us"]["99.9"]
    with pytest.raises(jsonschema.ValidationError, match="99.9"):
        VALIDATOR.validate(doc)


def test_distributed_workers() -> None:
    loads = [WorkerLoad(requests=1000, delayed=10, cpu_ns=500_000_000, window_ns=1_000_000_000, lag_p99_ns=2_500_000),
             WorkerLoad()]
    workers = worker_figures(["worker 0 on node a", "worker 1 on node b"], loads)
    doc = doc_of([measured_level()], workers=workers)
    VALIDATOR.validate(doc)
    first, idle = doc["workers"]
    assert first == {"worker": 0, "where": "worker 0 on node a", "requests": 1000, "cpu_pct": 50.0,
                     "cpu_us_per_request": 500.0, "lag_p99_us": 2500, "delayed": 10, "delayed_pct": 1.0}
    assert idle["requests"] == 0 and idle["cpu_pct"] == 0.0 and idle["delayed_pct"] == 0.0


def test_schema_ships_in_the_installed_package() -> None:
    path = importlib.resources.files("perfanalyzer") / "schemas" / summary.SCHEMA_FILE
    assert path.is_file()
    # ... because the wheel installed it (its RECORD), not a source tree on the path.
    assert f"perfanalyzer/schemas/{summary.SCHEMA_FILE}" in {str(f) for f in importlib.metadata.files("perfanalyzer")}
    jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_every_documented_field_is_in_the_docs() -> None:
    """docs/json.md names every field of the schema."""
    text = (REPO_ROOT / "docs" / "json.md").read_text()
    schema = summary.schema()
    names = set(schema["properties"])
    for part in ("level", "open_loop", "stream", "server", "metrics", "worker"):
        names |= set(schema["$defs"][part]["properties"])
    missing = sorted(n for n in names if not re.search(rf"`{re.escape(n)}`", text))
    assert missing == []


def test_python_api_result_is_the_document() -> None:
    s = settings(load_modes=("request_rate",))
    levels = [open_loop_level(100.0), open_loop_level(50.0)]
    run = outcome.RunResult(SweepResult(status="ok"), levels, settings=s)
    result = api._result(settings(), run)
    assert result.levels[0].percentiles_us[99.9] == 1700 and result.levels[0].open_loop["postponed"] == 3
    assert result.to_dict() == json.loads(summary.render(doc_of(levels, s)))
    assert result.levels[0].to_dict() == result.to_dict()["levels"][1]  # the document is by load value


def test_unwritable_file_is_one_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "run.json"
    with pytest.raises(PerfAnalyzerError, match=rf"^--json {re.escape(str(missing))}: cannot write the summary: "
                                                r"No such file or directory$"):
        summary.write(str(missing), doc_of([]))


def test_stdout_whose_reader_is_gone() -> None:
    read, write = os.pipe()
    os.close(read)
    stream = os.fdopen(write, "w")
    try:
        with pytest.raises(PerfAnalyzerError, match=r"^--json - \(stdout\): cannot write the summary: Broken pipe"):
            summary.write("-", doc_of([measured_level()]), stream)
    finally:
        try:
            stream.close()
        except BrokenPipeError:  # what was left in the buffer
            pass


def test_failed_output_still_writes_the_json(tmp_path: Path) -> None:
    """-f failed: the JSON is written, then the CSV's error ends the run."""
    path = tmp_path / "run.json"
    run = outcome.RunResult(SweepResult(status="ok"), [measured_level()], exit_code=99,
                           output_error=PerfAnalyzerError("-f /x/run.csv: cannot write the CSV: Permission denied"))
    with pytest.raises(PerfAnalyzerError, match="^-f /x/run.csv"):
        summary_file.write(settings(json_file=str(path)), run, None, outcome.to_stderr)
    doc = json.loads(path.read_text())
    assert doc["exit_code"] == 99 and [lv["value"] for lv in doc["levels"]] == [2]


def test_json_failure_after_another_failure_is_its_own_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = outcome.RunResult(SweepResult(status="ok"), [measured_level()], exit_code=99,
                           output_error=PerfAnalyzerError("-f /x/run.csv: cannot write the CSV: Permission denied"))
    with pytest.raises(PerfAnalyzerError, match="^-f /x/run.csv"):
        summary_file.write(settings(json_file=str(tmp_path / "no" / "run.json")), run, None, outcome.to_stderr)
    err = capsys.readouterr().err
    assert err.startswith(f"error: --json {tmp_path}/no/run.json: cannot write") and err.count("\n") == 1
