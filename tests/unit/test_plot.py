"""`perfanalyzer plot`: a PNG from a perf_analyzer CSV, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from perfanalyzer.cli import main

CSV = """Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,\
Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency
2,3536.23,62,205,66,12,184,28,7,530,818,913,1089
1,4603.42,33,79,11,9,56,24,4,191,285,329,495
"""


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "run.csv"
    src.write_text(CSV)
    assert main(["plot", str(src), "-o", str(tmp_path / "plots")]) == 0
    png = tmp_path / "plots" / "run_latency_vs_throughput.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(png) in capsys.readouterr().out


@pytest.mark.parametrize("content, needle", [
    ("", "no result rows"),
    ("a,b\n1,2\n", "not a perf_analyzer CSV"),
    (CSV.replace("3536.23", "fast"), "malformed number"),
])
def test_plot_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(content)
    assert main(["plot", str(src)]) == 99
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "bad.csv" in err[0]


def test_plot_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path / "nope.csv")]) == 99
    assert "nope.csv" in capsys.readouterr().err
