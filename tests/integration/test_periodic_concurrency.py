"""--periodic-concurrency-range against the real server: the ramp seen in the
export's own timestamps, every request exported, the console as perf_analyzer's."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from .helpers import cli


def server_successes(triton, model: str) -> int:
    with urllib.request.urlopen(f"http://{triton.http_url}/v2/models/{model}/stats", timeout=10) as r:
        stats = json.load(r)
    return sum(m["inference_stats"]["success"]["count"] for m in stats["model_stats"])


def first_time_at_each_level(requests: list[dict]) -> dict[int, int]:
    """Requests in flight over time, from the records alone: for each level
    reached, the first time it was reached (sweep over sends and answers)."""
    events = []
    for r in requests:
        events.append((r["timestamp"], 1))
        events.append((r["response_timestamps"][-1], -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an answer at the same ns as a send frees its slot first
    level, first = 0, {}
    for t, d in events:
        level += d
        first.setdefault(level, t)
    return first


def test_ramp_rises_in_steps_and_every_request_is_exported(triton, tmp_path: Path) -> None:
    out = tmp_path / "ramp.json"
    before = server_successes(triton, "sleep_2ms")
    run = cli("-m", "sleep_2ms", "-u", triton.http_url, "--periodic-concurrency-range", "1:5:2",
              "--request-period", "4", "--profile-export-file", str(out))
    after = server_successes(triton, "sleep_2ms")
    assert run.code == 0, run.stderr
    # As perf_analyzer: the settings block, then nothing per level.
    assert "*** Measurement Settings ***" in run.stdout
    assert "Request concurrency" not in run.stdout and "Inferences/Second" not in run.stdout
    (e,) = json.loads(out.read_text())["experiments"]
    assert e["experiment"] == {"mode": "concurrency", "value": 5}
    requests = e["requests"]
    assert len(requests) == after - before
    # Slots 1, then 3, then 5: the first slot alone sends at least its period;
    # each later group of slots sends at least one period too.
    assert len(requests) >= 4 + 2 * 4 + 2 * 4
    start, end = e["window_boundaries"]
    assert all(start <= r["timestamp"] < r["response_timestamps"][-1] <= end for r in requests)
    first = first_time_at_each_level(requests)
    assert max(first) == 5, "the ramp never reached its end"
    times = [first[k] for k in range(1, 6)]
    assert times == sorted(times)
    # Level 2 appears only once the first slot had its 4 responses (the ramp's first step).
    ends = sorted(r["response_timestamps"][-1] for r in requests)
    assert first[2] >= ends[3]


def test_periodic_needs_an_export_file(triton) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--periodic-concurrency-range", "1:4:1")
    assert run.code == 3
    assert "Must provide --profile-export-file when using the --periodic-concurrency-range option." in run.stderr


def test_periodic_excludes_other_load_modes(triton, tmp_path: Path) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--periodic-concurrency-range", "1:4:1",
              "--concurrency-range", "2", "--profile-export-file", str(tmp_path / "x.json"))
    assert run.code == 3
    assert "--periodic-concurrency-range" in run.stderr and "--concurrency-range" in run.stderr
    assert not (tmp_path / "x.json").exists()
