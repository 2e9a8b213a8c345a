#!/usr/bin/env python3
"""Start a real Triton Inference Server for tests, demos and benchmarks.

The server binary comes from the ``nvidia-pytriton`` wheel installed in a
dedicated venv (``make server-venv``): it bundles ``tritonserver`` plus the
Python backend, which is all we need to serve the numpy models in
``examples/model_repository``. That venv is kept apart from the project venv
because the Python backend stub imports numpy from it and needs numpy < 2.

Library use::

    with TritonServer("examples/model_repository") as srv:
        run_perf_analyzer("-u", srv.http_url)

Command-line use (placeholders are substituted in CMD's arguments)::

    python tools/triton_launcher.py run --model-repository examples/model_repository \\
        -- curl -s http://{http_url}/v2/models/identity

Standard library only, so it runs under any Python >= 3.9 without installing
anything into the interpreter that calls it.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType

__all__ = ["TritonServer", "TritonServerError", "main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_VENV = REPO_ROOT / ".venv-server"
LOOPBACK = "127.0.0.1"

# Exit status of the CLI when the launcher itself fails (bad arguments aside),
# as opposed to CMD failing: 125 is the convention of `docker run`/`git bisect`
# for "the wrapper failed", so it cannot be confused with CMD's own codes.
EXIT_LAUNCHER_FAILED = 125

# Seconds that SIGTERM gets before SIGKILL. Triton drains in-flight requests
# for up to --exit-timeout-secs (we pass a short one) and then unloads models,
# which takes ~1-3 s with Python-backend stubs to shut down.
_STOP_GRACE_S = 20.0
_EXIT_TIMEOUT_SECS = 5
# How often to poll the server while it starts, and how long one probe may take.
_POLL_INTERVAL_S = 0.1
_PROBE_TIMEOUT_S = 2.0
# Lines of the server log quoted in error messages.
_LOG_TAIL_LINES = 40
# Starting with freshly picked ports is retried when another process grabbed
# one of them between our probe and Triton's bind() (an unavoidable race).
_PORT_RETRIES = 3


def _exited(pid: int) -> bool:
    """Whether the child has exited, leaving it unreaped: its pid, and so its
    process group, stay ours to signal."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
    except ChildProcessError:  # already reaped
        return True


def _wait_unreaped(pid: int, timeout_s: float) -> None:
    """Waits up to timeout_s for the child to exit (see _exited)."""
    deadline = time.monotonic() + timeout_s
    while not _exited(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


class TritonServerError(RuntimeError):
    """The server could not be started (message includes the log's tail)."""


def _free_ports(count: int) -> list[int]:
    """Return `count` distinct loopback ports that were free a moment ago.

    All sockets are held open until every port is chosen, so the kernel cannot
    hand the same port out twice; they are closed before Triton binds them.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(server log {path} unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


def _http_get(url: str) -> tuple[int, bytes]:
    """GET `url`; return (status, body), with status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=_PROBE_TIMEOUT_S) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def _set_parent_death_signal() -> None:
    """Runs in the child before exec: have Linux SIGTERM the server if we die.

    Without this, a test run killed with SIGKILL (or a crashed interpreter)
    would leave tritonserver holding its ports and CPU. Caveat of the Linux
    API: the signal fires when the *thread* that forked exits, so start the
    server from a thread that outlives it (the main thread in practice).
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux / no prctl: best effort only
        pass


class TritonServer:
    """A tritonserver process serving `model_repository` on loopback ports.

    Ports are picked at `start()`; `http_port`, `grpc_port` and `metrics_port`
    stay set after `stop()` so callers can check that they were released.
    """

    def __init__(
        self,
        model_repository: str | Path,
        server_venv: str | Path | None = None,
        log_path: str | Path | None = None,
        startup_timeout: float = 120.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.model_repository = Path(model_repository).resolve()
        if server_venv is None:
            server_venv = os.environ.get("PA_SERVER_VENV") or DEFAULT_SERVER_VENV
        self.server_venv = Path(server_venv).resolve()
        # A unique id per instance: Triton reports it in GET /v2, which lets us
        # check that the server answering on "our" port really is ours and not
        # some other server that happens to hold it.
        self.server_id = f"pa-rig-{os.getpid()}-{secrets.token_hex(4)}"
        if log_path is None:
            # Kept after stop(): it is tiny, and it is what one needs to read
            # when a test failed against this server.
            log_path = Path(tempfile.gettempdir()) / f"tritonserver-{self.server_id}.log"
        self._log_path = Path(log_path).resolve()
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self.http_port = 0
        self.grpc_port = 0
        self.metrics_port = 0
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- addresses -----------------------------------------------------------

    def _require_port(self, port: int) -> int:
        if not port:
            raise RuntimeError("TritonServer has not been started")
        return port

    @property
    def http_url(self) -> str:
        """'127.0.0.1:PORT' without a scheme, the form perf_analyzer's -u takes."""
        return f"{LOOPBACK}:{self._require_port(self.http_port)}"

    @property
    def grpc_url(self) -> str:
        return f"{LOOPBACK}:{self._require_port(self.grpc_port)}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self._require_port(self.metrics_port)}/metrics"

    @property
    def log_path(self) -> Path:
        return self._log_path

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        """Alive; one that has exited is left unreaped, so that stop() can
        still signal its process group (the Python backend stubs it leaves)."""
        return self._proc is not None and self._proc.returncode is None and not _exited(self._proc.pid)

    def model_names(self) -> list[str]:
        """Every model in the repository: Triton loads each sub-directory."""
        return sorted(
            p.name for p in self.model_repository.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    # -- server files ----------------------------------------------------------

    def _triton_dir(self) -> Path:
        """The `pytriton/tritonserver` directory inside the server venv."""
        candidates = sorted(self.server_venv.glob("lib/python3.*/site-packages/pytriton/tritonserver"))
        for cand in candidates:
            if (cand / "bin" / "tritonserver").is_file():
                return cand
        raise TritonServerError(
            f"no tritonserver found in server venv {self.server_venv} "
            "(create it with `make server-venv`, or point PA_SERVER_VENV at a venv "
            "with nvidia-pytriton and numpy<2 installed)"
        )

    def _install_stub(self, triton_dir: Path) -> None:
        """Put the Python backend stub where libtriton_python.so looks for it.

        The wheel ships one stub per Python version under python_backend_stubs/;
        pytriton copies the right one at run time, and so must we. It has to
        match the venv's Python (whose numpy the stub imports). Copy to a
        temporary name and rename so concurrent launchers never see half a file.
        """
        version = triton_dir.parents[2].name.removeprefix("python")  # lib/python3.X
        src = triton_dir / "python_backend_stubs" / version / "triton_python_backend_stub"
        dst = triton_dir / "backends" / "python" / "triton_python_backend_stub"
        if not src.is_file():
            raise TritonServerError(f"no Python backend stub for Python {version}: {src}")
        if dst.is_file() and dst.stat().st_size == src.stat().st_size:
            return
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)

    def _command(self, triton_dir: Path) -> list[str]:
        return [
            str(triton_dir / "bin" / "tritonserver"),
            f"--id={self.server_id}",
            f"--model-repository={self.model_repository}",
            f"--backend-directory={triton_dir / 'backends'}",
            # The wheel's response caches (--cache-config local,...) live here, not in /opt.
            f"--cache-directory={triton_dir / 'caches'}",
            # Loopback only: a test rig has no business listening on the LAN.
            f"--http-address={LOOPBACK}",
            f"--http-port={self.http_port}",
            f"--grpc-address={LOOPBACK}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-address={LOOPBACK}",
            f"--metrics-port={self.metrics_port}",
            # CPU-only machines: GPU metrics would only add warnings to the log.
            "--allow-gpu-metrics=false",
            # Drain in-flight requests for at most this long on SIGTERM, so
            # stop() is quick even if a client is still hammering the server.
            f"--exit-timeout-secs={_EXIT_TIMEOUT_SECS}",
            *self.extra_args,
        ]

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The Python backend stub finds its interpreter's packages (numpy<2)
        # through the first `python3` on PATH, so the server venv goes first.
        venv_bin = str(self.server_venv / "bin")
        env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
        env["VIRTUAL_ENV"] = str(self.server_venv)
        # A PYTHONPATH/PYTHONHOME meant for the caller's interpreter (e.g. a
        # numpy>=2 project venv) must not leak into the stub's interpreter.
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
        return env

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> TritonServer:
        """Start the server and block until it and every model are ready."""
        if self.is_running():
            raise RuntimeError("TritonServer is already running")
        if not self.model_repository.is_dir():
            raise TritonServerError(f"model repository not found: {self.model_repository}")
        triton_dir = self._triton_dir()
        self._install_stub(triton_dir)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        for attempt in range(1, _PORT_RETRIES + 1):
            self.http_port, self.grpc_port, self.metrics_port = _free_ports(3)
            try:
                self._launch(triton_dir)
                self._wait_ready(t0)
            except _PortTaken:
                self._kill()
                if attempt == _PORT_RETRIES:
                    raise TritonServerError(
                        f"tritonserver could not bind its ports after {attempt} tries; "
                        f"log {self._log_path}:\n{_tail(self._log_path)}"
                    ) from None
                continue
            except BaseException:
                # Including KeyboardInterrupt: never leave a half-started server.
                self._kill()
                raise
            break
        self.startup_seconds = time.monotonic() - t0
        _live_servers.add(self)
        return self

    def _launch(self, triton_dir: Path) -> None:
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(
                self._command(triton_dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                # Own session: a Ctrl-C in the terminal reaches us, not the
                # server, and we shut it down in order; it also lets _kill()
                # signal the whole group, Python backend stubs included.
                start_new_session=True,
                preexec_fn=_set_parent_death_signal if sys.platform == "linux" else None,
            )

    def _fail(self, why: str) -> TritonServerError:
        return TritonServerError(
            f"tritonserver {why} (repository {self.model_repository}); "
            f"last lines of {self._log_path}:\n{_tail(self._log_path)}"
        )

    def _wait_ready(self, t0: float) -> None:
        assert self._proc is not None
        deadline = t0 + self.startup_timeout
        base = f"http://{self.http_url}"
        pending = self.model_names()
        server_ready = False
        while True:
            if _exited(self._proc.pid):
                self._kill()  # its stubs too, then reaped
                rc = self._proc.returncode
                # Triton 2.51 says e.g. "failed to start HTTP service:
                # Unavailable - Socket '127.0.0.1:PORT' already in use".
                if "already in use" in _tail(self._log_path, 20):
                    raise _PortTaken
                raise self._fail(f"exited with status {rc} while starting")
            if not server_ready:
                status, body = _http_get(f"{base}/v2")
                if status == 200:
                    # Make sure it is our server on this port (see server_id).
                    name = json.loads(body or b"{}").get("name")
                    if name != self.server_id:
                        raise _PortTaken
                    server_ready = _http_get(f"{base}/v2/health/ready")[0] == 200
            if server_ready:
                # /v2/health/ready already implies every loaded model is ready
                # (strict readiness), but we check each one by name too, so a
                # model that was silently not loaded cannot pass unnoticed.
                pending = [m for m in pending if _http_get(f"{base}/v2/models/{m}/ready")[0] != 200]
                # Triton starts the metrics service last and exits if it cannot
                # bind its port, so "ready" is only final once metrics answer.
                if not pending and (not self._metrics_enabled() or self._metrics_ok()):
                    return
            if time.monotonic() >= deadline:
                what = f"models not ready: {', '.join(pending)}" if server_ready else "server not ready"
                raise self._fail(
                    f"did not become ready within {self.startup_timeout:.0f} s ({what})"
                    f"{self._repository_index(base) if server_ready else ''}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _metrics_enabled(self) -> bool:
        flags = " ".join(self.extra_args).replace("=", " ").lower()
        return "--allow-metrics false" not in flags and "--allow-metrics 0" not in flags

    def _metrics_ok(self) -> bool:
        return _http_get(self.metrics_url)[0] == 200

    def _repository_index(self, base: str) -> str:
        """Triton's own view of model states (with failure reasons), for errors."""
        req = urllib.request.Request(f"{base}/v2/repository/index", data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=_PROBE_TIMEOUT_S) as resp:
                body: bytes = resp.read()
            return "\nrepository index: " + body.decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return ""

    def stop(self) -> int | None:
        """SIGTERM, wait, then SIGKILL; always reaps. Returns the exit status.

        Safe to call more than once and on a server that never started.
        """
        _live_servers.discard(self)
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            # os.kill, not send_signal, which reaps a server that has exited
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            _wait_unreaped(proc.pid, _STOP_GRACE_S)
            # A server that aborted (or was killed) leaves its Python backend
            # stubs running: the group goes too, while the server's pid, not
            # yet reaped, still names it.
            self._kill()
        return proc.wait()

    def _kill(self) -> None:
        """SIGKILL the server's whole process group and reap it."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            # Not reaped yet, so the pid (and the group named after it) is
            # still ours: signal the group, Python backend stubs included.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<TritonServer {state} http={self.http_port} repo={self.model_repository}>"


class _PortTaken(Exception):
    """Internal: another process holds one of the ports we picked; retry."""


# Servers started and not yet stopped, stopped at interpreter exit so that an
# unhandled exception in a script does not leave a server behind.
_live_servers: set[TritonServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_live_servers):
        server.stop()


# -- command line ------------------------------------------------------------------


class _Terminated(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise _Terminated(signum)


def _substitute(arg: str, server: TritonServer) -> str:
    # Plain replace rather than str.format: other braces in CMD (JSON bodies,
    # shell snippets) must pass through untouched.
    return (
        arg.replace("{http_url}", server.http_url)
        .replace("{grpc_url}", server.grpc_url)
        .replace("{metrics_url}", server.metrics_url)
    )


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into an exception so `finally` blocks still run."""
    old = {s: signal.signal(s, _raise_terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _stop_child(child: subprocess.Popen[bytes], sig: int) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(sig)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    child.wait()


def _run(args: argparse.Namespace, cmd: list[str]) -> int:
    # Fail before paying for a server start when CMD cannot run at all.
    if shutil.which(cmd[0]) is None:
        print(f"triton_launcher: command not found: {cmd[0]!r}", file=sys.stderr)
        return 127
    server = TritonServer(
        args.model_repository,
        server_venv=args.server_venv,
        log_path=args.log,
        startup_timeout=args.startup_timeout,
    )
    child: subprocess.Popen[bytes] | None = None
    with _signals_raise():
        try:
            try:
                server.start()
            except TritonServerError as exc:
                print(f"triton_launcher: {exc}", file=sys.stderr)
                return EXIT_LAUNCHER_FAILED
            print(
                f"triton_launcher: server ready in {server.startup_seconds:.1f} s: "
                f"http {server.http_url}, grpc {server.grpc_url}, "
                f"metrics {server.metrics_url}, log {server.log_path}",
                file=sys.stderr,
                flush=True,
            )
            argv = [_substitute(a, server) for a in cmd]
            env = dict(os.environ)
            # Also exported, for commands that read them rather than take args.
            env.update(
                TRITON_HTTP_URL=server.http_url,
                TRITON_GRPC_URL=server.grpc_url,
                TRITON_METRICS_URL=server.metrics_url,
            )
            try:
                child = subprocess.Popen(argv, env=env)
            except OSError as exc:
                print(f"triton_launcher: cannot run {argv[0]!r}: {exc}", file=sys.stderr)
                return 127
            rc = child.wait()
            # Killed by signal N: report 128+N as a shell would.
            return rc if rc >= 0 else 128 - rc
        except KeyboardInterrupt:
            # The child shares our process group, so it got the SIGINT as well.
            if child is not None:
                _stop_child(child, signal.SIGINT)
            return 128 + signal.SIGINT
        except _Terminated as exc:
            if child is not None:
                _stop_child(child, signal.SIGTERM)
            return 128 + exc.signum
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first "--" is CMD, verbatim; argparse would
    # otherwise try to interpret CMD's own options.
    cmd: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, cmd = argv[:split], argv[split + 1 :]

    parser = argparse.ArgumentParser(
        prog="triton_launcher.py", description="Run a command against a real Triton server."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser(
        "run",
        help="start the server, run CMD, stop the server, exit with CMD's status",
        usage="%(prog)s --model-repository DIR [--log FILE] -- CMD [ARGS...]",
        epilog="In CMD's arguments {http_url}, {grpc_url} and {metrics_url} are replaced "
        "by the server's addresses (also exported as TRITON_HTTP_URL, TRITON_GRPC_URL "
        f"and TRITON_METRICS_URL). Exit status {EXIT_LAUNCHER_FAILED}: the server "
        "did not start.",
    )
    run.add_argument("--model-repository", required=True, type=Path)
    run.add_argument("--log", type=Path, default=None, help="server log file (default: a temp file)")
    run.add_argument(
        "--server-venv",
        type=Path,
        default=None,
        help="venv with nvidia-pytriton (default: $PA_SERVER_VENV, else <repo>/.venv-server)",
    )
    run.add_argument("--startup-timeout", type=float, default=120.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    if not cmd:
        run.error("missing '-- CMD [ARGS...]'")
    return _run(args, cmd)


if __name__ == "__main__":
    sys.exit(main())
