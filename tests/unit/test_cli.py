"""perf_analyzer's command line: flags into Settings, defaults, option errors."""

from __future__ import annotations

import importlib.metadata
import os
import re
import socket
import subprocess
import sys

import perfanalyzer
import pytest
from perfanalyzer import cli
from perfanalyzer.errors import OPTION_ERROR, OptionError
from perfanalyzer.flag_values import parse_range, parse_shape
from perfanalyzer.settings import Range, Settings

PERF_ANALYZER_ZERO_END = (
    "The end of the search range and the latency limit can not be both 0 (or 0.0) simultaneously"
)


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """cli.main in-process; argparse errors surface as SystemExit, like the console script."""
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- parsing


def test_defaults_match_perf_analyzer():
    s = cli.parse_args(["-m", "simple"])
    assert s == Settings(model_name="simple")
    assert s.batch_size == 1
    assert s.measurement_interval_ms == 5000
    assert s.concurrency_range == Range(1, 1, 1)
    assert s.concurrency_range.levels() == [1]
    assert s.latency_threshold_ms == 0
    assert s.measurement_mode == "time_windows"
    assert s.measurement_request_count == 50
    assert s.stability_percentage == 10.0
    assert s.max_trials == 10
    assert s.percentile == -1
    assert s.max_threads is None  # one engine thread unless asked
    assert s.protocol == "http"
    assert s.server_url == "localhost:8000"
    assert s.async_mode is False
    assert s.verbose is False
    assert s.filename is None
    assert s.http_headers == () and s.shapes == ()
    assert s.input_data == "random"
    assert s.model_version == ""
    assert s.request_timeout_ms == 0
    assert s.stabilizing_label == "average latency"


def test_every_flag_parses_into_settings():
    s = cli.parse_args([
        "-m", "resnet", "-x", "3", "-u", "http://10.0.0.1:9000", "-i", "HTTP",
        "-H", "Authorization: Bearer x", "-H", "X-Trace:1",
        "-b", "8", "--shape", "INPUT0:3,224,224", "--shape", "ns:tok:16", "--input-data", "zero",
        "--concurrency-range", "2:16:2", "-l", "50", "-p", "1500",
        "--measurement-mode", "count_windows", "--measurement-request-count", "200",
        "-s", "5.5", "-r", "20", "--percentile", "95", "-f", "out.csv", "-v", "-a",
        "--max-threads", "4", "--request-timeout", "2500",
    ])
    assert s == Settings(
        model_name="resnet", model_version="3", url="http://10.0.0.1:9000", protocol="http",
        http_headers=("Authorization: Bearer x", "X-Trace:1"), batch_size=8,
        shapes=(("INPUT0", (3, 224, 224)), ("ns:tok", (16,))), input_data="zero",
        concurrency_range=Range(2, 16, 2), load_modes=("concurrency",), latency_threshold_ms=50,
        measurement_interval_ms=1500,
        measurement_mode="count_windows", measurement_request_count=200, stability_percentage=5.5,
        max_trials=20, percentile=95, filename="out.csv", verbose=True, async_mode=True, max_threads=4,
        request_timeout_ms=2500,
    )
    assert s.server_url == "http://10.0.0.1:9000"
    assert s.shape_map == {"INPUT0": (3, 224, 224), "ns:tok": (16,)}
    assert s.stabilizing_label == "p95 latency"
    assert s.concurrency_range.levels() == [2, 4, 6, 8, 10, 12, 14, 16]


def test_long_spellings():
    s = cli.parse_args([
        "-m", "m", "--protocol", "http", "--batch-size", "2", "--latency-threshold", "7",
        "--measurement-interval", "100", "--stability-percentage", "20", "--max-trials", "3",
        "--async",
    ])
    assert (s.batch_size, s.latency_threshold_ms, s.measurement_interval_ms) == (2, 7, 100)
    assert (s.stability_percentage, s.max_trials, s.async_mode) == (20.0, 3, True)
    assert cli.parse_args(["-m", "m", "--sync"]).async_mode is False


@pytest.mark.parametrize("text, expected", [
    ("4", Range(4, 4, 1)),
    ("1:8", Range(1, 8, 1)),
    ("1:8:3", Range(1, 8, 3)),
    ("3:0", Range(3, 0, 1)),
])
def test_parse_range(text, expected):
    assert parse_range("--concurrency-range", text) == expected


def test_open_ended_range_needs_a_latency_limit():
    s = cli.parse_args(["-m", "m", "--concurrency-range", "1:0:2", "-l", "10"])
    assert s.concurrency_range == Range(1, 0, 2)
    assert s.concurrency_range.levels() is None
    assert Range(1, 8, 3).levels() == [1, 4, 7]


@pytest.mark.parametrize("text, expected", [
    ("IN:1,2,3", ("IN", (1, 2, 3))),
    ("x:7", ("x", (7,))),
    ("a:b:4,5", ("a:b", (4, 5))),
])
def test_parse_shape(text, expected):
    assert parse_shape(text) == expected


# ---------------------------------------------------------------- option errors: exit 3, one line


BAD = [
    (["-m", "m", "--bogus"], "--bogus"),
    (["-m", "m", "--concurrency-range", "1:x"], "--concurrency-range"),
    (["-m", "m", "--concurrency-range", "1:2:3:4"], "--concurrency-range"),
    (["-m", "m", "--concurrency-range", "1::2"], "--concurrency-range"),
    (["-m", "m", "--concurrency-range", ""], "--concurrency-range"),
    (["-m", "m", "--concurrency-range", "8:2"], "--concurrency-range"),
    (["-m", "m", "--concurrency-range", "0:4"], "--concurrency-range"),
    (["-m", "m", "--concurrency-range", "1:4:0"], "--concurrency-range"),
    (["-m", "m", "-b", "0"], "-b"),
    (["-m", "m", "-b", "-3"], "-b"),
    (["-m", "m", "-b", "two"], "-b"),
    (["-m", "m", "--percentile", "100"], "--percentile"),
    (["-m", "m", "--percentile", "0"], "--percentile"),
    (["-m", "m", "--shape", "INPUT0"], "--shape"),
    (["-m", "m", "--shape", "INPUT0:3,x"], "--shape"),
    (["-m", "m", "--shape", "INPUT0:3,0"], "--shape"),
    (["-m", "m", "--shape", ":3"], "--shape"),
    (["-m", "m", "--measurement-mode", "bogus_windows"], "--measurement-mode"),
    (["-m", "m", "--measurement-request-count", "0"], "--measurement-request-count"),
    (["-m", "m", "-H", "NoColonHere"], "-H"),
    (["-m", "m", "-p", "0"], "-p"),
    (["-m", "m", "-s", "-1"], "-s"),
    (["-m", "m", "-r", "0"], "-r"),
    (["-m", "m", "-l", "-1"], "-l"),
    (["-m", "m", "--max-threads", "0"], "--max-threads"),
    (["-m", "m", "-i", "tfserving"], "-i"),
    (["-m", "m", "-i", "grpc", "--grpc-channels", "0"], "--grpc-channels"),
    (["-m", "m", "-i", "grpc", "--grpc-compression-algorithm", "lz4"], "--grpc-compression-algorithm"),
    (["-m", "m", "-i", "grpc", "-u", "http://localhost:8001"], "-u"),
    (["-m", "m", "-i", "grpc", "-H", "A: b"], "-H"),
    (["-m", "m", "-i", "grpc", "--input-tensor-format", "json"], "--input-tensor-format"),
    (["-m", "m", "--streaming"], "--streaming"),
    (["-m", "m", "-i", "grpc", "--streaming", "--request-timeout", "100"], "--request-timeout"),
    (["-m", "m", "--input-data", "file.json"], "--input-data"),
    (["-m", "m", "-a", "--sync"], "--sync"),
    (["-b", "2"], "-m"),
]


@pytest.mark.parametrize("argv, flag", BAD, ids=[" ".join(a[2:] or a) for a, _ in BAD])
def test_bad_options_exit_3_with_one_line(argv, flag, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == OPTION_ERROR == 3
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", err), f"{flag} not named in {err!r}"
    assert "Traceback" not in err


def test_zero_end_without_latency_limit_is_perf_analyzers_message(capsys):
    code, out, err = run_main(["-m", "m", "--concurrency-range", "1:0"], capsys)
    assert code == 3
    assert err == f"error: {PERF_ANALYZER_ZERO_END}\n"
    with pytest.raises(OptionError) as e:
        cli.parse_args(["-m", "m", "--concurrency-range", "4:0:2"])
    assert str(e.value) == PERF_ANALYZER_ZERO_END
    assert e.value.exit_code == 3


def test_settings_validate_is_the_one_rule():
    with pytest.raises(OptionError, match="-m"):
        Settings(model_name="").validate()
    with pytest.raises(OptionError, match="-b"):
        Settings(model_name="m", batch_size=0).validate()
    assert Settings(model_name="m", percentile=1).validate().percentile == 1
    assert Settings(model_name="m", percentile=99).validate().percentile == 99


def test_version(capsys):
    code, out, err = run_main(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"perfanalyzer {perfanalyzer.__version__}"
    assert perfanalyzer.__version__ == importlib.metadata.version("perfanalyzer")


def test_parsing_a_run_does_not_look_up_the_version():
    # importlib.metadata is tens of ms of start-up CPU: only --version pays it.
    code = ("import sys\nfrom perfanalyzer.cli import build_parser\n"
            "build_parser().parse_args(['-m', 'm', '-i', 'grpc'])\n"
            "print('importlib.metadata' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "False"


def test_help_mentions_the_differences(capsys):
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0
    assert "--concurrency-range" in out and "perf_analyzer" in out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_python_dash_m_version():
    p = subprocess.run([sys.executable, "-m", "perfanalyzer", "--version"], capture_output=True, text=True,
                       timeout=60, env=_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"perfanalyzer {perfanalyzer.__version__}"


def test_python_dash_m_bad_flag_exits_3():
    p = subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "m", "-b", "0"], capture_output=True,
                       text=True, timeout=60, env=_env())
    assert p.returncode == 3
    assert p.stderr.count("\n") == 1 and "-b" in p.stderr


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("form", ["{host}", "http://{host}/"])
def test_unreachable_server_exits_99_with_one_line(form):
    host = f"127.0.0.1:{closed_port()}"
    p = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "simple", "-u", form.format(host=host), "-p", "200"],
        capture_output=True, text=True, timeout=120, env=_env(),
    )
    assert p.returncode == 99, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("error: ")
    assert host in p.stderr


def test_http_client_flag() -> None:
    from perfanalyzer.cli import parse_args

    assert parse_args(["-m", "m"]).http_client == "auto"
    assert parse_args(["-m", "m", "--http-client", "curl"]).http_client == "curl"


@pytest.mark.parametrize("argv, needle", [
    (["-m", "m", "--http-client", "wget"], "--http-client"),
    (["-m", "m", "-u", "https://h:1", "--http-client", "native"], "--http-client native"),
])
def test_http_client_flag_errors(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    from perfanalyzer.cli import main

    assert main(argv) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
