"""Per-run figures and the markdown report of the ours/theirs comparison."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# (key, label, decimals): the order of rows in the report.
METRICS: tuple[tuple[str, str, int], ...] = (
    ("throughput", "throughput (infer/s)", 1),
    ("avg_latency_us", "avg latency (µs)", 0),
    ("p99_latency_us", "p99 latency (µs)", 0),
    ("cpu_us_per_req", "client CPU per request (µs)", 1),
    ("steady_cpu_us_per_req", "steady-state CPU per request (µs)", 1),
)

# The steady stretch of a run: after its start-up and first windows, before
# its last second (report, teardown); too short a stretch gives no figure.
STEADY_FROM_S = 2.0
STEADY_FROM_FRACTION = 0.25
STEADY_TAIL_S = 1.0
STEADY_MIN_REQUESTS = 1000


@dataclass
class Sample:
    """Taken while a client runs: seconds since its start, its CPU seconds so
    far, and the server's success count."""

    t_s: float
    cpu_s: float
    server_count: int


def steady_cpu_per_request(samples: Sequence[Sample], wall_s: float) -> float | None:
    """Client CPU µs per request served between the first and the last sample
    of the steady stretch: what one more request costs, without start-up
    (Python imports for ours, dynamic loading for theirs) and teardown."""
    lo = max(STEADY_FROM_S, STEADY_FROM_FRACTION * wall_s)
    inside = [s for s in samples if lo <= s.t_s <= wall_s - STEADY_TAIL_S]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    requests = last.server_count - first.server_count
    if requests < STEADY_MIN_REQUESTS:
        return None
    return (last.cpu_s - first.cpu_s) * 1e6 / requests


@dataclass
class Run:
    """One client process at one level. Figures the tool did not print are None."""

    side: str
    concurrency: int
    round: int
    rc: int
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    requests: int
    failed_requests: int
    throughput: float | None
    avg_latency_us: float | None
    p99_latency_us: float | None
    # (user + sys) of the client process over the requests the server counted
    # from it, warm-up and unstable windows included.
    cpu_us_per_req: float | None
    # The same, over the run's steady stretch only (steady_cpu_per_request).
    steady_cpu_us_per_req: float | None = None


def fmt(x: float | None, decimals: int) -> str:
    return "n/a" if x is None else f"{x:,.{decimals}f}"


def median_cell(values: Sequence[float | None], decimals: int) -> tuple[str, float | None]:
    """("median [min–max]" over the values present, median); a single value has no range."""
    vals = [x for x in values if x is not None]
    med = statistics.median(vals) if vals else None
    spread = f" [{fmt(min(vals), decimals)}–{fmt(max(vals), decimals)}]" if len(vals) > 1 else ""
    return f"{fmt(med, decimals)}{spread}", med


def ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}" if ours is not None and theirs else "n/a"


def report(runs: Sequence[Run], levels: Sequence[int]) -> str:
    """Markdown table: median [min–max] per side and the ratio of medians."""
    lines = [
        "| concurrency | metric | ours median [min–max] | theirs median [min–max] | ours/theirs |",
        "|---:|---|---:|---:|---:|",
    ]
    for c in levels:
        for key, label, dec in METRICS:
            (ours_cell, ours), (theirs_cell, theirs) = (
                median_cell([getattr(r, key) for r in runs if r.side == side and r.concurrency == c], dec)
                for side in ("ours", "theirs")
            )
            lines.append(f"| {c} | {label} | {ours_cell} | {theirs_cell} | {ratio(ours, theirs)} |")
    failed = [r for r in runs if r.rc != 0 or r.failed_requests]
    if failed:
        lines.append("")
        lines.append(
            "Runs that exited non-zero or had failed requests (their latency/throughput "
            "are missing; CPU per request is kept): "
            + ", ".join(
                f"{r.side} c={r.concurrency} round {r.round} (exit {r.rc}, {r.failed_requests} failed requests)"
                for r in failed
            )
        )
    return "\n".join(lines)
