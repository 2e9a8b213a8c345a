"""A real perfanalyzer run with validation_data against a stand-in server on
127.0.0.1 whose inference answers lie: their outputs declare
binary_data_size values near 2^63 (whose sum wraps a 64-bit offset) or
digit runs too long for any integer. The run ends as any failed run does:
exit 99 with one line on stderr naming what was wrong, no crash, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

META = {"name": "m", "platform": "python", "inputs": [{"name": "X", "datatype": "FP32", "shape": [4]}],
        "outputs": [{"name": "Y", "datatype": "FP32", "shape": [4]}]}
CONFIG = {"name": "m", "max_batch_size": 0, "input": [{"name": "X"}], "output": [{"name": "Y"}]}
STATS = {"model_stats": [{"name": "m", "version": "1", "inference_count": 0, "execution_count": 0,
                          "inference_stats": {}}]}
ONES = b"\0\0\x80\x3f" * 4  # Y = [1, 1, 1, 1], what validation_data expects



def lying_answer(sizes: list[tuple[str, str]]) -> tuple[bytes, int]:
    outs = ",".join(f'{{"name":"{n}","datatype":"FP32","shape":[4],"parameters":{{"binary_data_size":{s}}}}}'
                    for n, s in sizes)
    header = f'{{"model_name":"m","model_version":"1","outputs":[{outs}]}}'.encode()
    return header + ONES, len(header)


def wrapping_sizes() -> list[tuple[str, str]]:
    """A and B, two outputs nobody expects, declare sizes that take the offset
    of Y's bytes to 2^64 - 2^40 + 16: summed without checks, Y's declared 2^40
    bytes then end at byte 16 of the answer, and they start a terabyte before it."""
    a, y = 2**63 - 1, 2**40
    b = 0
    for _ in range(3):  # B's digits change the header's length, which moves the offset
        _, json_len = lying_answer([("A", str(a)), ("B", str(b)), ("Y", str(y))])
        b = (2**64 - y + 16 - json_len - a) % 2**64
    return [("A", str(a)), ("B", str(b)), ("Y", str(y))]


SIZES = {"wrapping": wrapping_sizes(), "digit-run": [("A", "9" * 40), ("Y", "16")]}


class LyingServer(BaseHTTPRequestHandler):
    """Triton's health, metadata, config and statistics answers; inference answers that lie."""

    protocol_version = "HTTP/1.1"
    answer = b""
    json_len = 0

    def log_message(self, *args) -> None:
        pass

    def _send(self, data: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        answers = {"/v2/models/m": META, "/v2/models/m/config": CONFIG, "/v2/models/m/stats": STATS}
        body = answers.get(self.path.split("?")[0], {})
        self._send(json.dumps(body).encode(), ("Content-Type", "application/json"))

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        cls = type(self)
        self._send(cls.answer, ("Content-Type", "application/octet-stream"),
                   ("Inference-Header-Content-Length", str(cls.json_len)))


@pytest.fixture
def lying_server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), LyingServer)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("client", ["native", "curl"])
@pytest.mark.parametrize("lie", sorted(SIZES))
def test_lying_sizes_fail_the_run_with_one_line(lying_server: str, tmp_path: Path, client: str, lie: str) -> None:
    LyingServer.answer, LyingServer.json_len = lying_answer(SIZES[lie])
    data = tmp_path / "v.json"
    data.write_text(json.dumps({"data": [{"X": [1.0, 2.0, 3.0, 4.0]}], "validation_data": [{"Y": [1.0] * 4}]}))
    run = subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "m", "-u", lying_server, "--input-data",
                          str(data), "--http-client", client, "-p", "300", "--max-trials", "3"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 99, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "output 'A'" in lines[0] and "binary_data_size" in lines[0], lines[0]
