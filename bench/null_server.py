"""Build and run bench/null_server.c: a server with canned Triton answers, so
that an open-loop benchmark measures the client, not the server.

Stdlib only. The binary is built with the system C compiler into
bench/.cache/ (git-ignored) when missing or older than its source."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "null_server.c"
BINARY = HERE / ".cache" / "null_server"


def build() -> Path:
    """The null server's binary, compiled if it is missing or stale."""
    if BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BINARY
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("null_server: no C compiler (cc or gcc) to build bench/null_server.c")
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", str(BINARY), str(SOURCE)], check=True)
    return BINARY


def read_port(line: str) -> int:
    """The port from the server's first line, "port N"."""
    word, _, value = line.strip().partition(" ")
    if word != "port" or not value.isdigit():
        raise ValueError(f"null_server: expected 'port N', got {line.strip()!r}")
    return int(value)


@contextlib.contextmanager
def null_server(cpus: set[int] | None, seconds: int, work_us: int = 0) -> Iterator[str]:
    """Yield "127.0.0.1:PORT" of a null server pinned to `cpus` (all when
    None); it stops when the block ends, and by itself after `seconds`."""
    binary = build()

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    proc = subprocess.Popen([str(binary), "--seconds", str(seconds), "--work-us", str(work_us)],
                            stdout=subprocess.PIPE, text=True, preexec_fn=pin)
    try:
        assert proc.stdout is not None
        port = read_port(proc.stdout.readline())
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":  # run one by hand: python3 bench/null_server.py [seconds]
    with null_server(None, int(sys.argv[1]) if len(sys.argv) > 1 else 60) as url:
        print(url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(["sleep", sys.argv[1] if len(sys.argv) > 1 else "60"], check=False)
