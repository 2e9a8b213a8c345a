"""--periodic-concurrency-range and --request-period: parsing and perf_analyzer's errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from perfanalyzer.cli import main, parse_args
from perfanalyzer.settings import Range


def test_periodic_flags_parse(tmp_path: Path) -> None:
    out = str(tmp_path / "ramp.json")
    s = parse_args(["-m", "m", "--periodic-concurrency-range", "2:10:4", "--request-period", "7",
                    "--profile-export-file", out])
    assert s.load_mode == "periodic_concurrency"
    assert s.periodic_concurrency_range == Range(2, 10, 4)
    assert s.request_period == 7
    s = parse_args(["-m", "m", "--periodic-concurrency-range", "1:3", "--profile-export-file", out])
    assert (s.periodic_concurrency_range, s.request_period) == (Range(1, 3, 1), 10)


PA = "Failed to parse --periodic-concurrency-range. "


@pytest.mark.parametrize("argv, needle", [
    (["--periodic-concurrency-range", "4"], PA + "Both <start> and <end> values must be provided."),
    (["--periodic-concurrency-range", "1:2:3:4"], PA + "The value does not match <start:end:step>."),
    (["--periodic-concurrency-range", "1:x"], PA + "Invalid value provided: 1:x"),
    (["--periodic-concurrency-range", "10:400:0"], PA + "The <step> value must be > 0."),
    (["--periodic-concurrency-range", "5:4"], PA + "The <start> must be <= <end>."),
    (["--periodic-concurrency-range", "100:400:7"],
     PA + "The <step> value must be a factor of the range size (<end> - <start>)."),
    (["--periodic-concurrency-range", "0:4"], PA + "The <start> value must be > 0."),
    (["--periodic-concurrency-range", "1:4"],
     "Must provide --profile-export-file when using the --periodic-concurrency-range option."),
    (["--periodic-concurrency-range", "1:4", "--profile-export-file", "{out}", "--request-period", "0"],
     "Failed to parse --request-period. The value must be > 0"),
    (["--periodic-concurrency-range", "1:4", "--profile-export-file", "{out}", "--request-rate-range", "10"],
     "Cannot specify more then one inference load mode. Please choose only one of the following modes: "
     "--concurrency-range, --periodic-concurrency-range, --request-rate-range, or --request-intervals. "
     "(got --request-rate-range and --periodic-concurrency-range)"),
    (["--periodic-concurrency-range", "1:4", "--profile-export-file", "{out}", "--request-count", "10"],
     "--request-count can not be used with --periodic-concurrency-range"),
    (["--periodic-concurrency-range", "1:4", "--profile-export-file", "{out}", "--warmup-request-count", "5"],
     "--warmup-request-count can not be used with --periodic-concurrency-range"),
    (["--periodic-concurrency-range", "1:4", "--profile-export-file", "{out}", "--binary-search", "-l", "5"],
     "--binary-search works over --concurrency-range or --request-rate-range"),
])
def test_bad_periodic_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                              needle: str) -> None:
    argv = [a.format(out=tmp_path / "ramp.json") for a in argv]
    assert main(["-m", "m", *argv]) == 3
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err
