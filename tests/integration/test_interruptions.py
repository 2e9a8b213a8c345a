"""Nothing is lost: a server dying mid-run or a SIGTERM still reports and
writes the levels already measured."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

from triton_launcher import TritonServer


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "perfanalyzer", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen[str], needle: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"'{needle}' never printed:\n{''.join(seen)}")


def finish(proc: subprocess.Popen[str], seen: list[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, "".join(seen) + out, err


def test_server_dies_mid_run(model_repository: Path, tmp_path: Path) -> None:
    out_csv, export, page = tmp_path / "partial.csv", tmp_path / "partial.json", tmp_path / "partial.html"
    out_json = tmp_path / "summary.json"
    with TritonServer(model_repository) as server:
        proc = start_cli("-m", "identity", "-u", server.http_url, "--concurrency-range", "1:50",
                         "-p", "300", "-s", "100", "-r", "20", "-f", str(out_csv), "--request-timeout", "5000",
                         "--profile-export-file", str(export), "--html-report", str(page), "--json", str(out_json))
        seen: list[str] = []
        wait_for_line(proc, "Avg request latency", seen)  # level 1 fully reported
        server.stop()
        code, stdout, stderr = finish(proc, seen)
    assert code == 99, stderr
    assert "requests failed" in stderr
    assert "Traceback" not in stderr
    assert "Inferences/Second vs. Client Average Batch Latency" in stdout
    rows = list(csv.reader(out_csv.open()))
    assert rows[0][0] == "Concurrency" and len(rows) >= 2
    # Every file asked for holds the levels measured before the server died.
    experiments = json.loads(export.read_text())["experiments"]
    assert experiments[0]["experiment"] == {"mode": "concurrency", "value": 1} and experiments[0]["requests"]
    assert "<td>1</td>" in page.read_text()
    doc = json.loads(out_json.read_text())
    assert (doc["status"], doc["exit_code"]) == ("errors", 99) and "requests failed" in doc["message"]
    assert doc["levels"][0]["value"] == 1 and doc["levels"][0]["request_count"] > 0


def test_sigterm_reports_measured_levels(triton, tmp_path: Path) -> None:
    out_csv = tmp_path / "partial.csv"
    proc = start_cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:50",
                     "-p", "300", "-s", "100", "-r", "20", "-f", str(out_csv))
    seen: list[str] = []
    wait_for_line(proc, "Avg request latency", seen)
    threading.Timer(0.2, proc.send_signal, args=(signal.SIGTERM,)).start()
    code, stdout, stderr = finish(proc, seen)
    assert code == 99, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "Concurrency: 1, throughput:" in stdout
    rows = list(csv.reader(out_csv.open()))
    assert [r[0] for r in rows[1:]].count("1") == 1
