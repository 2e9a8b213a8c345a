"""`perfanalyzer plot`: a PNG from a perf_analyzer CSV, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


# Saturated: concurrency 4 and 8 bring no more throughput than 2 (8 a little less).
SATURATED = """Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,\
Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency
1,1000,1,1,1,1,1,1,1,900,1000,1100,1200
8,1900,1,1,1,1,1,1,1,4000,4600,4800,5200
2,1950,1,1,1,1,1,1,1,1000,1100,1200,1300
4,1990,1,1,1,1,1,1,1,2000,2300,2400,2600
"""


def _figure(unstable: tuple[str, ...] = ()) -> Any:
    pytest.importorskip("matplotlib")
    import csv
    import io

    from perfanalyzer.report.plot import latency_figure

    return latency_figure("Concurrency", list(csv.DictReader(io.StringIO(SATURATED))), "t", "src", unstable)


def _points(line: Any) -> list[tuple[float, float]]:
    return list(zip(line.get_xdata(), line.get_ydata(), strict=True))


def test_unstable_levels_get_their_own_marker_and_legend_entry() -> None:
    import matplotlib.pyplot as plt
    from perfanalyzer.report.plot import UNSTABLE_LABEL

    fig = _figure(unstable=("8",))
    try:
        by_rate, by_load = fig.axes[:2]
        for ax, x in ((by_rate, 1900.0), (by_load, 8.0)):
            marked = [ln for ln in ax.get_lines() if ln.get_gid() == "unstable"]
            assert len(marked) == 1
            # exactly the unstable level's p50/p90/p99, nothing else
            assert sorted(_points(marked[0])) == [(x, 4.0), (x, 4.6), (x, 5.2)]
            ordinary = {ln.get_marker() for ln in ax.get_lines() if ln.get_gid() != "unstable"}
            assert marked[0].get_marker() not in ordinary
            assert [t.get_text() for t in ax.get_legend().get_texts()] == ["p50", "p90", "p99", UNSTABLE_LABEL]
    finally:
        plt.close(fig)


def test_no_unstable_marker_when_every_level_is_stable() -> None:
    import matplotlib.pyplot as plt

    fig = _figure()
    try:
        for ax in fig.axes[:2]:
            assert not [ln for ln in ax.get_lines() if ln.get_gid() == "unstable"]
            assert "unstable" not in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    finally:
        plt.close(fig)


def test_saturation_does_not_fold_back() -> None:
    """Against throughput no line joins the points (concurrency 8 lies left of
    2 and 4); against the load level the joined line only moves right."""
    import matplotlib.pyplot as plt

    fig = _figure()
    try:
        by_rate, by_load = fig.axes[:2]
        for ln in by_rate.get_lines():
            assert ln.get_linestyle() == "None"
        p99 = next(ln for ln in by_rate.get_lines() if ln.get_label() == "p99")
        assert _points(p99) == [(1000.0, 1.2), (1950.0, 1.3), (1990.0, 2.6), (1900.0, 5.2)]  # load order
        labels = {a.get_text() for a in by_rate.texts}
        assert labels == {"concurrency 1", "concurrency 2", "concurrency 4", "concurrency 8"}
        joined = [ln for ln in by_load.get_lines() if ln.get_linestyle() != "None"]
        assert {ln.get_label() for ln in joined} == {"p50", "p90", "p99"}
        for ln in joined:
            xs = list(ln.get_xdata())
            assert xs == sorted(xs) == [1.0, 2.0, 4.0, 8.0]
        assert by_load.get_xlabel() == "concurrency (requests in flight)"
    finally:
        plt.close(fig)
