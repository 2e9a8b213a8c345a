"""perfanalyzer's Python API: a concurrency sweep, then a request rate from
asyncio code. Runs against a Triton at $TRITON_URL (default localhost:8000)
serving examples/model_repository; passes mypy --strict."""

from __future__ import annotations

import asyncio
import os

import perfanalyzer
from perfanalyzer.api import ProfileResult, Window

URL = os.environ.get("TRITON_URL", "localhost:8000")


def sweep() -> ProfileResult:
    seen: list[Window] = []
    result = perfanalyzer.profile(
        "identity",
        url=URL,
        concurrency=range(1, 3),          # levels 1 and 2; also an int, or [start, end, step]
        measurement_interval_ms=500,      # every CLI setting, under its Settings name
        stability_percentage=100,         # loose, for a noisy shared machine (default 10)
        max_trials=20,
        on_window=seen.append,            # called after every measurement window
    )
    for level in result.levels:
        server = level.server or {}
        print(f"concurrency {level.value:g}: {level.throughput:.1f} infer/sec, "
              f"p99 {level.percentiles_us[99]} usec, server queue {server.get('queue')} usec, "
              f"{'stable' if level.stable else 'UNSTABLE'} after {level.windows} windows")
    assert result.exit_code == 0 and len(result.levels) == 2
    assert len(seen) == sum(level.windows for level in result.levels)
    result.to_csv("identity.csv")         # perf_analyzer's CSV of the stable levels
    return result


async def open_loop() -> ProfileResult:
    # The run goes on in a worker thread: the event loop stays free, and
    # cancelling this task stops the run cleanly.
    return await perfanalyzer.profile_async("identity", url=URL, request_rate=[200.0], measurement_interval_ms=500,
                                            stability_percentage=100, max_trials=20)


if __name__ == "__main__":
    sweep()
    rate = asyncio.run(open_loop())
    print(f"request rate {rate.levels[0].value:g}/s: p50 {rate.levels[0].percentiles_us[50]} usec")
