"""Signals at every moment of a run: each ends with exit code 99, one line on
stderr and no traceback, with every level measured written and nothing left
in /dev/shm; a closed stdout does not lose the files either."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from triton_launcher import TritonServer

from .fault_runs import Cli, csv_levels, export_levels, http_get, one_error_line, own_server, shm_leftovers

SWEEP = ("-m", "identity", "--concurrency-range", "1:50", "-p", "300", "-s", "100", "-r", "20")


def registered_regions(server: TritonServer) -> list[str]:
    return [r["name"] for r in json.loads(http_get(f"http://{server.http_url}/v2/systemsharedmemory/status"))]


def test_sigterm_just_after_the_last_level_writes_everything(triton: TritonServer, tmp_path: Path) -> None:
    out_csv, export, summary = tmp_path / "run.csv", tmp_path / "run.json", tmp_path / "summary.json"
    run = Cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:2", "-p", "500", "-s", "100",
              "-r", "20", "-f", str(out_csv), "--profile-export-file", str(export), "--json", str(summary))
    run.wait_for("Avg request latency", count=2)  # the last level is reported: the run is finishing
    run.signal(signal.SIGTERM)
    code, _, stderr = run.finish()
    assert code == 99, stderr
    assert "SIGTERM" in one_error_line(stderr)
    assert sorted(csv_levels(out_csv)) == ["1", "2"]
    assert export_levels(export) == [1, 2]
    doc = json.loads(summary.read_text())
    assert [lv["value"] for lv in doc["levels"]] == [1, 2] and doc["exit_code"] == 99


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
def test_hangup_and_quit_clean_up_shared_memory(triton: TritonServer, tmp_path: Path, sig: int) -> None:
    out_csv = tmp_path / "run.csv"
    run = Cli(*SWEEP, "-u", triton.http_url, "--shared-memory", "system", "-f", str(out_csv))
    run.wait_for("Avg request latency")
    run.signal(sig)
    code, _, stderr = run.finish()
    assert code == 99, stderr
    assert "interrupted" in one_error_line(stderr)
    assert csv_levels(out_csv)[:1] == ["1"]
    assert shm_leftovers(run.proc.pid) == []
    assert not [r for r in registered_regions(triton) if r.startswith(f"perfanalyzer_{run.proc.pid}_")]


def test_second_signal_is_handled_cleanly(triton: TritonServer, tmp_path: Path) -> None:
    out_csv = tmp_path / "run.csv"
    run = Cli(*SWEEP, "-u", triton.http_url, "--shared-memory", "system", "-f", str(out_csv))
    run.wait_for("Avg request latency")
    run.signal(signal.SIGINT)
    time.sleep(0.02)
    run.signal(signal.SIGINT)
    run.signal(signal.SIGTERM)
    code, _, stderr = run.finish()
    assert code == 99, stderr
    assert "interrupted" in one_error_line(stderr)
    assert csv_levels(out_csv)[:1] == ["1"]
    assert shm_leftovers(run.proc.pid) == []


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has its SIGTERM handler in place yet."""
    with open(f"/proc/{pid}/status") as fh:
        caught = next(int(line.split()[1], 16) for line in fh if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_sigint_while_starting(triton: TritonServer, tmp_path: Path, delay: float) -> None:
    """From the moment the handlers are in (the first thing the command does):
    loading the package, parsing the flags, contacting the server."""
    run = Cli(*SWEEP, "-u", triton.http_url, "-f", str(tmp_path / "run.csv"))
    deadline = time.monotonic() + 30
    while not _catches_sigterm(run.proc.pid):
        assert time.monotonic() < deadline, "no SIGTERM handler after 30 s"
        time.sleep(0.001)
    time.sleep(delay)
    run.signal(signal.SIGINT)
    code, _, stderr = run.finish()
    assert code == 99, stderr
    assert "interrupted" in one_error_line(stderr)


def test_stdout_closed_by_its_reader(triton: TritonServer, tmp_path: Path) -> None:
    """`perfanalyzer ... | head -1`: the report stops, the run and its files do not."""
    out_csv = tmp_path / "run.csv"
    proc = subprocess.Popen([sys.executable, "-m", "perfanalyzer", "-m", "identity", "-u", triton.http_url,
                             "--concurrency-range", "1:2", "-p", "200", "-s", "100", "-r", "20",
                             "-f", str(out_csv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    try:
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, stderr
    assert stderr == ""
    assert sorted(csv_levels(out_csv)) == ["1", "2"]


@pytest.fixture
def freezable_triton(model_repository: Path) -> Iterator[TritonServer]:
    """A server of each test's own: tests freeze it with SIGSTOP, and Triton's
    Python backend may abort after a freeze (a timed interprocess lock throws
    boost::interprocess::lock_exception), so no second test may inherit it."""
    yield from own_server(model_repository)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_ctrl_c_while_the_server_is_hung(freezable_triton: TritonServer, tmp_path: Path, protocol: str) -> None:
    """The statistics read waits on a frozen server: Ctrl-C ends the run in
    seconds (it took three 30 s timeouts), with the levels written and the
    local shared memory released."""
    out_csv = tmp_path / "run.csv"
    url = freezable_triton.grpc_url if protocol == "grpc" else freezable_triton.http_url
    run = Cli(*SWEEP, "-i", protocol, "-u", url, "--shared-memory", "system", "-f", str(out_csv))
    run.wait_for("Avg request latency", count=2)
    os.killpg(freezable_triton.pid, signal.SIGSTOP)
    try:
        time.sleep(1.5)  # the window ends and the statistics read hangs
        run.signal(signal.SIGINT)
        interrupted_at = time.monotonic()
        code, _, stderr = run.finish(timeout=120)
        took = time.monotonic() - interrupted_at
    finally:
        os.killpg(freezable_triton.pid, signal.SIGCONT)
    assert code == 99, stderr
    assert "interrupted" in one_error_line(stderr)
    assert took < 15, took
    assert sorted(csv_levels(out_csv))[:2] == ["1", "2"]
    assert shm_leftovers(run.proc.pid) == []
