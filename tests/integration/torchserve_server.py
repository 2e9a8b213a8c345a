"""A real TorchServe (Java frontend and Python worker) for the tests, from its
own venv (`make torchserve-venv`, or $PA_TORCHSERVE_VENV), serving one model
whose handler needs no weights: it answers each request with its body and
appends the body to a record file, so a test can compare what TorchServe's
worker was given with what the client sent.

Everything it makes (model store, logs, the launcher's pid file, the worker's
socket) lives in one directory, and every port is a free one on 127.0.0.1, so
two servers (or another user's TorchServe) never meet."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180.0  # the first worker imports torch: seconds on a quiet machine, far more on a loaded one
STOP_TIMEOUT_S = 30.0

# TorchServe's own handler contract: handle(data, context) gets a batch (a
# list of rows, the raw body under "body") and returns one answer per row.
HANDLER = '''\
import os


def handle(data, context):
    if data is None:  # the load-time call
        return None
    out = []
    for row in data:
        body = bytes(row.get("body") or b"")
        fd = os.open(os.environ["PA_TS_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, len(body).to_bytes(4, "little") + body)  # one write: records never interleave
        finally:
            os.close(fd)
        out.append(body)
    return out
'''


class TorchServeError(RuntimeError):
    pass


def venv() -> Path:
    return Path(os.environ.get("PA_TORCHSERVE_VENV") or REPO_ROOT / ".venv-torchserve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TorchServe:
    def __init__(self, workdir: Path, model: str = "echo") -> None:
        self.workdir = workdir
        self.model = model
        self.record = workdir / "received.bin"
        self.log = workdir / "torchserve.log"
        self.ports = {name: _free_port() for name in ("inference", "management", "metrics", "grpc_inference",
                                                      "grpc_management")}
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.ports['inference']}"

    def start(self) -> None:
        bin_dir = venv() / "bin"
        if not (bin_dir / "torchserve").exists():
            raise TorchServeError(f"no TorchServe in {venv()} (make torchserve-venv)")
        store, tmp = self.workdir / "model-store", self.workdir / "tmp"
        store.mkdir()
        tmp.mkdir()
        handler = self.workdir / "echo_handler.py"
        handler.write_text(HANDLER)
        archive = subprocess.run([str(bin_dir / "torch-model-archiver"), "--model-name", self.model, "--version",
                                  "1.0", "--handler", str(handler), "--export-path", str(store)],
                                 capture_output=True, text=True, timeout=120)
        if archive.returncode != 0:
            raise TorchServeError(f"torch-model-archiver failed: {archive.stderr.strip()}")
        p = self.ports
        config = self.workdir / "config.properties"
        config.write_text("\n".join([
            f"inference_address=http://127.0.0.1:{p['inference']}",
            f"management_address=http://127.0.0.1:{p['management']}",
            f"metrics_address=http://127.0.0.1:{p['metrics']}",
            "grpc_inference_address=127.0.0.1", f"grpc_inference_port={p['grpc_inference']}",
            "grpc_management_address=127.0.0.1", f"grpc_management_port={p['grpc_management']}",
            "disable_token_authorization=true",  # 0.12 asks for a key file's token by default
            "disable_system_metrics=true",
            "default_workers_per_model=1",
            "enable_envvars_config=false",  # the environment of the test run changes nothing
            f"model_store={store}",
            "",
        ]))
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               # the launcher's pid file and the worker's unix socket go to the temp dir: ours alone
               "TMPDIR": str(tmp), "TEMP": str(tmp), "PA_TS_RECORD": str(self.record)}
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "TS_CONFIG_FILE"):
            env.pop(name, None)
        with open(self.log, "wb") as log:
            self._proc = subprocess.Popen(
                [str(bin_dir / "torchserve"), "--start", "--foreground", "--ncs", "--ts-config", str(config),
                 "--model-store", str(store), "--models", f"{self.model}={self.model}.mar"],
                cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)  # the launcher, java and the workers: one process group to stop
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f"http://127.0.0.1:{self.ports['management']}/models/{self.model}"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise TorchServeError(f"TorchServe exited with code {self._proc.returncode}\n{self.log_tail()}")
            if "Backend worker error" in self._log_text():
                # TorchServe would retry the worker for minutes; its first failure says why
                raise TorchServeError(f"the model's worker failed to start\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    workers = json.loads(r.read())[0].get("workers", [])
                if any(w.get("status") == "READY" for w in workers):
                    return
            except (OSError, ValueError, IndexError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise TorchServeError(f"no READY worker for '{self.model}' after {START_TIMEOUT_S:.0f} s\n{self.log_tail()}")

    def _log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        """The log's last lines without Java stack frames and metric lines, which bury the reason."""
        kept = [line for line in self._log_text().splitlines()
                if not line.startswith("\tat ") and "TS_METRICS" not in line]
        return "\n".join(kept[-lines:]) or "(empty log)"

    def received(self) -> list[bytes]:
        """The bodies the worker's handler was given, in the order it got them."""
        if not self.record.exists():
            return []
        raw, out, i = self.record.read_bytes(), [], 0
        while i < len(raw):
            n = int.from_bytes(raw[i:i + 4], "little")
            out.append(raw[i + 4:i + 4 + n])
            i += 4 + n
        return out

    def access_log_count(self, request_line: str, status: int) -> int:
        """How many times TorchServe's frontend logged answering `request_line` with `status`."""
        needle = f'"{request_line} HTTP/1.1" {status} '
        return sum(1 for line in self._log_text().splitlines() if "ACCESS_LOG" in line and needle in line)

    def wait_access_log_count(self, request_line: str, status: int, expected: int, timeout_s: float = 20.0) -> int:
        """The frontend logs after it answers: wait (bounded) for the log to catch up with the client."""
        deadline = time.monotonic() + timeout_s
        count = self.access_log_count(request_line, status)
        while count < expected and time.monotonic() < deadline:
            time.sleep(0.1)
            count = self.access_log_count(request_line, status)
        return count

    def stop(self) -> None:
        """SIGTERM to the whole group (launcher, java, workers), SIGKILL to what is left after a while."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and _group_alive(proc):
                time.sleep(0.2)
        proc.wait(timeout=10)


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    proc.poll()  # reaps the launcher: a zombie would keep the group alive
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True
