"""The server fails mid-sweep, for real: Triton SIGKILLed or SIGSTOPped, or its
statistics endpoint answering 500, closing or hanging. In every case the
levels measured before are written to -f, the profile export and the HTML
report, then one line on stderr and exit code 99."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from triton_launcher import TritonServer

from .fault_runs import Cli, StatsProxy, csv_levels, export_levels, one_error_line, own_server, shm_leftovers

# A sweep that goes on long after level 2: the fault always lands inside it.
SWEEP = ("-m", "identity", "--concurrency-range", "1:50", "-p", "300", "-s", "100", "-r", "20")


@pytest.fixture
def own_triton(model_repository: Path) -> Iterator[TritonServer]:
    """A server of this test alone, as it gets killed or stopped."""
    yield from own_server(model_repository)


def outputs(tmp_path: Path) -> tuple[Path, Path, Path, tuple[str, ...]]:
    out_csv, export, page = tmp_path / "run.csv", tmp_path / "run.json", tmp_path / "run.html"
    return out_csv, export, page, ("-f", str(out_csv), "--profile-export-file", str(export),
                                   "--html-report", str(page))


def assert_two_levels_kept(out_csv: Path, export: Path, page: Path) -> None:
    assert csv_levels(out_csv)[:2] == ["1", "2"] or sorted(csv_levels(out_csv))[:2] == ["1", "2"]
    assert export_levels(export)[:2] == [1, 2]
    assert "<td>2</td>" in page.read_text()


def test_sigkill_of_the_server_keeps_the_levels_measured(own_triton: TritonServer, tmp_path: Path) -> None:
    out_csv, export, page, files = outputs(tmp_path)
    run = Cli(*SWEEP, "-u", own_triton.http_url, "--shared-memory", "system", *files)
    run.wait_for("Avg request latency", count=2)
    os.killpg(own_triton.pid, signal.SIGKILL)
    code, stdout, stderr = run.finish()
    assert code == 99, stderr
    line = one_error_line(stderr)
    # Whichever noticed first: the requests in flight, or the statistics read at a window's end.
    assert "requests failed" in line or "reading statistics failed" in line, line
    assert "Concurrency: 2, throughput:" in stdout
    assert_two_levels_kept(out_csv, export, page)
    assert shm_leftovers(run.proc.pid) == []


def test_sigstop_past_the_control_plane_timeout(own_triton: TritonServer, tmp_path: Path) -> None:
    """A frozen server answers nothing: the statistics read times out (30 s),
    the run ends with what it had, and the clean-up does not wait 30 s more
    per call."""
    out_csv, export, page, files = outputs(tmp_path)
    run = Cli(*SWEEP, "-u", own_triton.http_url, "--shared-memory", "system", *files)
    run.wait_for("Avg request latency", count=2)
    os.killpg(own_triton.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    code, stdout, stderr = run.finish(timeout=120)
    took = time.monotonic() - stopped_at
    assert code == 99, stderr
    line = one_error_line(stderr)
    assert "reading statistics failed" in line
    assert_two_levels_kept(out_csv, export, page)
    assert shm_leftovers(run.proc.pid) == []
    # 30 s for the read that found the server frozen, then the bounded clean-up (not 2 more 30 s timeouts).
    assert took < 30 + 20, took


@pytest.mark.parametrize("fail", ["500", "close", "hang"])
def test_statistics_endpoint_failing(triton: TritonServer, tmp_path: Path, fail: str) -> None:
    proxy = StatsProxy(triton.http_url)
    try:
        out_csv, export, page, files = outputs(tmp_path)
        run = Cli(*SWEEP, "-u", proxy.url, *files)
        run.wait_for("Avg request latency", count=2)
        proxy.fail = fail
        code, stdout, stderr = run.finish(timeout=120)
    finally:
        proxy.close()
    assert code == 99, stderr
    line = one_error_line(stderr)
    assert "reading statistics failed" in line
    assert_two_levels_kept(out_csv, export, page)


def test_server_restarted_mid_sweep(triton: TritonServer, own_triton: TritonServer, tmp_path: Path) -> None:
    """The address the run measures leads, from one moment, to a fresh server
    (connections dropped, statistics counters from zero): the run ends with
    the levels measured before, not with a negative server breakdown."""
    proxy = StatsProxy(triton.http_url)
    try:
        out_csv, export, page, files = outputs(tmp_path)
        run = Cli(*SWEEP, "-u", proxy.url, *files)
        run.wait_for("Avg request latency", count=2)
        proxy.switch(own_triton.http_url)  # fresh: its counters are below what levels 1-2 alone added
        code, _, stderr = run.finish(timeout=120)
    finally:
        proxy.close()
    assert code == 99, stderr
    line = one_error_line(stderr)
    assert "restarted" in line or "requests failed" in line, line
    assert_two_levels_kept(out_csv, export, page)
