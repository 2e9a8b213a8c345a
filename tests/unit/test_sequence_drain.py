"""The drain of a stop when the server goes slow or dead with sequences
open: the stop still ends by its deadline, and each open sequence gets at
most one closing request, whatever became of the one before. Run against a
tiny in-process HTTP server that closes every connection after one request
(so no client resends on a kept-alive connection) and keeps every body.

Every wait polls for a condition with a generous deadline; nothing asserts on timing."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from perfanalyzer import _core
from test_sequence_engines import BODIES, STEPS, wait_for

ANSWERED = 30
SLOTS = 3


class Failing(BaseHTTPRequestHandler):
    """Answers the first `answer` requests; after that, by `mode`: 'hang'
    (no answer until the test ends) or 'drop' (the connection closes with
    no answer, as if the server died mid-request)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        doc = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        p = doc["parameters"]
        srv = self.server
        with srv.lock:
            srv.got.append((p["sequence_id"], p["sequence_end"]))
            n = len(srv.got)
        self.close_connection = True
        if n > srv.answer:
            if srv.mode == "hang":
                srv.release.wait()
            return
        reply = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply)


@pytest.fixture
def failing() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.release = threading.Event()
    srv.got = []
    srv.answer = ANSWERED
    srv.mode = "drop"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()


def engine(srv: ThreadingHTTPServer, client: str) -> _core.HttpEngine:
    # Sequences far longer than the run: every END is a closing request.
    q = _core.Sequencer([STEPS], length=1000, variation=0)
    return _core.HttpEngine(f"http://127.0.0.1:{srv.server_address[1]}/", BODIES, client=client, sequencer=q)


def stop_returns(e: _core.HttpEngine, drain_ms: int) -> None:
    t = threading.Thread(target=e.stop, args=(drain_ms,), daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), f"stop(drain_ms={drain_ms}) did not return"


def ends(srv: ThreadingHTTPServer) -> Counter:
    with srv.lock:
        return Counter(sid for sid, end in srv.got if end)


@pytest.mark.parametrize("client", _core.HTTP_CLIENTS)
def test_a_hung_server_bounds_the_drain(failing: ThreadingHTTPServer, client: str) -> None:
    failing.mode = "hang"
    e = engine(failing, client)
    e.start()
    e.set_concurrency(SLOTS)
    wait_for(lambda: e.completed >= ANSWERED and len(failing.got) >= ANSWERED + SLOTS, "every slot hung")
    stop_returns(e, 300)
    # Every slot still waits on its request: no closing request can go out.
    assert not ends(failing)
    e.close()


@pytest.mark.parametrize("client", _core.HTTP_CLIENTS)
def test_closing_requests_a_dead_server_drops_are_each_sent_once(failing: ThreadingHTTPServer,
                                                                 client: str) -> None:
    e = engine(failing, client)
    e.set_budget(ANSWERED)
    e.start()
    e.set_concurrency(SLOTS)
    wait_for(lambda: e.completed >= ANSWERED, f"{ANSWERED} answers")
    stop_returns(e, 2000)            # long enough for retries after the 10 ms backoff, were there any
    assert e.failed == 0             # the budget's requests were all answered
    closing = ends(failing)
    assert len(closing) == SLOTS and set(closing.values()) == {1}, closing
    e.close()


@pytest.mark.parametrize("client", _core.HTTP_CLIENTS)
def test_a_slot_backing_off_at_the_stop_still_closes_its_sequence(failing: ThreadingHTTPServer,
                                                                  client: str) -> None:
    # The budget's last request is dropped: its slot backs off for 10 ms, and
    # the stop comes at once (usually inside those 10 ms). The sequence is
    # still open and gets its closing request once the backoff is over.
    failing.answer = ANSWERED - 1
    failing.mode = "drop_one"        # anything but 'hang': answers stop after the budget anyway
    e = engine(failing, client)
    e.set_budget(ANSWERED)
    e.start()
    e.set_concurrency(SLOTS)
    wait_for(lambda: e.failed >= 1 or e.completed >= ANSWERED, "the dropped request")
    failing.answer = 10**9           # the closing requests are answered
    stop_returns(e, 2000)
    assert (e.completed, e.failed) == (ANSWERED - 1, 1), e.error_messages()
    closing = ends(failing)
    assert len(closing) == SLOTS and set(closing.values()) == {1}, closing
    e.close()
