"""--service-kind torchserve against a real HTTP server on loopback speaking
TorchServe's inference API: POST /predictions/{model}[/{version}], the body
echoed back, unknown models answered 404 (pretty-printed JSON) as TorchServe
does. It shows what the real TorchServe (test_torchserve_real.py) cannot: the
exact paths and headers on the wire, and no server listening."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .fake_servers import Answer, FakeHttpServer, json_answer
from .helpers import CliRun, cli

MODEL = "echo"
MAX_REQUESTS = 100_000  # the peer stops answering past this: a runaway client cannot keep a test alive


@dataclass
class Received:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[tuple[str, bytes, str]] = field(default_factory=list)  # (path, body, content type)


class PredictionsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept-alive connections, as TorchServe
    received: Received

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/ping":  # TorchServe's health API, asked before any load
            self._answer(200, json.dumps({"status": "Healthy"}, indent=2).encode(), "application/json")
        else:
            self._answer(404, b'{"code": 404, "type": "ResourceNotFoundException"}', "application/json")

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.received.lock:
            if len(self.received.requests) >= MAX_REQUESTS:
                self.close_connection = True
                return
            self.received.requests.append((self.path, body, self.headers.get("Content-Type", "")))
        parts = self.path.split("/")
        if len(parts) in (3, 4) and parts[1] == "predictions" and parts[2] == MODEL:
            self._answer(200, body, "application/octet-stream")
        else:
            message = {"code": 404, "type": "ModelNotFoundException", "message": f"Model not found: {parts[2:]}"}
            self._answer(404, json.dumps(message, indent=2).encode(), "application/json")  # pretty, as TorchServe

    def _answer(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        pass


@pytest.fixture
def torchserve() -> Iterator[tuple[str, Received]]:
    received = Received()
    handler = type("Handler", (PredictionsHandler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    (tmp_path / "kitten.jpg").write_bytes(b"\xff\xd8\xff\xe0 first image" + bytes(range(256)))
    (tmp_path / "second.bin").write_bytes(b"second body")
    doc = {"data": [{"TORCHSERVE_INPUT": [str(tmp_path / "kitten.jpg")]}, {"TORCHSERVE_INPUT": ["second.bin"]}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc))
    return path


def test_requests_reach_the_predictions_endpoint(torchserve: tuple[str, Received], data_file: Path) -> None:
    url, received = torchserve
    run = cli("-m", MODEL, "-x", "2", "--service-kind", "torchserve", "-u", url, "--input-data", str(data_file),
              "--concurrency-range", "1:2", "--request-count", "40")
    assert run.code == 0, run.stderr
    assert run.stdout.startswith(" Successfully read data for 1 stream/streams with 2 step/steps.\n")
    assert "Service Kind: TorchServe" in run.stdout
    assert "Server:" not in run.stdout  # client-side statistics only
    assert run.stdout.count("    Request count: 40\n") == 2
    assert len(received.requests) == 80
    assert {path for path, _, _ in received.requests} == {f"/predictions/{MODEL}/2"}
    first = (data_file.parent / "kitten.jpg").read_bytes()
    bodies = [body for _, body, _ in received.requests]
    assert set(bodies) == {first, b"second body"}
    assert bodies[:4] == [first, b"second body", first, b"second body"]  # concurrency 1 sends them in turn
    assert bodies.count(first) == 40
    assert {ct for _, _, ct in received.requests} == {"application/octet-stream"}


def test_without_version_and_time_windows(torchserve: tuple[str, Received], data_file: Path) -> None:
    url, received = torchserve
    export = data_file.parent / "export.json"
    run = cli("-m", MODEL, "--service-kind", "torchserve", "-u", f"http://{url}", "--input-data", str(data_file),
              "-p", "300", "-s", "50", "-r", "20", "--profile-export-file", str(export))
    assert run.code == 0, run.stderr
    doc = json.loads(export.read_text())
    assert (doc["service_kind"], doc["endpoint"]) == ("torchserve", f"predictions/{MODEL}")
    client = int(run.stdout.split("    Request count: ")[1].split("\n")[0])
    assert 0 < client <= len(received.requests)
    assert {path for path, _, _ in received.requests} == {f"/predictions/{MODEL}"}


def test_unknown_model_fails_with_the_answer(torchserve: tuple[str, Received], data_file: Path) -> None:
    url, received = torchserve
    run = cli("-m", "resnet", "--service-kind", "torchserve", "-u", url, "--input-data", str(data_file),
              "-p", "300")
    assert run.code == 99
    assert "HTTP 404" in run.stderr and "ModelNotFoundException" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr
    assert received.requests and received.requests[0][0] == "/predictions/resnet"


PING_FAILED = "error: TorchServe's liveness check (GET /ping) failed on the server at http://127.0.0.1:"


def _one_line(run: CliRun) -> str:
    assert run.code == 99, (run.code, run.stdout, run.stderr)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


def test_no_server_listening(data_file: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    run = cli("-m", MODEL, "--service-kind", "torchserve", "-u", f"127.0.0.1:{port}", "--input-data",
              str(data_file), "-p", "300")
    line = _one_line(run)
    assert line.startswith(f"{PING_FAILED}{port}: "), line
    assert "Request concurrency" not in run.stdout  # no level was started
    # the line docs/service_kinds.md shows, for this port
    doc = (Path(__file__).resolve().parents[2] / "docs" / "service_kinds.md").read_text()
    shown = next(x.strip() for x in doc.splitlines() if x.startswith("    error: TorchServe's liveness check"))
    pattern = re.escape(shown.replace("8080", str(port))).replace("after\\ 0\\ ms", r"after\ \d+\ ms")
    assert re.fullmatch(pattern, line), (line, shown)


@pytest.mark.parametrize("ping, words", [
    (Answer(raw=b"garbage, not HTTP\r\n\r\n", close=True), ""),                 # something else on the port
    (json_answer({"status": "Unhealthy"}, 500), 'HTTP 500: {"status": "Unhealthy"}'),
    (None, "HTTP 404"),                                                           # say, a Triton on that port
    (Answer(body=b"<html><title>It works</title></html>", headers=()), "HTTP 200: It works"),
])
def test_server_that_is_not_a_healthy_torchserve(data_file: Path, ping: Answer | None, words: str) -> None:
    """Real sockets: the liveness check stops the run in one line, before any
    request reaches /predictions."""
    with FakeHttpServer({"/ping": ping} if ping is not None else {}) as server:
        run = cli("-m", MODEL, "--service-kind", "torchserve", "-u", server.url, "--input-data", str(data_file),
                  "-p", "300", timeout=60)
        line = _one_line(run)
        assert line.startswith(f"{PING_FAILED}{server.port}: "), line
        assert words in line, line
        assert server.paths()[:1] == ["/ping"]
        assert not [p for p in server.paths() if p.startswith("/predictions")]
