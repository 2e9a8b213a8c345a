"""Measurement windows, the stability rule, the merge of stable windows and
the concurrency sweep: perf_analyzer's algorithm, over the compiled engine."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from perfanalyzer import stopping
from perfanalyzer.errors import PerfAnalyzerError
from perfanalyzer.server_stats import ServerStats, StatsSnapshot
from perfanalyzer.settings import Settings

STABLE_WINDOWS = 3
PERCENTILES = (50, 90, 95, 99)
# A count-based wait (--request-count, count windows, warm-up, settling) with
# requests in flight and none completing or failing for this long ends the run:
# a time window against a server that stopped answering ends in about as long
# (its statistics read times out at 30 s).
STALL_NS = 30_000_000_000


class Engine(Protocol):
    """What the profiler needs from a compiled engine."""

    completed: int
    failed: int

    def set_concurrency(self, n: int) -> None: ...
    def set_rate(self, rate: float, distribution: str, seed: int, max_inflight: int) -> None: ...
    def set_intervals(self, intervals_ns: list[int], max_inflight: int) -> None: ...
    def set_budget(self, n: int | None) -> None: ...
    in_flight: int
    def swap(self) -> tuple[int, object]: ...
    def error_messages(self) -> list[str]: ...


@dataclass
class Measurement:
    """Client stats (one window or several merged) plus the server delta."""

    duration_ns: int
    client: object  # perfanalyzer._core.WindowStats
    server: ServerStats | None
    batch_size: int
    # How long after the client's window boundaries (start, end) the server's
    # counters were read: requests finishing in those gaps count on the
    # server one window earlier than on the client.
    server_skew_ns: tuple[int, int] = (0, 0)

    @property
    def request_count(self) -> int:
        return self.client.ok

    @property
    def throughput(self) -> float:
        """Inferences per second: completed requests x batch size / window."""
        if self.duration_ns <= 0:
            return 0.0
        return self.client.ok * self.batch_size / (self.duration_ns / 1e9)

    @property
    def avg_latency_ns(self) -> float:
        return self.client.latency_sum_ns / self.client.ok if self.client.ok else 0.0

    @property
    def std_latency_ns(self) -> float:
        """Sample standard deviation (n - 1), as perf_analyzer."""
        n = self.client.ok
        if n < 2:
            return 0.0
        mean = self.client.latency_sum_ns / n
        var = (self.client.latency_sumsq_ns2 - n * mean * mean) / (n - 1)
        return math.sqrt(max(var, 0.0))

    def percentile_ns(self, p: float) -> int:
        return self.client.percentile_ns(p)

    def stabilizing_latency_ns(self, percentile: int) -> float:
        return self.avg_latency_ns if percentile == -1 else float(self.percentile_ns(percentile))

    @property
    def avg_send_ns(self) -> float:
        return self.client.send_sum_ns / self.client.ok if self.client.ok else 0.0

    @property
    def avg_recv_ns(self) -> float:
        return self.client.recv_sum_ns / self.client.ok if self.client.ok else 0.0


def describe_errors(stats: object) -> str:
    """What failed, for the message that ends a run: by gRPC status code where
    the transport has one ("3 NOT_FOUND, 1 UNAVAILABLE"), else by error kind."""
    codes = getattr(stats, "grpc_codes", None) or {}
    if not codes:
        return ", ".join(f"{n} {k}" for k, n in stats.errors.items())
    # Triton puts a streamed request's error inside the response, with no status code.
    parts = [f"{n} in-stream error{'s' if n != 1 else ''}" if c == "STREAM_ERROR" else f"{n} {c}"
             for c, n in sorted(codes.items(), key=lambda item: -item[1])]
    rest = stats.error_count - sum(codes.values())
    if rest > 0:  # failed before any status came back (a call that could not start)
        parts.append(f"{rest} without a gRPC status")
    return ", ".join(parts)


def merge(measurements: Sequence[Measurement]) -> Measurement:
    """Counts and durations summed, latency distributions combined."""
    first = measurements[0]
    client = first.client.copy()
    server = first.server
    for m in measurements[1:]:
        client.merge(m.client)
        if server is not None and m.server is not None:
            server = server + m.server
    return Measurement(sum(m.duration_ns for m in measurements), client, server, first.batch_size,
                       (first.server_skew_ns[0], measurements[-1].server_skew_ns[1]))


def is_stable(throughputs: Sequence[float], latencies: Sequence[float], stability: float) -> bool:
    """perf_analyzer's rule over the last 3 windows: none idle, and max/min
    of throughput and of the stabilizing latency both within 1 + stability."""
    if len(throughputs) < STABLE_WINDOWS:
        return False
    tput = throughputs[-STABLE_WINDOWS:]
    lat = latencies[-STABLE_WINDOWS:]
    if min(tput) <= 0 or min(lat) <= 0:
        return False
    return max(tput) / min(tput) <= 1 + stability and max(lat) / min(lat) <= 1 + stability


def intervals_rate(intervals_ns: Sequence[int]) -> float:
    """The request rate a looped interval list amounts to."""
    return len(intervals_ns) * 1e9 / sum(intervals_ns) if intervals_ns and sum(intervals_ns) else 0.0


def level_label(mode: str) -> str:
    return "concurrency" if mode == "concurrency" else "request rate"


@dataclass
class LevelResult:
    mode: str               # concurrency | request_rate | request_intervals
    value: float
    merged: Measurement
    stable: bool
    windows: int            # windows measured at this level
    boundaries_ns: list[int] = field(default_factory=list)  # CLOCK_MONOTONIC, every window of the level


@dataclass
class SweepResult:
    levels: list[LevelResult] = field(default_factory=list)   # reportable (stable, under the limit)
    unstable: LevelResult | None = None
    status: str = "ok"      # ok | unstable | over_limit | errors | interrupted
    message: str = ""


class RequestErrors(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class Profiler:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        server_stats: Callable[[], ServerStats | StatsSnapshot | None],  # a reading; end - start = delta
        log: Callable[[str], None] = print,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        stop: threading.Event | None = None,
    ) -> None:
        self.s = settings
        # Set from another thread (an asyncio task cancelled): the sweep ends as on Ctrl-C.
        self.stop = stop
        self.engine = engine
        self.server_stats = server_stats
        self.log = log
        self.clock_ns = clock_ns
        self._boundary_ns = 0
        self._server_at_boundary: ServerStats | StatsSnapshot | None = None
        self._skew_ns = 0
        # The sweep's result as it grows: what a run that ends early still reports.
        self.result = SweepResult()
        # Called after every measured window: (level value, window number, measurement).
        self.on_window: Callable[[float, int, Measurement], None] | None = None

    def _mark_boundary(self, fail_on_errors: bool = False) -> Measurement:
        """Ends the current window: the client's stats, the server's delta.
        With `fail_on_errors`, failed requests end the run before the server
        is asked for anything (a dead server would only add a second error)."""
        t, stats = self.engine.swap()
        if fail_on_errors:
            self._raise_on_errors(stats)
        server = self._read_server()
        skew = max(0, self.clock_ns() - t)
        previous_t, previous_server, previous_skew = self._boundary_ns, self._server_at_boundary, self._skew_ns
        self._boundary_ns, self._server_at_boundary, self._skew_ns = t, server, skew
        delta = None
        if server is not None and previous_server is not None:
            try:
                delta = server - previous_server
            except PerfAnalyzerError as e:
                raise RequestErrors(str(e)) from None
            if delta.success_count < 0 or delta.inference_count < 0:
                raise RequestErrors("the server's statistics went backwards between two readings: "
                                    "it restarted during the run")
        return Measurement(t - previous_t, stats, delta, self.s.batch_size, (previous_skew, skew))

    def _finished(self) -> int:
        return self.engine.completed + self.engine.failed

    def _read_server(self) -> ServerStats | StatsSnapshot | None:
        """A failed statistics read ends the run like failed requests: the
        levels already measured are kept and reported."""
        try:
            return self.server_stats()
        except PerfAnalyzerError as e:
            raise RequestErrors(str(e)) from None

    def _wait_until(self, done: Callable[[], bool], max_pause: float = 0.05) -> None:
        """Polls until done(). Waits on counts have no deadline of their own,
        so a server that holds every request forever ends the run here."""
        pause = 0.0005
        finished, since = self._finished(), self.clock_ns()
        while not done():
            self._check_stop()
            time.sleep(pause)
            pause = min(pause * 2, max_pause)
            now, count = self.clock_ns(), self._finished()
            if count != finished or not self.engine.in_flight:
                finished, since = count, now
            elif now - since >= STALL_NS:
                raise RequestErrors(
                    f"no request completed or failed in {STALL_NS // 1_000_000_000} s with "
                    f"{self.engine.in_flight} in flight: the server stopped answering "
                    "(--request-timeout fails a request that takes too long)")

    def _settle(self) -> None:
        """Lets every request in flight finish and starts no new one."""
        self.engine.set_budget(0)
        self._wait_until(lambda: self.engine.in_flight == 0)

    def _send_exactly(self, n: int, value: float) -> None:
        """Runs the level's load for n requests (from an idle engine), or
        until one fails: a failure ends the run, as it ends a window, so the
        rest of the budget is not spent on a server that stopped answering.
        The load is set while the budget is 0, so nothing starts under the
        previous level's load; the wait polls finely because its end is the
        window's end."""
        self.engine.set_budget(0)
        self._apply_load(value)
        finished = self._finished()
        failed_at_start = self.engine.failed
        self.engine.set_budget(n)
        self._wait_until(lambda: self._finished() >= finished + n or self.engine.failed != failed_at_start,
                         max_pause=0.001)
        if self.engine.failed != failed_at_start:
            self.engine.set_budget(0)

    def warm_up(self, value: float) -> None:
        """--warmup-request-count: sent at the first level, then discarded."""
        self._send_exactly(self.s.warmup_request_count, value)
        if not self.s.request_count:
            # A request-count window starts from a spent budget: reopening it
            # here would let a request slip in before that window settles.
            self.engine.set_budget(None)

    def _profile_request_count(self, value: float) -> LevelResult:
        """--request-count N: one window of exactly N requests, reported as stable."""
        self._settle()
        self._mark_boundary()
        start = self._boundary_ns
        self._send_exactly(self.s.request_count, value)
        m = self._mark_boundary(fail_on_errors=True)
        if self.on_window is not None:
            self.on_window(value, 1, m)
        return LevelResult(self.s.load_mode, value, m, True, 1, [start, self._boundary_ns])

    def _wait_for_window(self) -> None:
        """Returns when the window should close; early if requests fail."""
        failed_at_start = self.engine.failed
        if self.s.measurement_mode == "count_windows":
            target = self.engine.completed + self.s.measurement_request_count
            self._wait_until(lambda: self.engine.completed >= target or self.engine.failed != failed_at_start)
            return
        deadline = self._boundary_ns + self.s.measurement_interval_ms * 1_000_000
        while True:
            self._check_stop()
            left = deadline - self.clock_ns()
            if left <= 0 or self.engine.failed != failed_at_start:
                return
            time.sleep(min(left / 1e9, 0.1))

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise KeyboardInterrupt("stopped")

    def measure_window(self) -> Measurement:
        self._wait_for_window()
        return self._mark_boundary(fail_on_errors=True)

    def _raise_on_errors(self, stats: object) -> None:
        if stats.error_count:
            kinds = describe_errors(stats)
            # a server's error body may be pretty-printed JSON (TorchServe's is): one line
            messages = "; ".join(" ".join(m.split()) for m in self.engine.error_messages()[:3])
            raise RequestErrors(f"{stats.error_count} of {stats.ok + stats.error_count} requests failed "
                                f"({kinds}): {messages}")

    def _pass_line(self, trial: int, m: Measurement) -> str:
        """perf_analyzer's -v line for one window, plus the window's real length."""
        head = f"  Pass [{trial}] throughput: {m.throughput:g} infer/sec. "
        if self.s.percentile == -1:
            lat = f"Avg latency: {m.avg_latency_ns // 1000:.0f} usec (std {m.std_latency_ns // 1000:.0f} usec)."
        else:
            lat = f"p{self.s.percentile} latency: {m.percentile_ns(self.s.percentile) // 1000} usec."
        return f"{head}{lat} Window: {m.duration_ns / 1e6:.1f} msec"

    def _apply_load(self, value: float) -> None:
        mode = self.s.load_mode
        if mode == "concurrency":
            self.engine.set_concurrency(int(value))
        elif mode == "request_rate":
            self.engine.set_rate(float(value), self.s.request_distribution, self.s.seed or 0, self.s.max_inflight)
        else:
            self.engine.set_intervals(list(self.s.request_intervals_ns), self.s.max_inflight)

    def profile_level(self, value: float) -> LevelResult:
        """Measures one load level until stable or out of trials."""
        if self.s.request_count:
            return self._profile_request_count(value)
        self._apply_load(value)
        self._mark_boundary()  # the level starts now; what came before is discarded
        boundaries = [self._boundary_ns]
        windows: list[Measurement] = []
        throughputs: list[float] = []
        latencies: list[float] = []
        mode = self.s.load_mode
        for trial in range(1, self.s.max_trials + 1):
            m = self.measure_window()
            boundaries.append(self._boundary_ns)
            windows.append(m)
            throughputs.append(m.throughput)
            latencies.append(m.stabilizing_latency_ns(self.s.percentile))
            if self.s.verbose:
                self.log(self._pass_line(trial, m))
            if self.on_window is not None:
                self.on_window(value, trial, m)
            if is_stable(throughputs, latencies, self.s.stability_percentage / 100.0):
                return LevelResult(mode, value, merge(windows[-STABLE_WINDOWS:]), True, trial, boundaries)
        tail = windows[-STABLE_WINDOWS:]
        return LevelResult(mode, value, merge(tail), False, len(windows), boundaries)

    def levels(self) -> Sequence[float] | None:
        """The sweep's levels, or None when it grows until the latency limit."""
        mode = self.s.load_mode
        if mode == "concurrency":
            return self.s.concurrency_range.levels()
        if mode == "request_rate":
            return self.s.request_rate_range.levels()
        return [intervals_rate(self.s.request_intervals_ns)]

    def _open_ended(self) -> tuple[float, float]:
        """(start, step) of a sweep without an end."""
        r = self.s.concurrency_range if self.s.load_mode == "concurrency" else self.s.request_rate_range
        return r.start, r.step

    def _over_limit(self, level: LevelResult) -> bool:
        limit_ns = self.s.latency_threshold_ms * 1e6
        return bool(limit_ns) and level.merged.stabilizing_latency_ns(self.s.percentile) >= limit_ns

    def _unstable(self, result: SweepResult, level: LevelResult, on_level: Callable[[LevelResult], None]) -> None:
        result.unstable = level
        result.status = "unstable"
        result.message = (
            f"Failed to obtain stable measurement within {self.s.max_trials} measurement windows "
            f"for {level_label(self.s.load_mode)} {level.value:g}. Please try to increase the "
            "--measurement-interval."
        )
        on_level(level)

    def binary_search(
        self,
        on_level: Callable[[LevelResult], None] = lambda r: None,
        on_level_start: Callable[[float], None] = lambda v: None,
    ) -> SweepResult:
        """The highest load whose latency stays under -l: measure start (stop
        if it is over), measure end (stop if it is under), then bisect while
        end - start > step. Every level under the limit is reported."""
        result = self.result = SweepResult()
        integral = self.s.load_mode == "concurrency"
        r = self.s.concurrency_range if integral else self.s.request_rate_range
        lo, hi, step = r.start, r.end, r.step

        def passes(value: float) -> bool | None:
            on_level_start(value)
            if not result.levels and result.unstable is None and self.s.warmup_request_count:
                self.warm_up(value)
            level = self.profile_level(value)
            if not level.stable:
                self._unstable(result, level, on_level)
                return None
            if self._over_limit(level):
                self.log(f"  latency over the limit of {self.s.latency_threshold_ms} msec at "
                         f"{level_label(self.s.load_mode)} {value:g}")
                return False
            result.levels.append(level)
            on_level(level)
            return True

        try:
            first = passes(lo)
            if first is None:
                return result
            if not first:
                result.status = "over_limit"
                result.message = f"Measured latency went over the set limit of {self.s.latency_threshold_ms} msec. "
                return result
            if passes(hi) is not False:
                return result
            while hi - lo > step:
                mid = (lo + hi) // 2 if integral else (lo + hi) / 2
                verdict = passes(mid)
                if verdict is None:
                    return result
                lo, hi = (mid, hi) if verdict else (lo, mid)
            stopping.defer()
        except RequestErrors as e:
            result.status, result.message = "errors", str(e)
        except KeyboardInterrupt:
            interrupted(result)
        finally:
            stopping.defer()  # a signal from here on cannot cut the results short
        return result

    def sweep(
        self,
        on_level: Callable[[LevelResult], None] = lambda r: None,
        on_level_start: Callable[[float], None] = lambda v: None,
    ) -> SweepResult:
        if self.s.binary_search:
            return self.binary_search(on_level, on_level_start)
        result = self.result = SweepResult()
        bounded = self.levels()
        start, step = self._open_ended()
        value: float = start
        index = 0
        try:
            while True:
                if bounded is not None:
                    if index >= len(bounded):
                        break
                    value = bounded[index]
                on_level_start(value)
                if index == 0 and self.s.warmup_request_count:
                    self.warm_up(value)
                level = self.profile_level(value)
                if not level.stable:
                    self._unstable(result, level, on_level)
                    break
                if self._over_limit(level):
                    result.status = "over_limit"
                    result.message = (
                        f"Measured latency went over the set limit of {self.s.latency_threshold_ms} msec. "
                    )
                    break
                result.levels.append(level)
                on_level(level)
                index += 1
                value = start + index * step
            stopping.defer()
        except RequestErrors as e:
            result.status = "errors"
            result.message = str(e)
        except KeyboardInterrupt:
            interrupted(result)
        finally:
            stopping.defer()  # a signal from here on cannot cut the results short
        return result


def interrupted(result: SweepResult) -> None:
    """A signal (or Ctrl-C) ended the sweep: what was measured is kept."""
    by = stopping.received()
    result.status = "interrupted"
    result.message = f"interrupted{f' by {by}' if by else ''}: reporting the levels measured so far"
