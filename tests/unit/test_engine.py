"""The compiled HTTP engine against a tiny in-process HTTP server (no Triton).

Every wait polls for a condition with a generous deadline; nothing asserts on timing."""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from perfanalyzer import _core
from perfanalyzer.profiler import Profiler
from perfanalyzer.settings import Range, Settings

DEADLINE_S = 60.0
REPLY = b'{"model_name":"m","outputs":[]}'
BIG = bytes(range(256)) * 800  # 200 kB: more than one receive buffer


def wait_for(cond: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as Triton
    disable_nagle_algorithm = True   # headers and body go out as two writes

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with srv.lock:
            srv.requests += 1
            if len(srv.seen) < 5:
                srv.seen.append((self.path, dict(self.headers.items()), body))
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
        try:
            if self.path.endswith("/hold"):
                srv.release.wait(DEADLINE_S)
            if self.path.endswith("/big"):
                self._reply(200, BIG)
            elif self.path.endswith("/untilclose"):
                self.close_connection = True
                self.send_response(200)
                self.end_headers()
                self.wfile.write(REPLY)
                self.wfile.flush()
            elif self.path.endswith("/chunked"):
                self._reply_chunked(REPLY)
            elif self.path.endswith("/close"):
                self.close_connection = True
                self._reply(200, REPLY, ("Connection", "close"))
            elif self.path.endswith("/fail"):
                self._reply(500, b'{"error":"boom"}')
            elif self.path.endswith("/missing"):
                self._reply(404, b'{"error":"unknown model"}')
            else:
                self._reply(200, REPLY)
        finally:
            with srv.lock:
                srv.active -= 1

    def _reply(self, code: int, data: bytes, *extra: tuple[str, str]) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _reply_chunked(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        half = len(data) // 2
        for part in (data[:half], data[half:]):
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")


HttpEngine = _core.HttpEngine


@pytest.fixture(autouse=True, params=_core.HTTP_CLIENTS)
def client(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test runs on both HTTP clients of the core."""
    global HttpEngine
    HttpEngine = functools.partial(_core.HttpEngine, client=request.param)
    yield request.param
    HttpEngine = _core.HttpEngine


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.release = threading.Event()
    srv.requests, srv.active, srv.max_active, srv.seen = 0, 0, 0, []
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def url(srv: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


BODY = b'{"inputs":[]}' + bytes(range(256)) * 4
HEADERS = ["Content-Type: application/octet-stream", "Inference-Header-Content-Length: 13", "X-Test: 1"]


def drain(engine: _core.HttpEngine) -> _core.WindowStats:
    total = _core.WindowStats()
    total.merge(engine.swap()[1])
    return total


def test_closed_loop_success(server):
    engine = HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_concurrency(2)
        total = _core.WindowStats()
        wait_for(lambda: engine.completed >= 40, "40 completed requests")
        total.merge(engine.swap()[1])
        engine.stop(drain_ms=5000)
        total.merge(engine.swap()[1])
        assert engine.in_flight == 0
        assert engine.failed == 0 and engine.error_messages() == []
        # every completed request is in exactly one window
        assert total.ok == engine.completed == server.requests
        assert total.error_count == 0
        assert total.bytes_sent == total.ok * len(BODY)
        assert total.bytes_received == total.ok * len(REPLY)
        assert total.latency_sum_ns > 0
        assert total.send_sum_ns + total.recv_sum_ns <= total.latency_sum_ns
        assert total.histogram().total == total.ok
        assert server.max_active <= 2
        path, headers, body = server.seen[0]
        assert path == "/v2/models/m/infer"
        assert body == BODY
        assert headers["Inference-Header-Content-Length"] == "13"
        assert headers["X-Test"] == "1"
        assert headers["Content-Type"] == "application/octet-stream"
        assert "Expect" not in headers
    finally:
        engine.close()


def test_bodies_are_cycled(server):
    bodies = [(b"first", ["X-Body: 1"]), (b"second", ["X-Body: 2"])]
    engine = HttpEngine(url(server, "/v2/models/m/infer"), bodies)
    try:
        engine.start()
        engine.set_concurrency(1)
        wait_for(lambda: engine.completed >= 4, "4 completed requests")
        engine.stop(drain_ms=5000)
    finally:
        engine.close()
    assert [(b, h["X-Body"]) for _, h, b in server.seen[:4]] == [
        (b"first", "1"), (b"second", "2"), (b"first", "1"), (b"second", "2")]


def test_concurrency_is_the_number_in_flight(server):
    engine = HttpEngine(url(server, "/v2/models/m/hold"), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_concurrency(3)
        wait_for(lambda: server.active == 3 and engine.in_flight == 3, "3 requests in flight")
        assert engine.completed == 0
        engine.set_concurrency(0)   # slots retire as their requests complete
        server.release.set()
        wait_for(lambda: engine.in_flight == 0, "in-flight requests to drain")
        assert engine.completed == 3
        assert server.max_active == 3
        engine.stop(drain_ms=5000)
        assert drain(engine).ok == 3
    finally:
        engine.close()


@pytest.mark.parametrize("path, kind, message", [
    ("/v2/models/m/fail", "http_5xx", 'HTTP 500: {"error":"boom"}'),
    ("/v2/models/m/missing", "http_4xx", 'HTTP 404: {"error":"unknown model"}'),
])
def test_http_errors_are_counted_by_kind(server, path, kind, message):
    engine = HttpEngine(url(server, path), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_concurrency(2)
        wait_for(lambda: engine.failed >= 5, "5 failed requests")
        engine.stop(drain_ms=5000)
        w = drain(engine)
        assert w.ok == 0 and engine.completed == 0
        assert w.errors == {kind: engine.failed}
        assert w.error_count == engine.failed
        assert engine.error_messages() == [message]   # distinct messages only
    finally:
        engine.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_transport_errors():
    engine = HttpEngine(f"http://127.0.0.1:{closed_port()}/v2/models/m/infer", [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_concurrency(1)
        wait_for(lambda: engine.failed >= 2, "2 failed connections")
        engine.stop(drain_ms=1000)
        w = drain(engine)
        assert w.ok == 0
        assert w.errors == {"transport": engine.failed}
        msgs = engine.error_messages()
        assert len(msgs) >= 1 and any("onnect" in m for m in msgs), msgs
    finally:
        engine.close()


def test_engine_argument_and_lifecycle_errors(server):
    with pytest.raises(ValueError):
        HttpEngine(url(server, "/x"), [])
    engine = HttpEngine(url(server, "/x"), [(b"", [])], request_timeout_ms=1000,
                              connect_timeout_ms=1000)
    assert engine.url == url(server, "/x")
    engine.start()
    with pytest.raises(RuntimeError, match="already started"):
        engine.start()
    engine.stop(drain_ms=0)
    engine.stop(drain_ms=0)   # twice is fine
    engine.close()
    engine.close()
    for call in (engine.start, engine.swap, lambda: engine.completed, lambda: engine.set_concurrency(1)):
        with pytest.raises(RuntimeError, match="closed"):
            call()


def test_profiler_over_the_real_engine(server):
    """count_windows over the compiled engine; -s is huge so any machine stabilizes."""
    s = Settings(model_name="m", measurement_mode="count_windows", measurement_request_count=20,
                 stability_percentage=1e9, concurrency_range=Range(1, 2, 1)).validate()
    engine = HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)])
    try:
        engine.start()
        result = Profiler(s, engine, lambda: None, log=lambda _: None, clock_ns=_core.now_ns).sweep()
    finally:
        engine.stop(drain_ms=5000)
        engine.close()
    assert result.status == "ok", result.message
    assert [lv.value for lv in result.levels] == [1, 2]
    for lv in result.levels:
        assert lv.stable and lv.windows == 3
        assert lv.merged.request_count >= 60
        assert lv.merged.throughput > 0
        assert lv.merged.duration_ns > 0
        assert lv.merged.avg_latency_ns > 0


@pytest.mark.parametrize("path", ["/v2/models/m/chunked", "/v2/models/m/close"])
def test_chunked_and_connection_close_responses(server, path):
    engine = HttpEngine(url(server, path), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_concurrency(2)
        wait_for(lambda: engine.completed >= 20, "20 completed requests")
        engine.stop(drain_ms=5000)
        total = drain(engine)
        failed, messages = engine.failed, engine.error_messages()
    finally:
        engine.close()
    assert failed == 0, messages
    assert total.ok >= 20 and total.bytes_received == total.ok * len(REPLY)


def test_request_timeout(server):
    engine = HttpEngine(url(server, "/v2/models/m/hold"), [(BODY, HEADERS)], request_timeout_ms=200)
    try:
        engine.start()
        engine.set_concurrency(1)
        wait_for(lambda: engine.failed >= 1, "a timed-out request")
        engine.stop(drain_ms=0)
        stats = drain(engine)
        messages = engine.error_messages()
    finally:
        server.release.set()
        engine.close()
    assert stats.errors.get("transport", 0) >= 1
    assert any("time" in m.lower() for m in messages), messages


def test_client_choice():
    assert _core.HttpEngine("http://127.0.0.1:1/x", [(b"", [])]).client == "native"
    assert _core.HttpEngine("https://127.0.0.1:1/x", [(b"", [])]).client == "curl"
    with pytest.raises(ValueError, match="unknown HTTP client"):
        _core.HttpEngine("http://127.0.0.1:1/x", [(b"", [])], client="nope")


def test_request_timeout_does_not_fire_on_fast_requests(server):
    # Regression: a request started after the loop read its clock looked
    # ~584 years old to the timeout check.
    engine = HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)], request_timeout_ms=5000)
    try:
        engine.start()
        engine.set_concurrency(4)
        wait_for(lambda: engine.completed >= 1500, "1500 completed requests")
        engine.stop(drain_ms=5000)
        failed, messages = engine.failed, engine.error_messages()
    finally:
        engine.close()
    assert failed == 0, messages


def test_open_loop_sends_on_schedule(server):
    engine = HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_rate(400.0, "constant")
        wait_for(lambda: engine.completed >= 200, "200 completed requests")
        engine.stop(drain_ms=5000)
        total = drain(engine)
    finally:
        engine.close()
    # Every request carried its scheduled time; lag and corrected latency exist.
    assert total.scheduled_count == total.ok >= 200
    assert total.response_histogram().total == total.ok == total.lag_histogram().total
    assert total.response_percentile_ns(50) >= total.percentile_ns(50)
    assert total.postponed == 0


def test_open_loop_in_flight_cap_postpones(server):
    engine = HttpEngine(url(server, "/v2/models/m/hold"), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_rate(1000.0, "poisson", seed=3, max_inflight=2)
        wait_for(lambda: engine.in_flight == 2, "2 requests in flight")
        time.sleep(0.1)  # more requests fall due while both slots are held
        held = server.active
        stats = engine.swap()[1]
        server.release.set()
        wait_for(lambda: engine.completed >= 10, "10 completed requests")
        engine.stop(drain_ms=5000)
    finally:
        engine.close()
    assert held == 2  # the cap held: never more than 2 at the server
    assert server.max_active <= 2
    assert stats.postponed >= 1


def test_switching_between_open_and_closed_loop(server):
    engine = HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_rate(300.0)
        wait_for(lambda: engine.completed >= 30, "30 open-loop requests")
        engine.set_concurrency(2)
        engine.swap()
        start = engine.completed
        wait_for(lambda: engine.completed >= start + 50, "50 closed-loop requests")
        closed = engine.swap()[1]
        engine.stop(drain_ms=5000)
    finally:
        engine.close()
    assert closed.ok >= 50
    assert closed.scheduled_count <= 2  # at most the open-loop requests still in flight at the switch


@pytest.mark.parametrize("path, size", [("/v2/models/m/big", len(BIG)), ("/v2/models/m/untilclose", len(REPLY))])
def test_large_and_close_delimited_responses(server, path, size):
    engine = HttpEngine(url(server, path), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_concurrency(2)
        wait_for(lambda: engine.completed + engine.failed >= 20, "20 finished requests")
        engine.stop(drain_ms=5000)
        total = drain(engine)
        failed, messages = engine.failed, engine.error_messages()
    finally:
        engine.close()
    assert failed == 0, messages
    assert total.bytes_received == total.ok * size


def test_open_loop_does_not_burst_after_a_spent_budget(server):
    engine = HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)])
    try:
        engine.start()
        engine.set_rate(200.0)
        wait_for(lambda: engine.completed >= 20, "20 requests")
        engine.set_budget(0)
        wait_for(lambda: engine.in_flight == 0, "an idle engine")
        time.sleep(0.5)  # 100 sends fall due while nothing may be sent
        before = engine.completed
        engine.set_budget(None)
        time.sleep(0.3)
        sent_after = engine.completed + engine.in_flight - before
        engine.stop(drain_ms=5000)
    finally:
        engine.close()
    # The schedule restarts: about 60 in 0.3 s, not the 100 missed ones on top.
    assert sent_after <= 60 + 15, sent_after
