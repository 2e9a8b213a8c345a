"""A server that stops answering inference requests: count-based runs
(--request-count, count windows) end on the first failed or timed-out request,
as time windows do, with one stderr line and exit code 99; none hangs.

The first server is a real socket on 127.0.0.1 that answers Triton's control
plane and reads every inference request without ever answering it; the second
is the real Triton, SIGSTOPped in the middle of the run. Every run is bounded
by a subprocess timeout, far above what a run that ends needs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import urlopen

import pytest

from .fault_runs import own_server
from .helpers import cli

BOUND_S = 90.0  # a run that ends takes seconds; before the fix these never ended

META = {"name": "m", "versions": ["1"], "platform": "python",
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, 4]}]}
CONFIG = {"name": "m", "max_batch_size": 8,
          "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [4]}],
          "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [4]}]}
STATS = {"model_stats": [{"name": "m", "version": "1", "inference_count": 0, "execution_count": 0,
                          "inference_stats": {}}]}


class SilentInfer(BaseHTTPRequestHandler):
    """Answers health, metadata, config and statistics; holds every infer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, doc: dict) -> None:
        data = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/v2/health"):
            self._json({})
        elif self.path.endswith("/config"):
            self._json(CONFIG)
        elif self.path.endswith("/stats"):
            self._json(STATS)
        else:
            self._json(META)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.infers += 1
        self.server.release.wait(BOUND_S)  # never answered while the test runs
        self.close_connection = True


@pytest.fixture
def silent_server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), SilentInfer)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.release = threading.Event()
    srv.infers = 0
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def assert_one_error_line(stderr: str, *needles: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for n in needles:
        assert n in lines[0], stderr


@pytest.mark.parametrize("client", ["native", "curl"])
@pytest.mark.parametrize("load", [["--concurrency-range", "2"], ["--request-rate-range", "200"]])
def test_request_count_ends_at_the_first_timeout(silent_server: ThreadingHTTPServer, client: str,
                                                  load: list[str]) -> None:
    # 10^6 requests of 200 ms each: before the fix the run went on for days.
    url = f"127.0.0.1:{silent_server.server_port}"
    run = cli("-m", "m", "-u", url, "--http-client", client, "--request-count", "1000000",
              "--request-timeout", "200", *load, timeout=BOUND_S)
    assert run.code == 99, run.stderr
    assert_one_error_line(run.stderr, "requests failed", "timed out")
    assert silent_server.infers < 1000


@pytest.mark.parametrize("client", ["native", "curl"])
def test_warm_up_ends_at_the_first_timeout(silent_server: ThreadingHTTPServer, client: str) -> None:
    url = f"127.0.0.1:{silent_server.server_port}"
    run = cli("-m", "m", "-u", url, "--http-client", client, "--warmup-request-count", "1000000",
              "--request-count", "10", "--request-timeout", "200", timeout=BOUND_S)
    assert run.code == 99, run.stderr
    assert_one_error_line(run.stderr, "requests failed", "timed out")


@pytest.mark.parametrize("client", ["native", "curl"])
def test_count_windows_end_at_the_first_timeout(silent_server: ThreadingHTTPServer, client: str) -> None:
    url = f"127.0.0.1:{silent_server.server_port}"
    run = cli("-m", "m", "-u", url, "--http-client", client, "--measurement-mode", "count_windows",
              "--measurement-request-count", "1000000", "--request-timeout", "200", timeout=BOUND_S)
    assert run.code == 99, run.stderr
    assert_one_error_line(run.stderr, "requests failed", "timed out")


def test_count_windows_without_a_timeout_end_when_nothing_comes_back(silent_server: ThreadingHTTPServer) -> None:
    # No request ever fails here: what ends the run is 30 s without an answer.
    url = f"127.0.0.1:{silent_server.server_port}"
    run = cli("-m", "m", "-u", url, "--measurement-mode", "count_windows", timeout=BOUND_S)
    assert run.code == 99, run.stderr
    assert_one_error_line(run.stderr, "no request completed or failed in 30 s", "--request-timeout")


PA = [sys.executable, "-m", "perfanalyzer"]


@pytest.fixture
def stoppable_triton(model_repository: Path) -> Iterator:
    """A Triton of this test alone: a Triton that was stopped may abort later
    (its Python backend's timed interprocess locks), so the shared one is not."""
    yield from own_server(model_repository)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_request_count_ends_when_triton_is_stopped(stoppable_triton, protocol: str, tmp_path: Path) -> None:
    """A real Triton SIGSTOPped mid-run: the requests in flight time out and
    the run ends (the statistics read then times out too: one line, 99)."""
    triton = stoppable_triton
    url = triton.http_url if protocol == "http" else triton.grpc_url
    proc = subprocess.Popen([*PA, "-m", "identity", "-u", url, "-i", protocol, "--request-count", "100000000",
                             "--request-timeout", "500"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        # stopped once the run is measuring: Triton has answered some of its requests
        before, deadline = _served(triton), time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None and _served(triton) < before + 100:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        os.kill(triton.pid, signal.SIGSTOP)
        try:
            _, stderr = proc.communicate(timeout=BOUND_S)
        finally:
            os.kill(triton.pid, signal.SIGCONT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 99, stderr
    assert_one_error_line(stderr)


def _served(triton) -> int:
    """How many inferences of `identity` Triton has done."""
    with urlopen(f"http://{triton.http_url}/v2/models/identity/stats", timeout=10) as r:
        stats = json.load(r)
    return sum(int(m.get("inference_count", 0)) for m in stats.get("model_stats", []))
