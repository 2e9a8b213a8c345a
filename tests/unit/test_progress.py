"""The live progress line's elapsed time and estimate of what is left, from an
injected clock (no terminal, no sleeping)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from perfanalyzer.report.progress import Progress, clock_text, planned_levels
from perfanalyzer.settings import Range, RateRange, Settings

S = 1_000_000_000  # ns


class Clock:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


class Counters:
    completed = 0


@pytest.mark.parametrize("seconds, text", [
    (0, "0:00"), (0.9, "0:00"), (59.99, "0:59"), (61, "1:01"), (599, "9:59"), (3599, "59:59"),
    (3600 + 62, "1:01:02"), (36 * 3600, "36:00:00"), (-3, "0:00"),
])
def test_clock_text(seconds: float, text: str) -> None:
    assert clock_text(seconds) == text


def test_planned_levels_of_a_sweep() -> None:
    assert planned_levels(Settings(model_name="m", concurrency_range=Range(1, 8, 1))) == 8
    assert planned_levels(Settings(model_name="m", concurrency_range=Range(2, 16, 7))) == 3   # 2, 9, 16
    assert planned_levels(Settings(model_name="m", concurrency_range=Range(1, 0, 1))) is None  # until -l
    rate = Settings(model_name="m", load_modes=("request_rate",), request_rate_range=RateRange(10.0, 40.0, 10.0))
    assert planned_levels(rate) == 4
    assert planned_levels(Settings(model_name="m", load_modes=("request_intervals",))) == 1
    assert planned_levels(Settings(model_name="m", load_modes=("periodic_concurrency",))) is None


def _bisection_levels(lo: int, hi: int, step: int, verdicts: tuple[bool, ...]) -> int:
    """The number of levels the profiler's binary search measures for one
    sequence of verdicts (start and end pass, then the bisection)."""
    n, it = 2, iter(verdicts)
    while hi - lo > step:
        mid = (lo + hi) // 2
        n += 1
        lo, hi = (mid, hi) if next(it) else (lo, mid)
    return n


@pytest.mark.parametrize("lo, hi, step", [(1, 16, 1), (1, 17, 1), (3, 40, 2), (1, 2, 1), (5, 5, 1), (1, 100, 7)])
def test_planned_levels_of_a_binary_search_is_its_longest_path(lo: int, hi: int, step: int) -> None:
    s = Settings(model_name="m", concurrency_range=Range(lo, hi, step), binary_search=True, latency_threshold_ms=5)
    longest = max(_bisection_levels(lo, hi, step, v) for v in itertools.product((True, False), repeat=8))
    assert planned_levels(s) == longest


def test_elapsed_and_estimate_from_finished_levels(tmp_path: Path) -> None:
    clock = Clock()
    with (tmp_path / "err").open("w") as stream:
        p = Progress(Counters(), 10, 10.0, "concurrency", clock_ns=clock, stream=stream, planned_levels=4)
        p.level_start(1)
        clock.ns = 5 * S
        # Nothing finished yet: nothing to estimate from.
        assert p.time_text() == "elapsed 0:05"
        assert p.text().startswith("concurrency 1 | elapsed 0:05 | window 1/10")  # before what a narrow terminal cuts
        clock.ns = 10 * S
        p.level_start(2)          # level 1 took 10 s
        clock.ns = 13 * S
        # 3 levels to go at 10 s each, 3 s of the current one done
        assert p.time_text() == "elapsed 0:13, about 0:27 left (estimate)"
        clock.ns = 30 * S
        p.level_start(3)          # levels 1 and 2 took 30 s: 15 s each
        clock.ns = 31 * S
        assert p.time_text() == "elapsed 0:31, about 0:29 left (estimate)"
        clock.ns = 95 * S         # the last level runs longer than the mean: never a negative time
        p.level_start(4)
        clock.ns = 200 * S
        assert p.time_text() == "elapsed 3:20, about 0:00 left (estimate)"


def test_no_estimate_when_the_sweep_grows_until_the_limit(tmp_path: Path) -> None:
    clock = Clock()
    with (tmp_path / "err").open("w") as stream:
        p = Progress(Counters(), 10, 10.0, "concurrency", clock_ns=clock, stream=stream, planned_levels=None)
        p.level_start(1)
        clock.ns = 4000 * S
        p.level_start(2)
        clock.ns = 4001 * S
        assert p.time_text() == "elapsed 1:06:41"
        assert "estimate" not in p.text()
