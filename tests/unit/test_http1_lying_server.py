"""Both HTTP clients against a real socket on 127.0.0.1 whose answers lie
about their lengths. A lie is a failed request with a reason, found as soon
as the head arrives: not a wait for a body that never comes (the request
timeout here is only a bound), and never a crash."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from perfanalyzer import _core

DEADLINE_S = 30.0
BODY = b'{"inputs":[]}'
HEADERS = ["Content-Type: application/json"]


class CannedServer:
    """Answers every request on every connection with the same bytes, and
    keeps the connection open afterwards, as a server that lied would."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.conns.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        seen = b""
        while not self.stop.is_set():
            try:
                got = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not got:
                return
            seen += got
            if b"\r\n\r\n" in seen and seen.endswith(BODY):
                seen = b""
                try:
                    conn.sendall(self.answer)
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture(params=_core.HTTP_CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    return request.param


def failures(client: str, answer: bytes) -> list[str]:
    srv = CannedServer(answer)
    engine = _core.HttpEngine(f"http://127.0.0.1:{srv.port}/v2/models/m/infer", [(BODY, HEADERS)],
                              request_timeout_ms=20000, client=client)
    try:
        engine.start()
        engine.set_concurrency(1)
        end = time.monotonic() + DEADLINE_S
        while engine.failed < 2 and time.monotonic() < end:
            time.sleep(0.01)
        engine.stop(drain_ms=1000)
        assert engine.completed == 0
        return engine.error_messages()
    finally:
        engine.close()
        srv.close()


def assert_refused(client: str, msgs: list[str], words: str) -> None:
    assert msgs, "no failed request"
    assert not any("timed out" in m for m in msgs), msgs
    if client == "native":
        assert msgs == [f"malformed HTTP response ({words}) from 127.0.0.1:" + msgs[0].rsplit(":", 1)[1]], msgs


@pytest.mark.parametrize("length", [b"18446744073709551616", b"-1", b"9" * 30])
def test_content_length_past_2_to_64_or_negative(client: str, length: bytes) -> None:
    msgs = failures(client, b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\n{}")
    assert_refused(client, msgs, "Content-Length is not a number below 10^18")


@pytest.mark.parametrize("size", [b"10000000000000000", b"ffffffffffffffffffff"])
def test_chunk_size_overflow(client: str, size: bytes) -> None:
    msgs = failures(client, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nab")
    assert_refused(client, msgs, "chunk size is not a hex number below 2^60")


def test_bad_status_code(client: str) -> None:
    msgs = failures(client, b"HTTP/1.1 20000000000000000000 OK\r\nContent-Length: 0\r\n\r\n")
    assert_refused(client, msgs, "bad status code")
