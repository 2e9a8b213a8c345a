"""The integer-microsecond figures every report prints, computed once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfanalyzer.metrics import LevelMetrics
from perfanalyzer.profiler import PERCENTILES, LevelResult, Measurement
from perfanalyzer.server_stats import ServerStats

TAIL_PERCENTILE = 99.9  # reported by --json and the Python API, beyond perf_analyzer's console and CSV


def us(ns: float) -> int:
    """perf_analyzer truncates nanoseconds to whole microseconds."""
    return int(ns // 1000)


def fmt_rate(x: float) -> str:
    """C++ ostream's default formatting (6 significant digits), as perf_analyzer prints."""
    return f"{x:g}"


@dataclass(frozen=True)
class OpenLoopFigures:
    """What only an open-loop (request rate) level has."""

    response_percentiles_us: dict[int, int]  # from the scheduled send time
    lag_p50_us: int
    lag_p99_us: int
    delayed: int
    scheduled: int
    postponed: int
    send_rate: float  # requests actually sent per second (successful, scheduled ones)
    response_p99_9_us: int = 0

    @property
    def delayed_pct(self) -> float:
        return 100.0 * self.delayed / self.scheduled if self.scheduled else 0.0


@dataclass(frozen=True)
class StreamFigures:
    """What only a --streaming level has: responses, and latency to the first one."""

    response_throughput: float  # responses per second
    first_response_percentiles_us: dict[int, int]
    first_response_p99_9_us: int = 0


@dataclass(frozen=True)
class LevelFigures:
    mode: str
    value: float
    stable: bool
    request_count: int
    throughput: float
    avg_us: int
    std_us: int
    percentiles_us: dict[int, int]
    stabilizing_us: int
    send_us: int
    recv_us: int
    # server side (None when the server gave no statistics)
    server: dict[str, Any] | None
    client_overhead_pct: float = 0.0  # share of slot time with no request in flight
    open_loop: OpenLoopFigures | None = None
    metrics: LevelMetrics | None = None  # --collect-metrics, over the stable windows
    stream: StreamFigures | None = None
    windows: int = 0  # measured at this level
    p99_9_us: int = 0  # TAIL_PERCENTILE, kept out of percentiles_us (the console and CSV print those)

    @property
    def value_text(self) -> str:
        return fmt_rate(self.value)

    @property
    def http_us(self) -> int:
        return self.avg_us

    @property
    def response_wait_us(self) -> int:
        return max(0, self.avg_us - self.send_us - self.recv_us)

    @property
    def network_us(self) -> int:
        """CSV 'Network+Server Send/Recv': what is left of the client average."""
        s = self.server or {}
        rest = (self.avg_us - self.send_us - self.recv_us - s.get("queue", 0) - s.get("compute_input", 0)
                - s.get("compute_infer", 0) - s.get("compute_output", 0))
        return max(0, rest)


def client_overhead_pct(m: Measurement, concurrency: float) -> float:
    """Time the client held a slot without a request in flight, as a share of
    all slot time (perf_analyzer's "Avg client overhead" in closed loop)."""
    slot_ns = m.duration_ns * concurrency
    if slot_ns <= 0:
        return 0.0
    return max(0.0, 100.0 * (1.0 - m.client.latency_sum_ns / slot_ns))


def figures(level: LevelResult, percentile: int) -> LevelFigures:
    m = level.merged
    wanted = sorted(set(PERCENTILES) | ({percentile} if percentile != -1 else set()))
    pct = {p: us(m.percentile_ns(p)) for p in wanted}
    server = server_figures(m.server) if m.server is not None else None
    return LevelFigures(
        mode=level.mode,
        value=level.value,
        stable=level.stable,
        request_count=m.request_count,
        throughput=m.throughput,
        avg_us=us(m.avg_latency_ns),
        std_us=us(m.std_latency_ns),
        percentiles_us=pct,
        stabilizing_us=us(m.stabilizing_latency_ns(percentile)),
        send_us=us(m.avg_send_ns),
        recv_us=us(m.avg_recv_ns),
        client_overhead_pct=client_overhead_pct(m, level.value) if level.mode == "concurrency" else 0.0,
        open_loop=open_loop_figures(m, wanted) if level.mode != "concurrency" else None,
        server=server,
        stream=stream_figures(m, wanted) if m.client.first_response_count else None,
        windows=level.windows,
        p99_9_us=us(m.percentile_ns(TAIL_PERCENTILE)),
    )


def stream_figures(m: Measurement, wanted: list[int]) -> StreamFigures:
    seconds = m.duration_ns / 1e9
    return StreamFigures(
        response_throughput=m.client.responses / seconds if seconds > 0 else 0.0,
        first_response_percentiles_us={p: us(m.client.first_response_percentile_ns(p)) for p in wanted},
        first_response_p99_9_us=us(m.client.first_response_percentile_ns(TAIL_PERCENTILE)),
    )


def server_figures(s: ServerStats) -> dict[str, Any]:
    """The model's own averages (what the CSV prints, for an ensemble too, as
    perf_analyzer does); with composing models also their figures, and the
    console's overhead/queue/compute summed over them."""
    out: dict[str, Any] = {
        "inference_count": s.inference_count,
        "execution_count": s.execution_count,
        "success_count": s.success_count,
        "avg_request": us(s.avg_request_us * 1000),
        "overhead": us(s.overhead_us * 1000),
        "queue": us(s.queue_us * 1000),
        "compute_input": us(s.compute_input_us * 1000),
        "compute_infer": us(s.compute_infer_us * 1000),
        "compute_output": us(s.compute_output_us * 1000),
        "uses_cache": int(s.uses_cache),
        "cache_hit": us(s.cache_hit_us * 1000),
        "cache_miss": us(s.cache_miss_us * 1000),
        "cache_hit_count": s.cache_hit_count,
        "cache_miss_count": s.cache_miss_count,
    }
    if s.uses_cache:
        # perf_analyzer's "cache hit/miss" part: cache and compute time over
        # the requests that either hit or computed.
        compute_ns = s.compute_input_ns + s.compute_infer_ns + s.compute_output_ns
        combined_us = s._avg_us(s.cache_hit_ns + s.cache_miss_ns + compute_ns,
                                s.compute_input_count + s.cache_hit_count)
        out["cache_compute"] = us(combined_us * 1000)
        out["cache_overhead"] = us(max(0.0, s.avg_request_us - s.queue_us - combined_us) * 1000)
        out["compute"] = us(s.compute_us * 1000)
    if s.composing:
        out["composed_overhead"] = s.composed_overhead_us
        out["composed_queue"] = s.composed_queue_us
        out["composed_compute"] = s.composed_compute_us
        out["composing"] = [dict(server_figures(c), name=name, version=version) for name, version, c in s.composing]
    return out


def open_loop_figures(m: Measurement, wanted: list[int]) -> OpenLoopFigures:
    c = m.client
    seconds = m.duration_ns / 1e9
    return OpenLoopFigures(
        response_percentiles_us={p: us(c.response_percentile_ns(p)) for p in wanted},
        lag_p50_us=us(c.lag_percentile_ns(50)),
        lag_p99_us=us(c.lag_percentile_ns(99)),
        delayed=c.delayed,
        scheduled=c.scheduled_count,
        postponed=c.postponed,
        send_rate=c.scheduled_count / seconds if seconds > 0 else 0.0,
        response_p99_9_us=us(c.response_percentile_ns(TAIL_PERCENTILE)),
    )
