"""Both compiled HTTP clients send sequences, on one or several engine
threads, to a tiny in-process HTTP server that keeps every body it got: each
correlation ID carries its stream's steps in order with the right flags,
threads never share an ID, failed requests give their sequence back, and the
engine's sequence_ids() are the IDs the server saw.

Every wait polls for a condition with a generous deadline; nothing asserts on timing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.services.triton_grpc import encode_request

DEADLINE_S = 60.0
STEPS = 3


def body(step: int) -> tuple[bytes, list[str]]:
    doc = (b'{"parameters":{"sequence_id":' + b" " * 19 + b'0,"sequence_start":false,"sequence_end":false},'
           b'"step":' + str(step).encode() + b"}")
    return doc, ["Content-Type: application/json"]


BODIES = [body(k) for k in range(STEPS)]


def wait_for(cond: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        doc = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        p = doc["parameters"]
        with self.server.lock:
            self.server.got.append((p["sequence_id"], doc["step"], p["sequence_start"], p["sequence_end"]))
        reply = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.got = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


class RejectEnd(Handler):
    """Answers 400 to every request flagged END, after keeping it."""

    def do_POST(self) -> None:
        doc = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        p = doc["parameters"]
        with self.server.lock:
            self.server.got.append((p["sequence_id"], doc["step"], p["sequence_start"], p["sequence_end"]))
        reply = b'{"error":"END rejected"}' if p["sequence_end"] else b"{}"
        self.send_response(400 if p["sequence_end"] else 200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v2/models/m/infer"


@pytest.mark.parametrize("client", _core.HTTP_CLIENTS)
@pytest.mark.parametrize("threads", [1, 2])
def test_steps_in_order_under_one_id_and_ids_apart_per_thread(server: ThreadingHTTPServer, client: str,
                                                               threads: int) -> None:
    # Thread k owns ids 100k+1 .. 100k+100 (what sequences.make_sequencers gives for 1:201 over 2).
    seqs = [_core.Sequencer([STEPS], id_start=100 * k + 1, id_range=100) for k in range(threads)]
    e = _core.HttpEngine(url(server), BODIES, client=client, threads=threads,
                         sequencer=seqs if threads > 1 else seqs[0])
    e.keep_records()
    e.set_budget(90)
    e.start()
    e.set_concurrency(4)
    wait_for(lambda: e.completed + e.failed >= 90, "90 answers")
    e.stop(drain_ms=2000)
    assert e.failed == 0, e.error_messages()
    by_id: dict[int, list[tuple[int, bool, bool]]] = defaultdict(list)
    for sid, step, start, end in server.got:
        by_id[sid].append((step, start, end))
    whole = [(0, True, False), (1, False, False), (2, False, True)]
    for sid, steps in by_id.items():
        # In order, flags right; a sequence the stop cut short was closed: its last step is flagged END.
        n = len(steps)
        assert steps == whole[:n - 1] + [(n - 1, n == 1, True)], (sid, steps)
    assert sum(len(s) == STEPS for s in by_id.values()) >= 90 // STEPS - 4
    if threads == 2:
        assert {sid <= 100 for sid in by_id} == {True, False}          # both threads sent ...
        assert all(1 <= sid <= 200 for sid in by_id)                   # ... from their own ranges
    ids = e.sequence_ids()
    assert len(ids) == len(e.records()) == 90
    sent = Counter(sid for sid, *_ in server.got)
    assert not Counter(ids.tolist()) - sent                  # every record's id is one the server got ...
    assert 90 <= len(server.got) <= 90 + 4                   # ... and closing added at most one per slot
    e.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("client", _core.HTTP_CLIENTS)
def test_a_failed_request_gives_its_sequence_back(client: str) -> None:
    """One serial sequence in rate mode: if a refused connection kept it busy,
    every later request would find no sequence free."""
    q = _core.Sequencer([STEPS], n_sequences=1, serial=True)
    e = _core.HttpEngine(f"http://127.0.0.1:{closed_port()}/", BODIES, client=client, sequencer=q)
    e.start()
    e.set_rate(500.0, max_inflight=1)
    wait_for(lambda: e.failed >= 5, "5 refused requests")
    e.stop(drain_ms=0)
    messages = e.error_messages()
    assert messages and not any("no sequence free" in m for m in messages), messages
    e.close()


# The engine is dropped while its requests hang on a server that never
# answers: its thread hands their sequences back as it stops, so the Sequencer
# must outlive the C engine. MALLOC_PERTURB_ fills freed memory with garbage,
# so a Sequencer freed first is a crash, not a silent read of stale memory.
DROP_A_RUNNING_ENGINE = """
import gc, socket, sys, time
import numpy as np
from perfanalyzer import _core
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.services.triton_grpc import encode_request

kind = sys.argv[1]
mute = socket.socket()
mute.bind(("127.0.0.1", 0))
mute.listen(64)  # connections wait in the backlog: no request is ever answered
port = mute.getsockname()[1]

def run():
    if kind == "grpc":
        spec = ModelSpec("m", "", "", 4, (TensorSpec("INPUT", "INT32", (1,)),), (), sequence=True)
        msg = encode_request(spec, {"INPUT": np.ones((1, 1), dtype=np.int32)}, sequence=True)
        e = _core.GrpcEngine(f"127.0.0.1:{port}", [msg], sequencer=_core.Sequencer([1], length=100))
    else:
        body = (b'{"parameters":{"sequence_id":' + b" " * 19 + b'0,"sequence_start":false,"sequence_end":false}}',
                ["Content-Type: application/json"])
        e = _core.HttpEngine(f"http://127.0.0.1:{port}/", [body] * 2, client=kind, threads=2,
                             sequencer=[_core.Sequencer([2], id_start=1 + 100 * k, id_range=100) for k in range(2)])
    e.start()
    e.set_concurrency(8)
    end = time.monotonic() + 30
    while e.in_flight < 8 and time.monotonic() < end:
        time.sleep(0.01)
    assert e.in_flight == 8, e.in_flight
    # e (never stopped) and its sequencers go here
for _ in range(3):
    run()
    gc.collect()
print("survived")
"""


@pytest.mark.parametrize("kind", [*_core.HTTP_CLIENTS, "grpc"])
def test_a_running_engine_dropped_without_stop_frees_its_sequencer_last(kind: str) -> None:
    env = {**os.environ, "MALLOC_PERTURB_": "165"}
    run = subprocess.run([sys.executable, "-c", DROP_A_RUNNING_ENGINE, kind], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0 and "survived" in run.stdout, (run.returncode, run.stderr[-2000:])


@pytest.fixture
def mute_port() -> Iterator[int]:
    """A port that takes connections into its backlog and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


def seq_engine(kind: str, port: int, q: _core.Sequencer) -> _core.Engine:
    if kind.startswith("grpc"):
        spec = ModelSpec("m", "", "", 4, (TensorSpec("INPUT", "INT32", (1,)),), (), sequence=True)
        msg = encode_request(spec, {"INPUT": np.ones((1, 1), dtype=np.int32)}, sequence=True)
        return _core.GrpcEngine(f"127.0.0.1:{port}", [msg], sequencer=q, streaming=kind == "grpc-streaming")
    return _core.HttpEngine(f"http://127.0.0.1:{port}/", BODIES[:1], client=kind, sequencer=q)


@pytest.mark.parametrize("kind", [*_core.HTTP_CLIENTS, "grpc", "grpc-streaming"])
def test_no_sequence_free_is_the_same_error_on_every_engine(mute_port: int, kind: str) -> None:
    # One sequence, its first request never answered: every later one finds
    # no sequence free. Not a transport failure, and not out of memory.
    e = seq_engine(kind, mute_port, _core.Sequencer([1], n_sequences=1, serial=True))
    e.start()
    e.set_rate(200.0)
    wait_for(lambda: e.failed >= 3, "3 requests without a sequence")
    e.stop(drain_ms=0)
    _, stats = e.swap()
    assert stats.errors == {"other": e.failed}, stats.errors
    (message,) = e.error_messages()
    assert message.startswith("no sequence free for a request to ") and f"127.0.0.1:{mute_port}" in message
    e.close()


@pytest.mark.parametrize("client", _core.HTTP_CLIENTS)
@pytest.mark.parametrize("reject", [False, True])
def test_closing_requests_stay_out_of_counters_windows_and_messages(server: ThreadingHTTPServer,
                                                                    client: str, reject: bool) -> None:
    # Sequences far longer than the budget: every END is a closing request,
    # answered or rejected. None of that may reach what the run reports.
    if reject:
        server.RequestHandlerClass = RejectEnd
    long_seq = _core.Sequencer([STEPS], length=1000, variation=0)
    e = _core.HttpEngine(url(server), BODIES, client=client, sequencer=long_seq)
    e.set_budget(30)
    e.start()
    e.set_concurrency(3)
    wait_for(lambda: e.completed + e.failed >= 30, "30 answers")
    e.stop(drain_ms=5000)
    _, stats = e.swap()
    assert sum(end for *_, end in server.got) == 3          # the three closing requests went out ...
    assert (e.completed, e.failed, e.error_messages()) == (30, 0, [])   # ... and count nowhere
    assert (stats.ok, stats.error_count) == (30, 0)
    e.close()
