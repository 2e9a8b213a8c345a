"""The budget calls behind --request-count and --warmup-request-count: no
request may start outside the exact counts (checked on a fake engine that
records every call; the integration test checks the server's own count)."""

from __future__ import annotations

import pytest
from perfanalyzer import _core
from perfanalyzer.profiler import Profiler
from perfanalyzer.settings import Range, RateRange, Settings


class BudgetEngine:
    """Completes every budgeted request at once and logs the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self._completed = 0
        self.failed = 0
        self.in_flight = 0
        self.now = 0

    def set_concurrency(self, n: int) -> None:
        self.calls.append(("load", n))

    def set_rate(self, rate: float, distribution: str, seed: int, max_inflight: int) -> None:
        self.calls.append(("load", rate))

    def set_intervals(self, intervals_ns: list[int], max_inflight: int) -> None:
        self.calls.append(("load", len(intervals_ns)))

    def set_budget(self, n: int | None) -> None:
        self.calls.append(("budget", n))

    @property
    def completed(self) -> int:
        # every read says more completed, so waits on a count end at once
        self._completed += 1_000
        return self._completed

    def swap(self) -> tuple[int, object]:
        self.now += 1_000_000
        w = _core.WindowStats()
        for _ in range(3):
            w.record_ok(0, 0, 1000, 1000)
        return self.now, w

    def error_messages(self) -> list[str]:
        return []


def budgets(engine: BudgetEngine) -> list[object]:
    return [v for kind, v in engine.calls if kind == "budget"]


@pytest.mark.parametrize("mode", ["concurrency", "request_rate"])
def test_warm_up_then_request_count_never_reopens_the_budget(mode: str) -> None:
    s = Settings(model_name="m", load_modes=(mode,), request_count=257, warmup_request_count=100,
                 concurrency_range=Range(4, 4, 1), request_rate_range=RateRange(2000.0, 2000.0, 1.0)).validate()
    engine = BudgetEngine()
    Profiler(s, engine, lambda: None, log=lambda _: None, clock_ns=lambda: engine.now).sweep()
    assert None not in budgets(engine)
    assert [b for b in budgets(engine) if b] == [100, 257]


def test_warm_up_before_time_windows_reopens_the_budget() -> None:
    s = Settings(model_name="m", warmup_request_count=10, measurement_mode="count_windows",
                 measurement_request_count=3).validate()
    engine = BudgetEngine()
    Profiler(s, engine, lambda: None, log=lambda _: None, clock_ns=lambda: engine.now).sweep()
    assert budgets(engine)[:3] == [0, 10, None]


class StuckEngine(BudgetEngine):
    """One request in flight that never completes nor fails: a server that
    stopped answering, with no --request-timeout to fail the request."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 1

    @property
    def completed(self) -> int:
        return 0


@pytest.mark.parametrize("flags", [dict(request_count=10), dict(measurement_mode="count_windows"),
                                   dict(warmup_request_count=10, request_count=10)])
def test_a_count_that_stops_moving_ends_the_run(flags: dict) -> None:
    # Before, these waits polled forever. The clock jumps 1 s per read, so the
    # 30 s of no progress pass at once; nothing here depends on real time.
    s = Settings(model_name="m", **flags).validate()
    engine = StuckEngine()

    def clock() -> int:
        engine.now += 1_000_000_000
        return engine.now

    result = Profiler(s, engine, lambda: None, log=lambda _: None, clock_ns=clock).sweep()
    assert result.status == "errors"
    assert "no request completed or failed in 30 s with 1 in flight" in result.message
