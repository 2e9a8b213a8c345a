"""perf_analyzer's deprecated spellings: -t, -c, -d, -z, --data-directory,
with the meaning perf_analyzer 2.40 gives them and one note each on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from perfanalyzer import cli
from perfanalyzer.settings import Range

M = ["-m", "my_model"]


def parse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[object, list[str]]:
    s = cli.parse_args([*M, *argv])
    out, err = capsys.readouterr()
    assert out == ""
    return s, err.splitlines()


@pytest.mark.parametrize("argv, expected", [
    (["-t", "5"], Range(5, 5, 1)),          # the QA suite's `-t5`: one level, concurrency 5
    (["-t5"], Range(5, 5, 1)),
    (["-t", "1", "-p2000"], Range(1, 1, 1)),
    (["-d", "-c", "8"], Range(1, 8, 1)),    # a sweep from the default start 1
    (["-d", "-t", "2", "-c", "6"], Range(2, 6, 1)),
    (["-d", "-t", "6", "-c", "2"], Range(6, 6, 1)),  # 2.40 measures the start once and stops
    (["-d", "-t", "3", "-l", "50"], Range(3, 0, 1)),  # no -c: until the latency limit
    (["-c", "8"], Range(1, 1, 1)),          # -c without -d changes nothing in 2.40
])
def test_concurrency_spellings(argv: list[str], expected: Range, capsys) -> None:
    s, err = parse(argv, capsys)
    assert s.concurrency_range == expected
    assert s.load_mode == "concurrency"
    flags = sorted(a[:2] for a in argv if a[:2] in ("-t", "-c", "-d"))
    assert sorted(line.split()[1] for line in err) == flags
    assert all(" is a DEPRECATED option; it means --concurrency-range " in line for line in err)


def test_t_note_names_the_current_spelling(capsys) -> None:
    _, err = parse(["-t", "5"], capsys)
    assert err == ["WARNING: -t is a DEPRECATED option; it means --concurrency-range 5"]


def test_dynamic_without_end_needs_a_latency_limit(capsys) -> None:
    assert cli.main([*M, "-d", "-t", "2"]) == 3
    err = capsys.readouterr().err
    assert err.endswith("error: The end of the search range and the latency limit can not be both 0 (or 0.0) "
                        "simultaneously\n")


@pytest.mark.parametrize("argv, words", [
    (["-t", "2", "--concurrency-range", "1:4"], "Cannot use deprecated options with --concurrency-range."),
    (["-d", "-c", "4", "--request-rate-range", "10"], "Cannot use concurrency options with --request-rate-range."),
    (["-t", "2", "--request-intervals", "intervals.txt"], "Cannot use deprecated options with --request-intervals."),
    (["-t", "0"], "The start of the search range must be > 0"),
    (["-t", "-3"], "The start of the search range must be > 0"),
    (["-t", "x"], "Failed to parse -t. Invalid value provided: x"),
    (["-z", "--input-data", "data.json"], "The -z flag cannot be set when --data-directory is provided."),
    (["--input-data", "zero", "--input-data", "data.json"],
     "The -z flag cannot be set when --data-directory is provided."),
    (["-z", "--data-directory", "dir"], "The -z flag cannot be set when --data-directory is provided."),
])
def test_combinations_perf_analyzer_refuses(argv: list[str], words: str, capsys, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "intervals.txt").write_text("1000\n")
    (tmp_path / "data.json").write_text('{"data": [{}]}')
    (tmp_path / "dir").mkdir()
    try:
        code = cli.main([*M, *argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 3
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"error: {words}"), err


def test_periodic_mode_ignores_t(capsys, tmp_path: Path) -> None:
    s, _ = parse(["-t", "3", "-i", "grpc", "--streaming", "--periodic-concurrency-range", "1:4",
                  "--profile-export-file", str(tmp_path / "p.json")], capsys)
    assert s.load_mode == "periodic_concurrency" and s.periodic_concurrency_range == Range(1, 4, 1)


def test_z_is_zero_input(capsys) -> None:
    s, err = parse(["-z"], capsys)
    assert s.input_data == "zero" and s.input_data_paths == ()
    assert err == ["WARNING: -z is a DEPRECATED option; it means --input-data zero"]


def test_data_directory_is_input_data(capsys, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b.json"
    a.mkdir()
    s, err = parse(["--data-directory", str(a)], capsys)
    assert s.input_data_paths == (str(a),)
    assert err == ["WARNING: --data-directory is a DEPRECATED option; it means --input-data DIR"]
    b.write_text('{"data": [{}]}')
    s, _ = parse(["--input-data", str(b), "--data-directory", str(b)], capsys)
    assert s.input_data_paths == (str(b), str(b))


def test_help_lists_them(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("-t", "-c", "-d", "-z", "--data-directory"):
        assert f"  {flag} " in out
