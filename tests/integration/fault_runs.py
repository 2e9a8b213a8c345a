"""What the fault-injection tests share: the CLI as a child process read
line by line with bounded waits, the checks every case makes (exit code, one
stderr line, the files on disk, /dev/shm), and a loopback proxy in front of
Triton's HTTP port that can fail the statistics endpoint alone."""

from __future__ import annotations

import csv
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from triton_launcher import TritonServer

SHM_DIR = Path("/dev/shm")


class Cli:
    """perfanalyzer run as a user would, its stdout read by a thread so that
    every wait has a timeout."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "perfanalyzer", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str, count: int = 1, timeout: float = 90) -> None:
        """Until `needle` has been printed `count` times in all."""
        deadline = time.monotonic() + timeout
        while sum(needle in line for line in self.lines) < count:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"'{needle}' not printed {count}x in {timeout} s:\n"
                                     f"{''.join(self.lines)}") from None
            if line is None:
                raise AssertionError(f"exited before '{needle}' was printed {count}x:\n{''.join(self.lines)}"
                                     f"\nstderr: {self.proc.stderr.read() if self.proc.stderr else ''}")
            self.lines.append(line)

    def finish(self, timeout: float = 90) -> tuple[int, str, str]:
        """(exit code, all of stdout, stderr)."""
        try:
            # stdout is the reader thread's alone; stderr is a line or two, it never fills the pipe.
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout} s:\n{''.join(self.lines)}") from None
        self._reader.join(timeout=5)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        assert self.proc.stderr is not None
        return self.proc.returncode, "".join(self.lines), self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)


def one_error_line(stderr: str) -> str:
    """The run said what happened in exactly one line, without a traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


def csv_levels(path: Path) -> list[str]:
    """The first column of every data row: the levels written."""
    rows = list(csv.reader(path.open()))
    assert rows and rows[0][0] in ("Concurrency", "Request Rate"), rows
    return [row[0] for row in rows[1:]]


def export_levels(path: Path) -> list[float]:
    """The levels of the profile export, each with requests."""
    experiments = json.loads(path.read_text())["experiments"]
    assert all(e["requests"] for e in experiments)
    return [e["experiment"]["value"] for e in experiments]


def shm_leftovers(pid: int) -> list[str]:
    return sorted(p.name for p in SHM_DIR.glob(f"perfanalyzer_{pid}_*"))


def http_get(url: str, timeout: float = 5) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
    return body


class StatsProxy:
    """A loopback HTTP/1.1 proxy in front of Triton: every request goes
    through unchanged until `fail` is set, then statistics requests (paths
    ending in /stats) get `fail`: "500" (an error answer), "close" (the
    connection closed unanswered) or "hang" (no answer, ever). switch() makes
    it lead to another server, which to the client is a restart."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.fail: str | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream, timeout=60)
        self._sockets.append(upstream)
        try:
            with client, upstream:
                while True:
                    request = _read_message(client, request=True)
                    if request is None:
                        return
                    path = request.split(b" ", 2)[1]
                    if self.fail and path.split(b"?")[0].endswith(b"/stats"):
                        if self.fail == "500":
                            body = b'{"error":"statistics unavailable"}'
                            client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                            continue
                        if self.fail == "hang":
                            self._stop.wait()
                        return
                    upstream.sendall(request)
                    response = _read_message(upstream, request=False)
                    if response is None:
                        return
                    client.sendall(response)
        except OSError:
            return

    def switch(self, upstream: str) -> None:
        """From now on the address leads to another server, as after a restart:
        the connections open now are closed."""
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass


def _read_message(sock: socket.socket, request: bool) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (all Triton sends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head + b"\r\n\r\n" + rest


def own_server(model_repository: Path) -> Iterator[TritonServer]:
    """A Triton of the caller's alone, for tests that kill or freeze it: a
    frozen one is woken before it is stopped."""
    server = TritonServer(model_repository)
    server.start()
    try:
        yield server
    finally:
        if server.pid is not None:
            try:
                os.killpg(server.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        server.stop()
