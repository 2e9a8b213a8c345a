"""--periodic-concurrency-range: one ramp, run by the engine thread itself.

perf_analyzer's mode (for decoupled gRPC streams): start with `start`
requests, and each time every request added last has received
`--request-period` responses, add `step` more, until `end` in all; no
windows, no stability check, every request's timestamps in the export.
Over HTTP a request has one response, so a *slot* (one request in flight
at a time, sent again as soon as it completes) plays the part of a stream:
the ramp raises the concurrency each time every slot added last has
completed `--request-period` requests, and ends when the last `step` slots
have completed theirs. The engine thread counts and raises, so nothing in
Python runs per request."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from perfanalyzer.settings import Settings


class RampEngine(Protocol):
    completed: int
    failed: int
    in_flight: int
    ramp_done: bool

    def set_periodic(self, start: int, end: int, step: int, period: int) -> None: ...
    def set_budget(self, n: int | None) -> None: ...
    def error_messages(self) -> list[str]: ...


@dataclass
class RampResult:
    start_ns: int          # CLOCK_MONOTONIC: the ramp started
    end_ns: int            # ... the last request came back
    completed: int
    failed: int
    status: str = "ok"     # ok | errors | interrupted
    message: str = ""


def run_ramp(settings: Settings, engine: RampEngine, clock_ns: Callable[[], int],
             log: Callable[[str], None] = print) -> RampResult:
    """Runs the ramp to its end, then waits for the requests in flight."""
    r = settings.periodic_concurrency_range
    done_before, failed_before = engine.completed, engine.failed
    start = clock_ns()
    engine.set_periodic(r.start, r.end, r.step, settings.request_period)
    status, message = "ok", ""
    pause = 0.0005
    try:
        # A transport failure is no response and would stall the ramp: stop at the first one.
        while not (engine.ramp_done and engine.in_flight == 0) and engine.failed == failed_before:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    except KeyboardInterrupt:
        engine.set_budget(0)
        status, message = "interrupted", "interrupted: the export holds the requests completed so far"
    end = clock_ns()
    if engine.failed != failed_before and status == "ok":
        engine.set_budget(0)
        status = "errors"
        message = (f"{engine.failed - failed_before} requests failed during the periodic concurrency ramp: "
                   + "; ".join(" ".join(m.split()) for m in engine.error_messages()[:3]))
    result = RampResult(start, end, engine.completed - done_before, engine.failed - failed_before, status, message)
    if settings.verbose:
        log(f"  Periodic concurrency {r.start}:{r.end}:{r.step}, request period {settings.request_period}: "
            f"{result.completed} requests in {(end - start) / 1e6:.1f} msec")
    return result
