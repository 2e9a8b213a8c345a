"""Request-rate flags: parsing, mutual exclusion and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from perfanalyzer.cli import main, parse_args
from perfanalyzer.settings import RateRange


def test_rate_flags_parse() -> None:
    s = parse_args(["-m", "m", "--request-rate-range", "100:300:100", "--request-distribution", "poisson",
                    "--seed", "7", "--max-inflight", "4"])
    assert s.load_mode == "request_rate"
    assert s.request_rate_range.levels() == [100.0, 200.0, 300.0]
    assert (s.request_distribution, s.seed, s.max_inflight) == ("poisson", 7, 4)
    assert parse_args(["-m", "m"]).load_mode == "concurrency"


def test_fractional_rate_levels_do_not_drift() -> None:
    assert RateRange(0.1, 0.5, 0.1).levels() == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert RateRange(5.0, 0.0, 1.0).levels() is None


def test_intervals_file(tmp_path: Path) -> None:
    f = tmp_path / "intervals.txt"
    f.write_text("1000\n\n3000\n")
    s = parse_args(["-m", "m", "--request-intervals", str(f)])
    assert s.load_mode == "request_intervals"
    assert s.request_intervals_ns == (1_000_000, 3_000_000)


@pytest.mark.parametrize("argv, needle", [
    (["--concurrency-range", "2", "--request-rate-range", "10"],
     "Cannot specify more then one inference load mode."),
    (["--request-rate-range", "10", "--request-intervals", "{f}"],
     "(got --request-rate-range and --request-intervals)"),
    (["--request-rate-range", "fast"], "--request-rate-range"),
    (["--request-rate-range", "0"], "Failed to parse --request-rate-range. The start of the search range must be > 0."),
    (["--request-rate-range", "10:5"], "--request-rate-range: end (5) must be >= start (10)"),
    (["--request-rate-range", "10:0"], "can not be both 0"),
    (["--request-rate-range", "10", "--request-distribution", "gamma"], "--request-distribution"),
    (["--request-rate-range", "10", "--max-inflight", "-1"], "--max-inflight"),
    (["--request-intervals", "{missing}"], "Failed to parse --request-intervals. The value must be a valid file path"),
    (["--request-intervals", "{bad}"], ":2: 'soon' is not a number"),
    (["--request-intervals", "{zero}"], "sum to zero"),
])
def test_bad_rate_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    files = {"f": "100\n", "bad": "100\nsoon\n", "zero": "0\n0\n"}
    paths = {}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        paths[name] = str(tmp_path / name)
    paths["missing"] = str(tmp_path / "missing.txt")
    args = ["-m", "m", *(a.format(**paths) for a in argv)]
    assert main(args) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


@pytest.mark.parametrize("argv, words", [
    (["--binary-search", "--concurrency-range", "1:8"], "The --latency-threshold cannot be 0 for binary search mode."),
    (["--binary-search", "--concurrency-range", "1:0", "-l", "5"],
     "The end of the range can not be 0 (or 0.0) for binary search mode."),
    (["--binary-search", "--request-rate-range", "100:50", "-l", "5"],
     "The end of the range can not be less than start of the range for binary search mode."),
])
def test_binary_search_needs_end_and_limit(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    """perf_analyzer 2.40's three messages, one per missing piece."""
    assert main(["-m", "m", *argv]) == 3
    assert capsys.readouterr().err == f"error: {words}\n"


def test_delayed_warning_only_above_one_percent() -> None:
    from perfanalyzer.report.console import delayed_warning, open_loop_lines
    from perfanalyzer.report.figures import OpenLoopFigures

    def figs(delayed: int) -> OpenLoopFigures:
        return OpenLoopFigures({50: 900, 99: 4000}, 12, 1500, delayed, 1000, 3, 987.5)

    assert delayed_warning(figs(10)) is None  # exactly 1 %
    warning = delayed_warning(figs(11))
    assert warning == ("[WARNING] Perf Analyzer was not able to keep up with the desired request rate. "
                       "1.10% of the requests were delayed. ")
    lines = open_loop_lines(figs(11))
    assert lines[0] == "    Response latency from schedule: p50 900 usec, p99 4000 usec"
    assert "11 of 1000 requests sent more than 1 ms late" in lines[1]
    assert lines[2] == "    Postponed by --max-inflight: 3 requests"
