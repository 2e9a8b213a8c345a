"""The error cases of perf_analyzer 2.40's own parser tests (its
test_command_line_parser.cc), with the text 2.40 prints: our stderr line is
"error: " + 2.40's message, and any detail of ours follows it.

Also the success cases of that file that a stricter parser could refuse
(--stability-percentage 0, --sequence-length 0, ranges, shapes, composing
models): 2.40 accepts them, so do we."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from perfanalyzer import cli
from perfanalyzer.settings import Range, RateRange

M = ["-m", "my_model"]
PERIODIC = [*M, "-i", "grpc", "--async", "--streaming", "--profile-export-file", "profile.json"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's own errors
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    assert out == ""
    return code, err


ERRORS = [
    # with no parameters; --streaming without a model
    ([], "Failed to parse -m (model name). The value must be specified."),
    (["--streaming"], "Failed to parse -m (model name). The value must be specified."),
    ([*M, "--streaming"], "Streaming is only allowed with gRPC protocol."),
    (["--streaming", *M], "Streaming is only allowed with gRPC protocol."),
    ([*M, "--sequence-length-variation", "-10"],
     "Failed to parse --sequence-length-variation. The value must be >= 0.0."),
    ([*M, "--percentile", "225"],
     "Failed to parse --percentile. The value must be -1 for not reporting or in range (0, 100)."),
    ([*M, "--sequence-id-range", "53:67:92"],
     "Failed to parse --sequence-id-range. The value does not match <start:end>."),
    ([*M, "--sequence-id-range", "BAD"], "Failed to parse --sequence-id-range. Invalid value provided: BAD"),
    ([*M, "--sequence-id-range", "53:BAD"], "Failed to parse --sequence-id-range. Invalid value provided: 53:BAD"),
    ([*M, "--input-tensor-format", "invalid"], "Failed to parse --input-tensor-format. Unsupported type provided: "
     "'invalid'. The available options are 'binary' or 'json'."),
    ([*M, "--shape", "input_name:-1,2,3"], "Failed to parse --shape. The dimensions of input tensor must be > 0."),
    ([*M, "--shape", "input_name=-1,2,3"], "Failed to parse --shape. There must be a colon after input name."),
    ([*M, "--shape", "input_name"], "Failed to parse --shape. There must be a colon after input name."),
    ([*M, "--shape", "input_name1,2,3"], "Failed to parse --shape. There must be a colon after input name."),
    ([*M, "--shape", "input_name:a,b,c"], "Failed to parse --shape. Invalid value provided: input_name:a,b,c"),
    ([*M, "--shape", "input_name:[1,2,3]"], "Failed to parse --shape. Invalid value provided: input_name:[1,2,3]"),
    ([*M, "--measurement-interval", "-200"],
     "Failed to parse --measurement-interval (-p). The value must be > 0 msec."),
    ([*M, "-p", "-200"], "Failed to parse --measurement-interval (-p). The value must be > 0 msec."),
    ([*M, "--measurement-interval", "foobar"],
     "Failed to parse --measurement-interval. Invalid value provided: foobar"),
    ([*M, "-p", "foobar"], "Failed to parse -p. Invalid value provided: foobar"),
    ([*M, "--concurrency-range", "200:100:25:10"],
     "Failed to parse --concurrency-range. The value does not match <start:end:step>."),
    ([*M, "--concurrency-range", "bad:400:10"],
     "Failed to parse --concurrency-range. Invalid value provided: bad:400:10"),
    ([*M, "--concurrency-range", "100:bad:10"],
     "Failed to parse --concurrency-range. Invalid value provided: 100:bad:10"),
    ([*M, "--concurrency-range", "100:400:bad"],
     "Failed to parse --concurrency-range. Invalid value provided: 100:400:bad"),
    ([*M, "--concurrency-range", "100:0:25", "--latency-threshold", "0"],
     "The end of the search range and the latency limit can not be both 0 (or 0.0) simultaneously"),
    ([*PERIODIC, "--periodic-concurrency-range", "100"],
     "Failed to parse --periodic-concurrency-range. Both <start> and <end> values must be provided."),
    ([*PERIODIC, "--periodic-concurrency-range", "200:100:25:10"],
     "Failed to parse --periodic-concurrency-range. The value does not match <start:end:step>."),
    ([*PERIODIC, "--periodic-concurrency-range", "bad:400:10"],
     "Failed to parse --periodic-concurrency-range. Invalid value provided: bad:400:10"),
    ([*PERIODIC, "--periodic-concurrency-range", "100:bad:10"],
     "Failed to parse --periodic-concurrency-range. Invalid value provided: 100:bad:10"),
    ([*PERIODIC, "--periodic-concurrency-range", "100:400:bad"],
     "Failed to parse --periodic-concurrency-range. Invalid value provided: 100:400:bad"),
    ([*PERIODIC, "--periodic-concurrency-range", "100:400", "--concurrency-range", "10:40"],
     "Cannot specify more then one inference load mode. Please choose only one of the following modes: "
     "--concurrency-range, --periodic-concurrency-range, --request-rate-range, or --request-intervals."),
    ([*PERIODIC[:-2], "--periodic-concurrency-range", "100:400"],
     "Must provide --profile-export-file when using the --periodic-concurrency-range option."),
    ([*PERIODIC, "--periodic-concurrency-range", "100:400:7"], "Failed to parse --periodic-concurrency-range. "
     "The <step> value must be a factor of the range size (<end> - <start>)."),
    ([*PERIODIC, "--periodic-concurrency-range", "10:400:0"],
     "Failed to parse --periodic-concurrency-range. The <step> value must be > 0."),
    ([*M, "--request-period", "-2000"], "Failed to parse --request-period. The value must be > 0"),
    ([*M, "--request-period", "0"], "Failed to parse --request-period. The value must be > 0"),
    ([*M, "-i", "grpc", "--async", "--streaming", "--request-parameter", "max_tokens:256"],
     "Failed to parse --request-parameter. The value does not match <name:value:type>."),
    ([*M, "--latency-threshold", "-2000"], "Failed to parse --latency-threshold (-l). The value must be >= 0 msecs."),
    ([*M, "--stability-percentage", "-20"], "Failed to parse --stability-percentage (-s). The value must be >= 0.0."),
    ([*M, "--max-trials", "-2000"], "Failed to parse --max-trials (-r). The value must be > 0."),
    ([*M, "--max-trials", "0"], "Failed to parse --max-trials (-r). The value must be > 0."),
    ([*M, "--collect-metrics", "--service-kind", "tfserving", "-i", "grpc"],
     "Server-side metric collection is only supported with Triton client backend."),
    ([*M, "--metrics-url", "localhost:8002/metrics"],
     "Must specify --collect-metrics when using the --metrics-url option."),
    ([*M, "--metrics-interval", "1000"], "Must specify --collect-metrics when using the --metrics-interval option."),
    ([*M, "--collect-metrics", "--metrics-interval", "0"],
     "Failed to parse --metrics-interval. The value must be > 0 msecs."),
    # VerifyOptions' other messages, for the conditions we refuse as well
    ([*M, "-b", "0"], "Failed to parse -b (batch size). The value must be > 0."),
    ([*M, "-i", "udp"], "Failed to parse -i (protocol). The value should be either HTTP or gRPC."),
    ([*M, "--concurrency-range", "0:4"], "The start of the search range must be > 0"),
    ([*M, "--request-rate-range", "0"],
     "Failed to parse --request-rate-range. The start of the search range must be > 0."),
    ([*M, "-a", "--sync"], "Cannot specify --async and --sync simultaneously."),
    ([*M, "--max-threads", "0"], "Failed to parse --max-threads. The value must be > 0."),
    ([*M, "--string-length", "0"], "Failed to parse --string-length. The value must be > 0"),
    ([*M, "--num-of-sequences", "0"], "Failed to parse --num-of-sequences. The value must be > 0."),
    ([*M, "--measurement-request-count", "0"], "Failed to parse --measurement-request-count. The value must be > 0."),
    ([*M, "--measurement-mode", "x"], "Failed to parse --measurement-mode. Unsupported type provided: 'x'. "
     "The available options are 'time_windows' or 'count_windows'."),
    ([*M, "--request-distribution", "x"], "Failed to parse --request-distribution. Unsupported type provided: 'x'."),
    ([*M, "--shared-memory", "x"],
     "Failed to parse --shared-memory. Unsupported type provided: 'x'. The available options are 'system', 'cuda', "
     "or 'none'."),
    ([*M, "--service-kind", "x"], "Failed to parse --service-kind. Unsupported type provided: 'x'. The available "
     "options are 'triton', 'tfserving', 'torchserve', or 'triton_c_api'."),
    ([*M, "-i", "grpc", "--grpc-compression-algorithm", "x"], "Failed to parse --grpc-compression-algorithm. "
     "Unsupported type provided: 'x'. The available options are 'gzip', 'deflate', or 'none'."),
    ([*M, "--grpc-compression-algorithm", "gzip"], "Using compression algorithm is only allowed with gRPC protocol."),
    ([*M, "--trace-level", "x"], "Failed to parse --trace-level. Unsupported type provided: 'X'. The available "
     "options are 'OFF', 'TIMESTAMPS', or 'TENSORS'."),
    ([*M, "--trace-count", "-2"], "Failed to parse --trace-count. The value must be >= 0 or set to -1 (default)."),
    ([*M, "--log-frequency", "-1"], "Failed to parse --log-frequency. The value must be >= 0."),
    ([*M, "--request-intervals", "no_such_file"],
     "Failed to parse --request-intervals. The value must be a valid file path"),
    ([*M, "--input-data", "no_such_file"], "Failed to parse --input-data. Unsupported type provided: 'no_such_file'. "
     "The available options are 'zero', 'random', path to a directory, or a json file."),
    ([*M, "-i", "grpc", "--ssl-grpc-root-certifications-file", "no_such_file"],
     "Failed to parse --ssl-grpc-root-certifications-file. The value must be a valid file path."),
    ([*M, "--service-kind", "triton_c_api"],
     "--model-repository should not be empty when using service-kind=triton_c_api."),
    ([*M, "--service-kind", "torchserve"],
     "--input-data should be provided with a json file with input data for torchserve"),
    ([*M, "--binary-search", "--concurrency-range", "1:0", "-l", "5"],
     "The end of the range can not be 0 (or 0.0) for binary search mode."),
    ([*M, "--binary-search", "--concurrency-range", "1:8"],
     "The --latency-threshold cannot be 0 for binary search mode."),
    ([*M, "--binary-search", "--concurrency-range", "8:1", "-l", "5"],
     "The end of the range can not be less than start of the range for binary search mode."),
]


@pytest.mark.parametrize("argv, words", ERRORS, ids=[" ".join(a[2:] or a) or "no arguments" for a, _ in ERRORS])
def test_option_errors_begin_with_perf_analyzers_words(argv: list[str], words: str, capsys, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # profile.json must not exist, no_such_file must not either
    code, err = run(argv, capsys)
    assert code == 3
    assert err.startswith(f"error: {words}"), err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    [*M, "--max-threads"], [*M, "--stability-percentage"], [*M, "--concurrency-range"],
])
def test_a_missing_value_is_an_option_error(argv: list[str], capsys) -> None:
    code, err = run(argv, capsys)
    assert code == 3 and "expected one argument" in err


def test_values_perf_analyzer_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    p = cli.parse_args
    assert p([*M, "--max-threads", "65535"]).max_threads == 65535
    assert p([*M, "--sequence-length", "2000"]).sequence_length == 2000
    assert p([*M, "--sequence-length-variation", "33.3"]).sequence_length_variation == 33.3
    assert p([*M, "--percentile", "25"]).percentile == 25
    assert p([*M, "--percentile", "-1"]).percentile == -1
    one = p([*M, "--sequence-id-range", "53"])
    assert (one.sequence_id_start, one.sequence_id_range) == (53, 2**32 - 1)
    two = p([*M, "--sequence-id-range", "53:67"])
    assert (two.sequence_id_start, two.sequence_id_range) == (53, 14)
    assert p([*M, "--input-tensor-format", "json"]).input_tensor_format == "json"
    assert p([*M, "--shape", "input_name:1,2,3", "--shape", "alpha:10,24", "--shape",
              "beta:10,200,34,15,9000"]).shape_map == {"input_name": (1, 2, 3), "alpha": (10, 24),
                                                       "beta": (10, 200, 34, 15, 9000)}
    assert p([*M, "-p", "500"]).measurement_interval_ms == 500
    assert p([*M, "--concurrency-range", "100"]).concurrency_range == Range(100, 100, 1)
    assert p([*M, "--concurrency-range", "100:400"]).concurrency_range == Range(100, 400, 1)
    assert p([*M, "--concurrency-range", "100:400:10"]).concurrency_range == Range(100, 400, 10)
    assert p([*M, "--request-rate-range", "100:400:10"]).request_rate_range == RateRange(100.0, 400.0, 10.0)
    assert p([*PERIODIC, "--periodic-concurrency-range", "100:400:10"]).periodic_concurrency_range == \
        Range(100, 400, 10)
    assert p([*M, "--request-period", "2000"]).request_period == 2000
    assert p([*M, "-i", "grpc", "--request-parameter", "max_tokens:256:int"]).request_parameter_map == \
        {"max_tokens": 256}
    assert p([*M, "--latency-threshold", "0"]).latency_threshold_ms == 0
    assert p([*M, "--stability-percentage", "80"]).stability_percentage == 80
    assert p([*M, "--stability-percentage", "29.5"]).stability_percentage == 29.5
    assert p([*M, "--max-trials", "2000"]).max_trials == 2000
    assert p([*M, "--collect-metrics", "--metrics-url", "localhost:8002/metrics", "--metrics-interval",
              "500"]).metrics_interval_ms == 500
    for text in ("a:1,b:2,c:1", "a:1, b:2, c:1", "a:1,  b:2, c:1", "a:1 ,  b:2, c:1"):
        assert p([*M, "--bls-composing-models", text]).bls_composing_models == (("a", "1"), ("b", "2"), ("c", "1"))
    for text in ("a,b,c", "a, b, c", "a,b, c", "a, b,  c"):
        assert p([*M, "--bls-composing-models", text]).bls_composing_models == (("a", ""), ("b", ""), ("c", ""))
    assert p([*M, "--bls-composing-models", "a,b:3,c"]).bls_composing_models == (("a", ""), ("b", "3"), ("c", ""))
    assert p([*M, "--bls-composing-models", "a:1,b,a:2"]).bls_composing_models == \
        (("a", "1"), ("b", ""), ("a", "2"))
    assert not os.path.exists("profile.json")


def test_stability_percentage_zero_is_accepted() -> None:
    """2.40 takes -s 0 (windows must then agree exactly); we refused it."""
    assert cli.parse_args([*M, "-s", "0"]).stability_percentage == 0


def test_sequence_length_zero_warns_and_keeps_the_default(capsys) -> None:
    s = cli.parse_args([*M, "--sequence-length", "0"])
    assert s.sequence_length is None
    assert capsys.readouterr().err == ("WARNING: The sequence length must be > 0. Perf Analyzer will use default "
                                       "value if it is measuring on sequence model.\n")
