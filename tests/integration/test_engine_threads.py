"""--max-threads 3 against the real server, on every transport: the engine
runs three threads, and the truths of one thread hold (client count = server
count, request budgets exact across threads, the open-loop rate).

Each run is a subprocess on a machine said to have 8 cores: --max-threads is
capped by the cores, and the in-process server of the C API must live in a
process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from .test_capi import MODELS, server_dir  # noqa: F401  (server_dir: the fixture)

THREADS = 3
TRANSPORTS = ["native", "curl", "grpc", "grpc_stream", "capi"]

SCRIPT = """
import json, sys
import perfanalyzer.engine_threads as t
from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, RateRange, Settings

t.usable_cpus = lambda: 8
kw = json.loads(sys.argv[1])
kw["concurrency_range"] = Range(*kw.get("concurrency_range", (1, 1, 1)))
kw["request_rate_range"] = RateRange(*kw.get("request_rate_range", (1.0, 1.0, 1.0)))
kw["load_modes"] = tuple(kw.get("load_modes", ("concurrency",)))
r = profile(Settings(**kw).validate())
levels = [dict(count=lv.merged.request_count, server=lv.merged.server.success_count,
               duration_ns=lv.merged.duration_ns, throughput=lv.merged.throughput,
               skew_ns=sum(lv.merged.server_skew_ns)) for lv in r.sweep.levels]
print(json.dumps(dict(threads=r.engine_threads, exit_code=r.exit_code, message=r.sweep.message, levels=levels)))
"""


def transport_settings(transport: str, triton: Any, request: pytest.FixtureRequest) -> dict[str, object]:
    if transport in ("native", "curl"):
        return dict(url=triton.http_url, http_client=transport)
    if transport in ("grpc", "grpc_stream"):
        return dict(url=triton.grpc_url, protocol="grpc", streaming=transport == "grpc_stream")
    return dict(service_kind="triton_c_api", model_repository=str(MODELS),
                triton_server_directory=request.getfixturevalue("server_dir"))


def profile_on(transport: str, triton: Any, request: pytest.FixtureRequest, **kw: object) -> dict[str, Any]:
    settings = dict(model_name="identity", measurement_interval_ms=500, max_trials=20, stability_percentage=100.0,
                    max_threads=THREADS, **transport_settings(transport, triton, request))
    settings.update(kw)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(settings)], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout.splitlines()[-1])
    assert run["exit_code"] == 0, run["message"]
    assert run["threads"] == THREADS  # the engine ran the threads asked for
    return run


def server_successes(triton: Any, model: str) -> int:
    with urllib.request.urlopen(f"http://{triton.http_url}/v2/models/{model}/stats", timeout=10) as r:
        stats = json.load(r)
    return sum(m["inference_stats"]["success"]["count"] for m in stats["model_stats"])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_threads_count_what_the_server_counts(triton: Any, request: pytest.FixtureRequest, transport: str) -> None:
    before = server_successes(triton, "identity")
    run = profile_on(transport, triton, request, concurrency_range=(4, 4, 1))
    (m,) = run["levels"]
    assert m["count"] > 100
    skew_s = m["skew_ns"] / 1e9 + 0.002  # as in test_http_profile
    assert abs(m["count"] - m["server"]) <= 2 * 4 + m["throughput"] * skew_s + 1
    if transport != "capi":  # the whole run's traffic (all windows, not only the merged 3) reached the server
        assert server_successes(triton, "identity") - before >= m["count"]


@pytest.mark.parametrize("mode", ["concurrency", "request_rate"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_request_count_and_warmup_stay_exact_on_threads(triton: Any, request: pytest.FixtureRequest, transport: str,
                                                        mode: str) -> None:
    before = server_successes(triton, "identity")
    run = profile_on(transport, triton, request, load_modes=(mode,), request_count=301, warmup_request_count=77,
                     concurrency_range=(5, 5, 1), request_rate_range=(2000.0, 2000.0, 1.0))
    (m,) = run["levels"]
    assert m["count"] == 301 == m["server"]
    if transport != "capi":  # the in-process server is another process's: its window count says it all
        assert server_successes(triton, "identity") - before == 301 + 77


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_rate_on_threads_is_the_rate_asked(triton: Any, request: pytest.FixtureRequest, transport: str) -> None:
    run = profile_on(transport, triton, request, load_modes=("request_rate",),
                     request_rate_range=(400.0, 400.0, 1.0))
    (m,) = run["levels"]
    # Loose bound (noisy shared machine): the three threads' thirds add up to the whole rate.
    assert m["count"] / (m["duration_ns"] / 1e9) == pytest.approx(400.0, rel=0.05)
