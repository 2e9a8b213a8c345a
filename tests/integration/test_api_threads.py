"""perfanalyzer.profile() called again and again leaves no thread behind:
neither Python's (threading.active_count) nor the process's own (engine
threads, libcurl, gRPC), over HTTP, gRPC, with metrics, and when the run
fails."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import perfanalyzer
import pytest
from triton_launcher import TritonServer

from .fault_runs import StatsProxy

CALLS = 8


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def settled(count: Callable[[], int], baseline: int, timeout: float = 10) -> int:
    """The count once threads that end asynchronously (gRPC's shutdown) have
    ended, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while count() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    return count()



@pytest.mark.parametrize("kind", ["http", "curl", "grpc", "metrics", "failing"])
def test_threads_stay_flat_over_repeated_calls(triton: TritonServer, kind: str) -> None:
    settings: dict[str, object] = {
        "http": dict(url=triton.http_url),
        "curl": dict(url=triton.http_url, http_client="curl"),
        "grpc": dict(url=triton.grpc_url, protocol="grpc"),
        "metrics": dict(url=triton.http_url, collect_metrics=True, metrics_url=triton.metrics_url,
                        metrics_interval_ms=50),
        "failing": {},
    }[kind]
    proxy = None
    if kind == "failing":
        # Statistics answer 500 from the start: every run ends on the error path, the engine running.
        proxy = StatsProxy(triton.http_url)
        proxy.fail = "500"
        settings = dict(url=proxy.url)

    def call() -> None:
        result = perfanalyzer.profile("identity", concurrency=1, measurement_interval_ms=100,
                                      stability_percentage=100, max_trials=5, **settings)
        assert result.status == "errors" if proxy else result.status in ("ok", "unstable")

    try:
        call()  # libraries that start threads once per process (gRPC's) have started them
        python_before, os_before = threading.active_count(), os_threads()
        for _ in range(CALLS):
            call()
    finally:
        if proxy is not None:
            proxy.close()
    # The proxy's own threads end with it.
    assert settled(threading.active_count, python_before) <= python_before
    assert settled(os_threads, os_before) <= os_before
