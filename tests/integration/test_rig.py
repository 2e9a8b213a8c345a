"""The test rig itself: the server starts, serves the example models, stops.

Talks KServe v2 JSON over plain urllib so that a failure here points at the
rig (server, models, launcher), never at the perfanalyzer package.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from triton_launcher import TritonServer, TritonServerError

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = REPO_ROOT / "tools" / "triton_launcher.py"
MODELS = ["add_sub", "bls_add_sub", "ensemble_add_sub", "identity", "identity_dynamic", "optional_add",
          "pass_through", "repeat_4", "sequence_accumulate", "sleep_2ms", "string_echo"]


def _request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _infer(
    server: TritonServer, model: str, inputs: dict[str, tuple[list[int], list[float]]]
) -> tuple[int, Any]:
    body = {
        "inputs": [
            {"name": name, "datatype": "FP32", "shape": shape, "data": data}
            for name, (shape, data) in inputs.items()
        ]
    }
    return _request(f"http://{server.http_url}/v2/models/{model}/infer", body)


def _outputs(reply: dict[str, Any]) -> dict[str, tuple[list[int], list[float]]]:
    return {o["name"]: (o["shape"], o["data"]) for o in reply["outputs"]}


def _floats(n: int, start: float = 0.0) -> list[float]:
    # Multiples of 0.25 are exact in FP32, so equality checks are safe.
    return [start + 0.25 * i for i in range(n)]


# -- server ----------------------------------------------------------------------


def test_server_live_ready_and_ours(triton: TritonServer) -> None:
    base = f"http://{triton.http_url}"
    assert _request(f"{base}/v2/health/live")[0] == 200
    assert _request(f"{base}/v2/health/ready")[0] == 200
    status, meta = _request(f"{base}/v2")
    assert status == 200
    assert meta["name"] == triton.server_id  # not some other server on the port
    assert triton.http_url == f"127.0.0.1:{triton.http_port}"
    assert triton.grpc_url == f"127.0.0.1:{triton.grpc_port}"
    assert len({triton.http_port, triton.grpc_port, triton.metrics_port}) == 3


@pytest.mark.parametrize("model", MODELS)
def test_model_ready(triton: TritonServer, model: str) -> None:
    assert _request(f"http://{triton.http_url}/v2/models/{model}/ready")[0] == 200


def test_model_repository_lists_exactly_the_examples(triton: TritonServer) -> None:
    assert triton.model_names() == MODELS


@pytest.mark.parametrize(
    ("model", "max_batch_size", "dims"),
    [("identity", 64, [16]), ("add_sub", 0, [16]), ("sleep_2ms", 8, [1]), ("identity_dynamic", 8, [-1]),
     ("pass_through", 0, [16]), ("bls_add_sub", 0, [16])],
)
def test_model_config(triton: TritonServer, model: str, max_batch_size: int, dims: list[int]) -> None:
    # perfanalyzer's tests rely on these exact shapes and batch limits.
    status, cfg = _request(f"http://{triton.http_url}/v2/models/{model}/config")
    assert status == 200
    assert cfg["max_batch_size"] == max_batch_size
    assert cfg["input"][0]["dims"] == dims
    assert cfg["input"][0]["data_type"] == "TYPE_FP32"
    assert "dynamic_batching" not in cfg
    assert [(g["count"], g["kind"]) for g in cfg["instance_group"]] == [(1, "KIND_CPU")]


def test_metrics_endpoint(triton: TritonServer) -> None:
    with urllib.request.urlopen(triton.metrics_url, timeout=10) as resp:
        text = resp.read().decode()
    assert resp.status == 200
    assert "nv_inference_request_success" in text


# -- models ----------------------------------------------------------------------


def test_identity(triton: TritonServer) -> None:
    data = _floats(2 * 16, -3.0)
    status, reply = _infer(triton, "identity", {"INPUT0": ([2, 16], data)})
    assert status == 200, reply
    assert _outputs(reply) == {"OUTPUT0": ([2, 16], data)}


def test_identity_rejects_batch_over_max(triton: TritonServer) -> None:
    status, reply = _infer(triton, "identity", {"INPUT0": ([65, 16], _floats(65 * 16))})
    assert status == 400, reply


def test_add_sub(triton: TritonServer) -> None:
    a, b = _floats(16, 1.0), _floats(16, 0.5)[::-1]
    status, reply = _infer(triton, "add_sub", {"INPUT0": ([16], a), "INPUT1": ([16], b)})
    assert status == 200, reply
    assert _outputs(reply) == {
        "OUTPUT0": ([16], [x + y for x, y in zip(a, b, strict=True)]),
        "OUTPUT1": ([16], [x - y for x, y in zip(a, b, strict=True)]),
    }


@pytest.mark.parametrize("model", ["ensemble_add_sub", "bls_add_sub"])
def test_composed_add_sub(triton: TritonServer, model: str) -> None:
    # Same answer as add_sub, computed through add_sub and pass_through on the server.
    base = f"http://{triton.http_url}/v2/models"
    counts = {}
    for step in ("add_sub", "pass_through"):
        counts[step] = int(_request(f"{base}/{step}/stats")[1]["model_stats"][0]["inference_count"])
    a, b = _floats(16, 1.0), _floats(16, 0.5)[::-1]
    status, reply = _infer(triton, model, {"INPUT0": ([16], a), "INPUT1": ([16], b)})
    assert status == 200, reply
    assert _outputs(reply) == {
        "OUTPUT0": ([16], [x + y for x, y in zip(a, b, strict=True)]),
        "OUTPUT1": ([16], [x - y for x, y in zip(a, b, strict=True)]),
    }
    for step, before in counts.items():
        after = int(_request(f"{base}/{step}/stats")[1]["model_stats"][0]["inference_count"])
        assert after == before + 1, step


def test_ensemble_config_steps(triton: TritonServer) -> None:
    status, cfg = _request(f"http://{triton.http_url}/v2/models/ensemble_add_sub/config")
    assert status == 200
    assert cfg["platform"] == "ensemble"
    steps = [(s["model_name"], int(s["model_version"])) for s in cfg["ensemble_scheduling"]["step"]]
    assert steps == [("add_sub", -1), ("pass_through", 1)]


def test_add_sub_is_not_batching(triton: TritonServer) -> None:
    # A batch dimension is an error for a max_batch_size 0 model.
    data = _floats(32)
    status, reply = _infer(triton, "add_sub", {"INPUT0": ([2, 16], data), "INPUT1": ([2, 16], data)})
    assert status == 400, reply


@pytest.mark.parametrize("shape", [[1, 1], [3, 7], [8, 100]])
def test_identity_dynamic(triton: TritonServer, shape: list[int]) -> None:
    data = _floats(shape[0] * shape[1], 2.0)
    status, reply = _infer(triton, "identity_dynamic", {"INPUT0": (shape, data)})
    assert status == 200, reply
    assert _outputs(reply) == {"OUTPUT0": (shape, data)}


def test_sleep_2ms_output_and_service_time(triton: TritonServer) -> None:
    base = f"http://{triton.http_url}/v2/models/sleep_2ms"
    _, before = _request(f"{base}/stats")
    n = 10
    elapsed = []
    for i in range(n):
        t0 = time.perf_counter()
        status, reply = _infer(triton, "sleep_2ms", {"INPUT0": ([1, 1], [float(i)])})
        elapsed.append(time.perf_counter() - t0)
        assert status == 200, reply
        assert _outputs(reply) == {"OUTPUT0": ([1, 1], [float(i)])}
    assert min(elapsed) >= 0.002
    # Server side: the compute time Triton measured is >= 2 ms per request.
    _, after = _request(f"{base}/stats")

    def compute(stats: dict[str, Any]) -> tuple[int, int]:
        c = stats["model_stats"][0]["inference_stats"]["compute_infer"]
        return int(c["count"]), int(c["ns"])

    (c0, ns0), (c1, ns1) = compute(before), compute(after)
    assert c1 - c0 == n
    assert (ns1 - ns0) / n >= 2_000_000


# -- launcher ----------------------------------------------------------------------


@pytest.fixture
def small_repository(tmp_path: Path, model_repository: Path) -> Path:
    """Just `identity`: a second server that starts and stops faster."""
    repo = tmp_path / "models"
    shutil.copytree(model_repository / "identity", repo / "identity")
    return repo


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # after "pid (comm)": state, ppid, pgrp
            members.append(int(stat.parent.name))
    return members


def test_stop_frees_ports_and_reaps(small_repository: Path) -> None:
    server = TritonServer(small_repository)
    with server:
        assert server.is_running()
        pid = server.pid
        assert pid is not None
        assert _request(f"http://{server.http_url}/v2/health/ready")[0] == 200
        ports = (server.http_port, server.grpc_port, server.metrics_port)
    assert not server.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: not even a zombie is left
    if sys.platform == "linux":
        assert _group_members(pid) == []  # no Python backend stub left behind
    for port in ports:
        with socket.socket() as s:
            err = s.connect_ex(("127.0.0.1", port))
        assert err == errno.ECONNREFUSED, f"port {port} still accepts connections"
        with socket.socket() as s:
            # SO_REUSEADDR tolerates TIME_WAIT leftovers; a listener would still block us.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    assert server.stop() is not None  # idempotent


@pytest.mark.skipif(sys.platform != "linux", reason="reads process groups from /proc")
def test_a_server_that_died_leaves_no_backend_stub(small_repository: Path) -> None:
    # Triton 2.51 can abort (a gRPC assertion, a failed exit); a Python
    # backend stub stuck at that moment then stays, orphaned, for ever.
    server = TritonServer(small_repository)
    with server:
        pid = server.pid
        assert pid is not None
        stubs = [m for m in _group_members(pid) if m != pid]
        assert stubs  # the example models run on the Python backend
        for stub in stubs:  # stuck: it cannot notice its server is gone
            os.kill(stub, signal.SIGSTOP)
        os.kill(pid, signal.SIGKILL)  # the server alone, as an abort would
        deadline = time.monotonic() + 10
        while server.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert server.stop() == -signal.SIGKILL
    deadline = time.monotonic() + 10  # SIGKILL is delivered, not waited for
    while _group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_members(pid) == []


def test_broken_model_fails_fast_with_log_tail(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "config.pbtxt").write_text(
        'name: "broken"\nbackend: "python"\nmax_batch_size: 0\n'
        'input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ 1 ] }]\n'
        'output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 1 ] }]\n'
    )
    (repo / "broken" / "1" / "model.py").write_text(
        "class TritonPythonModel:\n"
        "    def initialize(self, args):\n"
        "        raise RuntimeError('deliberately broken model')\n"
    )
    server = TritonServer(repo, log_path=tmp_path / "server.log", startup_timeout=60)
    t0 = time.monotonic()
    with pytest.raises(TritonServerError) as info:
        server.start()
    assert time.monotonic() - t0 < 30  # the process death is noticed, no timeout
    assert "deliberately broken model" in str(info.value)
    assert str(tmp_path / "server.log") in str(info.value)
    assert not server.is_running()


def test_missing_server_venv_is_a_clear_error(tmp_path: Path, model_repository: Path) -> None:
    with pytest.raises(TritonServerError, match="make server-venv"):
        TritonServer(model_repository, server_venv=tmp_path / "nope").start()


def test_cli_run_substitutes_urls_and_propagates_exit_code(small_repository: Path) -> None:
    script = (
        "import json, os, sys, urllib.request\n"
        "http, grpc, metrics = sys.argv[1:4]\n"
        "assert http == os.environ['TRITON_HTTP_URL'], http\n"
        "assert metrics.startswith('http://127.0.0.1:') and metrics.endswith('/metrics')\n"
        "meta = json.load(urllib.request.urlopen('http://' + http + '/v2/models/identity'))\n"
        "print('MODEL', meta['name'], 'GRPC', grpc, '{kept}')\n"
        "sys.exit(7)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(LAUNCHER),
            "run",
            "--model-repository",
            str(small_repository),
            "--",
            sys.executable,
            "-c",
            script,
            "{http_url}",
            "{grpc_url}",
            "{metrics_url}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 7, proc.stderr
    assert "MODEL identity GRPC 127.0.0.1:" in proc.stdout
    assert "{kept}" in proc.stdout  # other braces pass through untouched


def test_cli_reports_launcher_failure(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(LAUNCHER), "run", "--model-repository", str(tmp_path / "missing"), "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 125
    assert "model repository not found" in proc.stderr
