"""Observing a run against the real server: Triton's CPU metrics, the verbose
CSV, server traces set and restored, the HTML report, the export's schema and
interruption keeping what was measured."""

from __future__ import annotations

import base64
import csv
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from triton_launcher import TritonServer

from .helpers import cli

SHORT = ("-p", "400", "-s", "100", "-r", "20")
SCHEMA = Path(__file__).parent / "data" / "profile_export.schema.json"


def trace_settings(server: TritonServer, model: str = "identity") -> dict:
    with urllib.request.urlopen(f"http://{server.http_url}/v2/models/{model}/trace/setting", timeout=10) as r:
        return json.loads(r.read())


def test_cpu_metrics_and_verbose_csv(triton, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    run = cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:2", *SHORT, "--collect-metrics",
              "--metrics-url", triton.metrics_url, "--metrics-interval", "100", "-f", str(out), "--verbose-csv",
              "--html-report", str(tmp_path / "m.html"))
    assert run.code == 0, run.stderr
    assert run.stdout.count("  Server Prometheus Metrics: ") == 2
    utilizations = [float(x) for x in re.findall(r"Avg CPU Utilization: ([0-9.e+-]+)%", run.stdout)]
    memory = [int(x) for x in re.findall(r"Max CPU Memory Usage: (\d+) bytes", run.stdout)]
    assert len(utilizations) == 2 and all(0 <= u <= 100 for u in utilizations)
    assert len(memory) == 2 and all(m > 0 for m in memory)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[-7:] == ["Avg latency", "request/response", "response wait", "Avg GPU Utilization",
                                  "Avg GPU Power Usage", "Max GPU Memory Usage", "Total GPU Memory"]
    avg = {int(c): int(v) for c, v in re.findall(r"Request concurrency: (\d+)\n(?:.*\n)*?\s+Avg latency: (\d+)",
                                                  run.stdout)}
    for r in rows:
        assert int(r["Avg latency"]) == avg[int(r["Concurrency"])]
        assert r["Avg GPU Utilization"] == ""  # a CPU-only server has no GPU to report
    # the HTML report leaves those empty columns out and says so
    page = (tmp_path / "m.html").read_text()
    results = page[page.index("<table class='results'>"):]
    results = results[:results.index("</table>")]
    assert "GPU" not in results and "<th>Avg latency <span class='unit'>(usec)</span></th>" in results
    assert "Not shown (empty for every level, or not measured): Avg GPU Utilization, " in page


def test_unreachable_metrics_endpoint_warns_once(triton) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = cli("-m", "identity", "-u", triton.http_url, *SHORT, "--collect-metrics",
              "--metrics-url", f"127.0.0.1:{port}/metrics", "--metrics-interval", "50")
    assert run.code == 0, run.stderr
    assert run.stderr.count("WARNING: cannot read server metrics") == 1
    assert "Throughput:" in run.stdout and "Traceback" not in run.stderr


@pytest.fixture(scope="module")
def traced_server(model_repository: Path, tmp_path_factory: pytest.TempPathFactory):
    trace_file = tmp_path_factory.mktemp("trace") / "trace.json"
    with TritonServer(model_repository, extra_args=[f"--trace-config=triton,file={trace_file}"]) as server:
        yield server, trace_file


def test_trace_settings_applied_then_restored(traced_server) -> None:
    server, trace_file = traced_server
    before = trace_settings(server)
    assert before["trace_level"] == ["OFF"]
    run = cli("-m", "identity", "-u", server.http_url, "--request-count", "60",
              "--trace-level", "TIMESTAMPS", "--trace-rate", "1")
    assert run.code == 0, run.stderr
    assert trace_settings(server) == before
    # Triton flushes the trace file when the settings change back.
    traced = trace_file.read_text().count('"model_name":"identity"')
    assert traced >= 60


def test_trace_settings_over_grpc_applied_then_restored(traced_server) -> None:
    """-i grpc sets them with the gRPC TraceSetting call, as perf_analyzer does
    (it was refused: the settings went over HTTP only)."""
    server, trace_file = traced_server
    before = trace_settings(server)
    start = trace_file.read_text().count('"model_name":"identity"') if trace_file.exists() else 0
    run = cli("-m", "identity", "-i", "grpc", "-u", server.grpc_url, "--request-count", "40",
              "--trace-level", "TIMESTAMPS", "--trace-rate", "1", "--trace-count", "100", "--log-frequency", "0")
    assert run.code == 0, run.stderr
    assert trace_settings(server) == before
    assert trace_file.read_text().count('"model_name":"identity"') - start >= 40
    assert "REQUEST_START" in trace_file.read_text()


def test_trace_file_the_server_refuses_is_one_error(traced_server, tmp_path: Path) -> None:
    server, trace_file = traced_server
    before = trace_settings(server)
    run = cli("-m", "identity", "-u", server.http_url, "--trace-level", "TIMESTAMPS",
              "--trace-file", str(tmp_path / "elsewhere.json"), *SHORT)
    assert run.code == 99
    assert "--trace-file" in run.stderr and "--trace-config" in run.stderr and str(trace_file) in run.stderr
    assert "Traceback" not in run.stderr and "Request concurrency" not in run.stdout
    assert trace_settings(server) == before


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_trace_level_on_a_server_without_a_trace_file_says_how_to_start_it(triton, protocol: str) -> None:
    """A default Triton has no trace file and refuses a trace level ("trace
    file name is not given"); the line says which server flag gives it one."""
    before = trace_settings(triton)
    assert before["trace_file"] == ""
    url = triton.http_url if protocol == "http" else triton.grpc_url
    run = cli("-m", "identity", "-u", url, "-i", protocol, "--trace-level", "TIMESTAMPS", "--trace-rate", "1", *SHORT)
    assert run.code == 99, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("error: --trace-level TIMESTAMPS: the server has no trace file")
    assert "--trace-config triton,file=PATH" in run.stderr
    assert "Request concurrency" not in run.stdout  # refused before any load
    assert trace_settings(triton) == before


def test_trace_file_naming_the_servers_own_file_is_accepted(traced_server) -> None:
    """What --trace-file can still do on Triton 2.42 and later: name the file
    the server was started with."""
    server, trace_file = traced_server
    before = trace_settings(server)
    run = cli("-m", "identity", "-u", server.http_url, "--trace-level", "TIMESTAMPS", "--trace-file", str(trace_file),
              *SHORT)
    assert run.code == 0, run.stderr
    assert trace_settings(server) == before


def test_trace_settings_restored_after_sigterm(traced_server, tmp_path: Path) -> None:
    server, _ = traced_server
    before = trace_settings(server)
    proc = subprocess.Popen([sys.executable, "-m", "perfanalyzer", "-m", "identity", "-u", server.http_url,
                             "--concurrency-range", "1:50", *SHORT, "--trace-level", "TIMESTAMPS",
                             "--trace-rate", "100"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Avg request latency" in line:
            break
    assert trace_settings(server)["trace_level"] == ["TIMESTAMPS"]
    threading.Timer(0.2, proc.send_signal, args=(signal.SIGTERM,)).start()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 99 and "interrupted" in err, err
    assert trace_settings(server) == before


def test_html_report_and_report_command(triton, tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    out = tmp_path / "r.csv"
    run = cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:2", *SHORT, "-f", str(out),
              "--html-report", str(page))
    assert run.code == 0, run.stderr
    text = page.read_text()
    # table (units in the headers) + server breakdown
    assert "<th>Inferences/Second <span class='unit'>(infer/sec)</span></th>" in text and "Avg request latency" in text
    assert "<table class='settings'>" in text and "<th>Load</th><td>concurrency 1 to 2, step 1</td>" in text
    png = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", text).group(1))
    assert png.startswith(b"\x89PNG")
    again = cli("report", str(out), "-o", str(tmp_path / "again.html"))
    assert again.code == 0, again.stderr
    results = [t[t.index("<table class='results'>"):] for t in (text, (tmp_path / "again.html").read_text())]
    assert [t[:t.index("</table>")].count("<tr>") for t in results] == [3, 3]  # header and the two levels


def test_export_matches_the_schema(triton, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "export.json"
    run = cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:2", *SHORT,
              "--profile-export-file", str(out))
    assert run.code == 0, run.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    first = doc["experiments"][0]["requests"][0]
    assert first["request_inputs"] == {"INPUT0": None}  # FP32: perf_analyzer writes null
    assert len(first["response_outputs"]) == len(first["response_timestamps"]) == 1


def test_sigint_mid_sweep_keeps_csv_and_export(triton, tmp_path: Path) -> None:
    out_csv, export = tmp_path / "partial.csv", tmp_path / "partial.json"
    proc = subprocess.Popen([sys.executable, "-m", "perfanalyzer", "-m", "identity", "-u", triton.http_url,
                             "--concurrency-range", "1:50", *SHORT, "-f", str(out_csv),
                             "--profile-export-file", str(export)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Avg request latency" in line:
            break
    threading.Timer(0.2, proc.send_signal, args=(signal.SIGINT,)).start()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 99 and "Traceback" not in err, err
    rows = list(csv.reader(out_csv.open()))
    assert rows[0][0] == "Concurrency" and [r[0] for r in rows[1:]][:1] == ["1"]
    doc = json.loads(export.read_text())
    assert doc["experiments"][0]["experiment"] == {"mode": "concurrency", "value": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".perfanalyzer-")] == []


def test_python_api_typed_results(triton) -> None:
    import perfanalyzer
    from perfanalyzer.errors import ServerError

    windows = []
    result = perfanalyzer.profile("identity", url=triton.http_url, concurrency=2, measurement_interval_ms=400,
                                  stability_percentage=100, max_trials=20, on_window=windows.append,
                                  collect_metrics=True, metrics_url=triton.metrics_url)
    (level,) = result.levels
    assert result.status == "ok" and level.stable and level.value == 2
    assert len(windows) == level.windows >= 3 and all(w.level == 2 for w in windows)
    assert level.server is not None and level.request_count > 0
    # The server's counters are read just after the client's boundaries: a few requests may fall either side.
    assert abs(level.server["success_count"] - level.request_count) <= max(10, level.request_count // 10)
    assert level.server["queue"] >= 0 and level.server["compute_infer"] > 0
    assert level.percentiles_us[50] <= level.percentiles_us[99]
    assert level.metrics is not None and level.metrics["cpu_utilization"] is not None
    json.dumps(result.to_dict())
    with pytest.raises(ServerError, match="no_such_model"):
        perfanalyzer.profile("no_such_model", url=triton.http_url)


def test_ensemble_writes_one_csv_per_composing_model(triton, tmp_path: Path) -> None:
    out = tmp_path / "ens.csv"
    run = cli("-m", "ensemble_add_sub", "-u", triton.http_url, *SHORT, "-f", str(out))
    assert run.code == 0, run.stderr
    (main_row,) = list(csv.DictReader(out.open()))
    for step in ("add_sub_v1.ens.csv", "pass_through_v1.ens.csv"):
        rows = list(csv.DictReader((tmp_path / step).open()))
        assert list(rows[0]) == ["Concurrency", "Inferences/Second", "Client Send", "Network+Server Send/Recv",
                                 "Server Queue", "Server Compute Input", "Server Compute Infer",
                                 "Server Compute Output", "Client Recv"]
        (row,) = rows
        assert row["Concurrency"] == "1" and row["Client Send"] == row["Client Recv"] == "0"
        # Every ensemble request runs each step once: the same rate, up to the window-edge skew.
        ratio = float(row["Inferences/Second"]) / float(main_row["Inferences/Second"])
        assert 0.9 < ratio < 1.1
        assert int(row["Server Compute Infer"]) > 0
