"""--request-count and --warmup-request-count: exact counts, checked against
the server's own statistics."""

from __future__ import annotations

import json
import urllib.request

import pytest
from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, RateRange, Settings


def server_successes(triton, model: str) -> int:
    with urllib.request.urlopen(f"http://{triton.http_url}/v2/models/{model}/stats", timeout=10) as r:
        stats = json.load(r)
    return sum(m["inference_stats"]["success"]["count"] for m in stats["model_stats"])


@pytest.mark.parametrize("mode", ["concurrency", "request_rate"])
def test_request_count_and_warmup_are_exact(triton, mode: str) -> None:
    before = server_successes(triton, "identity")
    s = Settings(model_name="identity", url=triton.http_url, load_modes=(mode,), request_count=257,
                 warmup_request_count=100, concurrency_range=Range(4, 4, 1),
                 request_rate_range=RateRange(2000.0, 2000.0, 1.0)).validate()
    result = profile(s)
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert level.stable and level.windows == 1
    assert level.merged.request_count == 257
    assert level.merged.server.success_count == 257
    # The warm-up reached the server but not the report.
    assert server_successes(triton, "identity") - before == 257 + 100
