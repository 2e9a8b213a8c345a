"""An HTTP server on a real 127.0.0.1 socket that plays a Triton which lies
or breaks: each path answers as the test configures it (garbage, truncated
or oversized bodies, a Content-Length that lies, closing after the headers,
never answering, wrong-typed JSON). Everything it received is recorded, so
a test can also say what must never have reached the server.

Bounded: connection threads poll a stop event, the server stops in the
fixture's teardown, and a request head or body over a few MiB ends the
connection."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MODEL = "m"
MAX_HEAD = 64 << 10
MAX_BODY = 16 << 20
POLL_S = 0.1


@dataclass(frozen=True)
class Answer:
    """How one path is answered. The default is a well-formed response."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    content_length: int | None = None  # the size declared; None: the real size
    raw: bytes | None = None           # bytes sent instead of any HTTP response
    close: bool = False                # close the connection after answering
    never: bool = False                # read the request, then never answer
    filler: int = 0                    # bytes of filler sent after the body (oversized answers)


def json_answer(doc: Any, status: int = 200, **kw: Any) -> Answer:
    return Answer(status=status, body=json.dumps(doc).encode(), **kw)


# A model Triton could serve: one INT32 input and output of 16 elements, no batching.
METADATA = {"name": MODEL, "versions": ["1"], "platform": "fake",
            "inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [16]}],
            "outputs": [{"name": "OUTPUT0", "datatype": "INT32", "shape": [16]}]}
CONFIG = {"name": MODEL, "platform": "fake", "max_batch_size": 0,
          "input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [16]}],
          "output": [{"name": "OUTPUT0", "data_type": "TYPE_INT32", "dims": [16]}]}
STATS = {"model_stats": [{"name": MODEL, "version": "1", "inference_count": 0, "execution_count": 0,
                          "inference_stats": {"success": {"count": 0, "ns": 0}}}]}
INFER = {"model_name": MODEL, "model_version": "1", "outputs": []}


def healthy_routes() -> dict[str, Answer]:
    base = f"/v2/models/{MODEL}"
    return {"/v2/health/live": Answer(body=b""), "/v2/health/ready": Answer(body=b""),
            base: json_answer(METADATA), f"{base}/config": json_answer(CONFIG),
            f"{base}/ready": Answer(body=b""), f"{base}/stats": json_answer(STATS),
            f"{base}/infer": json_answer(INFER)}


@dataclass
class Received:
    method: str
    path: str
    head: bytes  # the request line and headers, as they came
    body: bytes


@dataclass
class FakeHttpServer:
    """healthy_routes() with `routes` replacing or adding paths (exact match)."""

    routes: dict[str, Answer] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.routes = {**healthy_routes(), **self.routes}
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL_S)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.received]

    def start(self) -> FakeHttpServer:
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        for t in self._threads:
            t.join(timeout=5)
        with self._lock:
            for c in self._conns:
                c.close()

    def __enter__(self) -> FakeHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(POLL_S)
            with self._lock:
                self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _recv(self, conn: socket.socket) -> bytes | None:
        """Some bytes, or None when the peer closed or the server stops."""
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            return data or None
        return None

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                request, buf = self._read_request(conn, buf)
                if request is None:
                    return
                with self._lock:
                    self.received.append(request)
                answer = self.routes.get(request.path.split("?", 1)[0])
                if answer is None:
                    answer = json_answer({"error": f"no route {request.path}"}, 404)
                if not self._answer(conn, answer):
                    return
        finally:
            conn.close()

    def _read_request(self, conn: socket.socket, buf: bytes) -> tuple[Received | None, bytes]:
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                return None, b""
            data = self._recv(conn)
            if data is None:
                return None, b""
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3:
            return None, b""
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        if length > MAX_BODY:
            return None, b""
        while len(buf) < length:
            data = self._recv(conn)
            if data is None:
                return None, b""
            buf += data
        return Received(parts[0], parts[1], head, buf[:length]), buf[length:]

    def _answer(self, conn: socket.socket, a: Answer) -> bool:
        """Sends the answer; whether the connection stays open."""
        if a.never:
            self._stop.wait()
            return False
        try:
            if a.raw is not None:
                conn.sendall(a.raw)
                return not a.close
            size = len(a.body) + a.filler if a.content_length is None else a.content_length
            head = [f"HTTP/1.1 {a.status} X", f"Content-Length: {size}"]
            head += [f"{k}: {v}" for k, v in a.headers]
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + a.body)
            for chunk in _filler(a.filler):
                if self._stop.is_set():
                    return False
                conn.sendall(chunk)
        except OSError:
            return False
        return not a.close


def _filler(n: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    block = b" " * chunk
    while n > 0:
        yield block[:n]
        n -= chunk
