"""Flags of the observing features, the verbose CSV, the HTML report, the live
progress line and atomic writes."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest
from perfanalyzer import cli
from perfanalyzer.errors import OPTION_ERROR, OptionError
from perfanalyzer.metrics import aggregate, parse
from perfanalyzer.report import csv_writer, html
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.report.progress import Progress, wanted
from perfanalyzer.settings import Settings
from perfanalyzer.trace import requested

DATA = Path(__file__).parent / "data"


def level(value: float = 1, throughput: float = 100.0, metrics: bool = False) -> LevelFigures:
    m = aggregate([parse((DATA / "triton_metrics_gpu_0.txt").read_text())]) if metrics else None
    return LevelFigures(mode="concurrency", value=value, stable=True, request_count=50, throughput=throughput,
                        avg_us=1000, std_us=10, percentiles_us={50: 900, 90: 1100, 95: 1200, 99: 1500},
                        stabilizing_us=1000, send_us=20, recv_us=30,
                        server={"queue": 100, "compute_input": 10, "compute_infer": 500, "compute_output": 20},
                        metrics=m)


def test_defaults() -> None:
    s = cli.parse_args(["-m", "x"])
    assert (s.collect_metrics, s.metrics_interval_ms, s.verbose_csv, s.quiet) == (False, 1000, False, False)
    assert s.metrics_endpoint == "localhost:8002/metrics"
    assert requested(s) == {}  # no trace flag: the server's settings are left alone


@pytest.mark.parametrize("url, endpoint", [
    ("myhost:9000", "myhost:8002/metrics"),
    ("http://10.0.0.2:8000/", "10.0.0.2:8002/metrics"),
    ("https://[::1]:443", "[::1]:8002/metrics"),
    ("server", "server:8002/metrics"),
])
def test_default_metrics_url_follows_u(url: str, endpoint: str) -> None:
    assert Settings(model_name="x", url=url).metrics_endpoint == endpoint
    assert Settings(model_name="x", url=url, metrics_url="h:1/m").metrics_endpoint == "h:1/m"


def test_observe_flags_parse() -> None:
    s = cli.parse_args(["-m", "x", "--collect-metrics", "--metrics-url", "h:9/metrics", "--metrics-interval", "250",
                        "--verbose-csv", "--trace-level", "timestamps", "--trace-level", "TENSORS",
                        "--trace-rate", "1", "--trace-count", "10", "--log-frequency", "5", "--trace-file", "/t.json",
                        "--html-report", "r.html", "-q"])
    assert s.collect_metrics and s.verbose_csv and s.quiet and s.html_report == "r.html"
    assert (s.metrics_endpoint, s.metrics_interval_ms) == ("h:9/metrics", 250)
    assert requested(s) == {"trace_file": "/t.json", "trace_level": ["TIMESTAMPS", "TENSORS"], "trace_rate": "1",
                            "trace_count": "10", "log_frequency": "5"}


@pytest.mark.parametrize("argv, flag", [
    (["--metrics-interval", "0"], "--metrics-interval"),
    (["--trace-level", "ALL"], "--trace-level"),
    (["--trace-rate", "0"], "--trace-rate"),
    (["--trace-count", "-2"], "--trace-count"),
    (["--log-frequency", "-1"], "--log-frequency"),
    (["--html-report", "/no/such/dir/r.html"], "--html-report"),
])
def test_bad_observe_flags_are_one_line_option_errors(argv: list[str], flag: str, capsys) -> None:
    with pytest.raises(OptionError, match=re.escape(flag)):
        cli.parse_args(["-m", "x", *argv])
    assert cli.main(["-m", "x", *argv]) == OPTION_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err


def test_verbose_csv_columns_average_mode() -> None:
    text = csv_writer.render([level(metrics=True)], -1, verbose=True, metrics=True)
    head, row = text.splitlines()
    assert head.endswith("p99 latency,Avg latency,request/response,response wait,Avg GPU Utilization,"
                         "Avg GPU Power Usage,Max GPU Memory Usage,Total GPU Memory")
    assert row.endswith(",1500,1000,50,950,GPU-aaaa:0.5;GPU-bbbb:0.1;,GPU-aaaa:60;GPU-bbbb:80.5;,"
                        "GPU-aaaa:1000;GPU-bbbb:2000;,GPU-aaaa:50000;GPU-bbbb:75000;")


def test_verbose_csv_with_percentile_has_no_avg_latency_and_no_metrics_unless_collected() -> None:
    head, row = csv_writer.render([level()], 95, verbose=True).splitlines()
    assert head.endswith("p99 latency,request/response,response wait")
    assert row.endswith(",1500,50,950")
    plain = csv_writer.render([level()], -1).splitlines()[0]
    assert plain.endswith("p99 latency")


def test_html_page_embeds_table_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    csv_text = csv_writer.render([level(1, 100.0), level(2, 180.0)], -1)
    page = html.page("t", csv_text, "src", [("Batch size", "1")], ["Request concurrency: 1 <b>"])
    assert "<th>Inferences/Second <span class='unit'>(infer/sec)</span></th>" in page and "<td>180</td>" in page
    assert "Request concurrency: 1 &lt;b&gt;" in page  # text is escaped
    png = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", page).group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_command(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    src = tmp_path / "r.csv"
    src.write_text(csv_writer.render([level(1, 100.0), level(2, 180.0)], -1))
    assert cli.main(["report", str(src), "-o", str(tmp_path / "out.html")]) == 0
    assert "<table class='results'>" in (tmp_path / "out.html").read_text()
    assert cli.main(["report", str(src)]) == 0 and (tmp_path / "r.html").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert cli.main(["report", str(bad)]) != 0
    assert "not a perf_analyzer CSV" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "missing.csv")]) != 0


def test_atomic_write_gives_the_usual_file_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        out = tmp_path / "r.csv"
        csv_writer.write_atomic(str(out), "x\n")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 and out.read_text() == "x\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]  # no temp file left


class Counters:
    """The two live counters Progress reads from an engine."""

    completed = 0


def test_progress_line(tmp_path: Path) -> None:
    engine = Counters()
    clock = iter(range(0, 10**12, 500_000_000))  # each call: +0.5 s
    with (tmp_path / "tty").open("w") as stream:
        p = Progress(engine, 10, 10.0, "concurrency", clock_ns=lambda: next(clock), stream=stream)
        p.level_start(4)
        engine.completed = 200
        assert p.text().startswith("concurrency 4 | elapsed 0:01 | window 1/10 | 200 req | 400.0 infer/sec")
        p.window_done(1, 400.0, 1234)
        p.window_done(2, 420.0, 1300)
        line = p.text()
        assert "window 3/10" in line and "last p99 1300 usec" in line and "spread 5.0% of 10%" in line
        assert not wanted(False, stream)  # a file is not a terminal


def test_progress_only_on_a_terminal_without_q() -> None:
    main, other = os.openpty()
    try:
        with os.fdopen(other, "w", closefd=False) as tty:
            assert wanted(False, tty)
            assert not wanted(True, tty)
    finally:
        os.close(main)
        os.close(other)


def test_export_request_inputs_follow_perf_analyzer() -> None:
    import numpy as np
    from perfanalyzer.report.export import request_inputs

    types = {"S": "BYTES", "I": "INT32", "B": "BOOL", "F": "FP32"}
    one = {"S": np.array([[b"hello", b"x"]], dtype=object), "I": np.array([[7, 8]], dtype=np.int32),
           "B": np.array([True]), "F": np.zeros((1, 4), np.float32)}
    assert request_inputs(types, [one]) == {"S": "hello", "I": 7, "B": True, "F": None}
    # Several distinct bodies: which one a request carried is not recorded.
    assert request_inputs(types, [one, one]) == {}


def test_api_keywords_build_the_cli_settings() -> None:
    from perfanalyzer.api import settings_from
    from perfanalyzer.settings import Range, RateRange

    s = settings_from("m", concurrency=range(1, 9, 2), measurement_interval_ms=500, collect_metrics=True,
                      shapes={"IN": (3, 4)}, trace_levels=["TIMESTAMPS"])
    assert s == cli.parse_args(["-m", "m", "--concurrency-range", "1:7:2", "-p", "500", "--collect-metrics",
                                "--shape", "IN:3,4", "--trace-level", "TIMESTAMPS"])
    assert s.concurrency_range == Range(1, 7, 2)
    assert settings_from("m", concurrency=4).concurrency_range == Range(4, 4, 1)
    r = settings_from("m", request_rate=(100, 300, 100))
    assert r.load_mode == "request_rate" and r.request_rate_range == RateRange(100.0, 300.0, 100.0)
    with pytest.raises(OptionError, match="unknown setting"):
        settings_from("m", concurency=3)
    with pytest.raises(OptionError, match="Cannot specify more then one inference load mode"):
        settings_from("m", concurrency=1, request_rate=10)
    with pytest.raises(OptionError, match="-p"):
        settings_from("m", measurement_interval_ms=0)


def test_plot_export_json(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    import json

    t0 = 1_700_000_000_000_000_000
    requests = [{"timestamp": t0 + i * 1_000_000, "request_inputs": {},
                 "response_timestamps": [t0 + i * 1_000_000 + 300_000 + (i % 7) * 10_000], "response_outputs": [{}]}
                for i in range(500)]
    doc = {"experiments": [{"experiment": {"mode": "concurrency", "value": 1}, "requests": requests,
                            "window_boundaries": [t0, t0 + 250_000_000, t0 + 501_000_000]}],
           "version": "x", "service_kind": "triton", "endpoint": "v2/models/m/infer"}
    src = tmp_path / "e.json"
    src.write_text(json.dumps(doc))
    assert cli.main(["plot", str(src)]) == 0
    for name in ("e_throughput_over_time.png", "e_latency_histogram.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert cli.main(["plot", str(bad)]) != 0
    assert "not a profile export" in capsys.readouterr().err


def test_trace_flags_need_a_service_with_the_trace_extension() -> None:
    from perfanalyzer.observe import RunObservers
    from perfanalyzer.services.torchserve import TorchServeService

    service = TorchServeService("127.0.0.1:9")
    s = Settings(model_name="m", service_kind="torchserve", trace_levels=("TIMESTAMPS",))
    with pytest.raises(OptionError, match="torchserve"):
        RunObservers(s, service, Counters(), lambda: 0, show_progress=False)
    quiet = Settings(model_name="m", service_kind="torchserve")
    RunObservers(quiet, service, Counters(), lambda: 0, show_progress=False).stop()  # nothing asked, nothing done


def test_composing_model_csvs() -> None:
    from perfanalyzer.report import composing_csv

    step = {"name": "add_sub", "version": "1", "success_count": 50, "overhead": 5, "queue": 7, "compute_input": 1,
            "compute_infer": 90, "compute_output": 2, "uses_cache": 0, "cache_hit": 0, "cache_miss": 0}
    f = level(2, 200.0)
    f = LevelFigures(**{**f.__dict__, "server": {"success_count": 100, "composing": [step]}})
    (path, text), = composing_csv.files("out/r.csv", [f]).items()
    assert path == os.path.join("out", "add_sub_v1.r.csv")
    assert text.splitlines() == ["Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
                                 "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv",
                                 "2,100,0,5,7,1,90,2,0"]
    assert composing_csv.files("r.csv", [level()]) == {}  # a plain model writes no extra file
