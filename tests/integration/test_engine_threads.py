"""--max-threads 2 against the real server: the same truths as one thread
(client count = server count, exact request counts, the open-loop rate)."""

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


def settings(triton, **kw) -> Settings:
    base = dict(model_name="identity", url=triton.http_url, measurement_interval_ms=500, max_trials=20,
                stability_percentage=100.0, max_threads=2)
    base.update(kw)
    return Settings(**base).validate()


@pytest.mark.parametrize("client", ["native", "curl"])
def test_two_threads_count_what_the_server_counts(triton, client: str) -> None:
    before = server_successes(triton, "identity")
    result = profile(settings(triton, concurrency_range=Range(4, 4, 1), http_client=client))
    after = server_successes(triton, "identity")
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    m = level.merged
    assert m.request_count > 100
    skew_s = sum(m.server_skew_ns) / 1e9 + 0.002  # as in test_http_profile
    assert abs(m.request_count - m.server.success_count) <= 2 * 4 + m.throughput * skew_s + 1
    # The run's whole traffic (all windows, not only the merged 3) reached the server.
    assert after - before >= m.request_count


@pytest.mark.parametrize("mode", ["concurrency", "request_rate"])
def test_request_count_and_warmup_stay_exact_on_two_threads(triton, mode: str) -> None:
    before = server_successes(triton, "identity")
    s = settings(triton, load_modes=(mode,), request_count=301, warmup_request_count=77,
                 concurrency_range=Range(5, 5, 1), request_rate_range=RateRange(2000.0, 2000.0, 1.0))
    result = profile(s)
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert level.merged.request_count == 301 == level.merged.server.success_count
    assert server_successes(triton, "identity") - before == 301 + 77


def test_rate_on_two_threads_is_the_rate_asked(triton) -> None:
    result = profile(settings(triton, load_modes=("request_rate",), request_rate_range=RateRange(400.0, 400.0, 1.0)))
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    m = level.merged
    # Loose bound (noisy shared machine): the two threads' halves add up to the whole rate.
    assert m.request_count / (m.duration_ns / 1e9) == pytest.approx(400.0, rel=0.05)
