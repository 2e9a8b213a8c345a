"""--binary-search on the fixed-service-time model: latency grows by one
service time (~2.5 ms) per extra request in flight on its single instance."""

from __future__ import annotations

import re

from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, Settings


def test_binary_search_converges_on_the_highest_level_under_the_limit(triton) -> None:
    lines: list[str] = []
    s = Settings(model_name="sleep_2ms", url=triton.http_url, concurrency_range=Range(1, 16, 1),
                 latency_threshold_ms=10, binary_search=True, measurement_interval_ms=600, max_trials=20,
                 stability_percentage=100.0).validate()
    result = profile(s, out=lines.append)
    assert result.exit_code == 0, result.sweep.message
    passed = [lvl.value for lvl in result.sweep.levels]
    over = [int(v) for v in re.findall(r"latency over the limit of 10 msec at concurrency (\d+)", "\n".join(lines))]
    best = max(passed)
    # Bisection: start passed, end failed, and the answer's next level failed.
    assert passed[0] == 1 and 16 in over
    assert best + 1 in over
    assert all(lvl.merged.avg_latency_ns < 10e6 for lvl in result.sweep.levels)
    # ~2.5 ms per request in flight: the answer is 3 or 4 on any sane machine.
    assert 2 <= best <= 5
    # Far fewer levels than a linear sweep to 16.
    assert len(passed) + len(over) <= 6
