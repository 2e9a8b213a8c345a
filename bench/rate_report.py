"""The markdown report of compare_rate.py: per target rate a row per metric
with one column per client measured, and per client the highest target
rate it met within 1 % and its schedule lag there.

Clients are named by their side: "ours" (our native HTTP/1.1 client),
"ours-curl" (ours on libcurl), "theirs" (perf_analyzer); only those run
get a column. Stdlib only.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Protocol

from results import median_cell, ratio

# The order of the columns; a side not listed goes last.
SIDE_ORDER = ("ours", "ours-curl", "theirs")

# The schedule lag the open loop is held to at its highest exact rate.
LAG_LIMIT_US = 100.0


class RunLike(Protocol):
    side: str
    rate: float
    round: int
    rc: int
    server_rate: float | None
    lag_p99_us: float | None
    delayed_pct: float | None
    failed_requests: int
    notes: list[str]


def sides_of(runs: Sequence[RunLike]) -> list[str]:
    present = {r.side for r in runs}
    return sorted(present, key=lambda s: (SIDE_ORDER.index(s) if s in SIDE_ORDER else len(SIDE_ORDER), s))


def met_within(runs: Sequence[RunLike], levels: Sequence[float], side: str, tolerance: float = 0.01) -> float | None:
    """The highest target rate whose median server-counted rate came within
    `tolerance` of it, either way (None when none did)."""
    met = None
    for rate in levels:
        rates = [r.server_rate for r in runs if r.side == side and r.rate == rate and r.server_rate is not None]
        if rates and abs(statistics.median(rates) / rate - 1) <= tolerance:
            met = rate if met is None else max(met, rate)
    return met


def lag_p99_at(runs: Sequence[RunLike], side: str, rate: float) -> float | None:
    """Median over the rounds of the p99 schedule lag (µs) `side` printed at `rate`."""
    lags = [r.lag_p99_us for r in runs if r.side == side and r.rate == rate and r.lag_p99_us is not None]
    return statistics.median(lags) if lags else None


def met_exactly(runs: Sequence[RunLike], levels: Sequence[float], side: str,
                lag_limit_us: float = LAG_LIMIT_US) -> float | None:
    """The highest target rate met within 1 % with a median p99 schedule lag of at most `lag_limit_us`."""
    met = None
    for rate in levels:
        lag = lag_p99_at(runs, side, rate)
        if lag is not None and lag <= lag_limit_us and met_within(runs, [rate], side) is not None:
            met = rate if met is None else max(met, rate)
    return met


# (key, label, decimals, compared): rows of the report. Delayed shares are
# not compared: the C++ tool counts any late send, ours those over 1 ms.
METRICS: tuple[tuple[str, str, int, bool], ...] = (
    ("throughput", "throughput reported (infer/s)", 1, True),
    ("server_rate", "server-counted rate (req/s)", 1, True),
    ("achieved_ratio", "achieved / target (server-counted)", 3, True),
    ("avg_latency_us", "avg latency (µs)", 0, True),
    ("cpu_us_per_req", "client CPU per request (µs)", 1, True),
    ("delayed_pct", "delayed (%)", 2, False),
    ("lag_p50_us", "schedule lag p50 (µs)", 0, False),
    ("lag_p99_us", "schedule lag p99 (µs)", 0, False),
    ("startup_s", "start-up to first request (s)", 2, True),
)


def _rate_cell(rate: float | None) -> str:
    return f"{rate:,.0f} req/s" if rate is not None else "none"


def _lag_cell(lag: float | None) -> str:
    return f"{lag:,.0f}" if lag is not None else "n/a"


def summary(runs: Sequence[RunLike], levels: Sequence[float]) -> list[str]:
    """Per client: the highest rate met within 1 %, its p99 lag, and the highest also within the lag limit."""
    lines = [
        "| client | highest target met within 1 % | its p99 schedule lag (µs) "
        f"| highest also with p99 lag ≤ {LAG_LIMIT_US:.0f} µs |",
        "|---|---:|---:|---:|",
    ]
    for side in sides_of(runs):
        met = met_within(runs, levels, side)
        lag = lag_p99_at(runs, side, met) if met is not None else None
        exact = met_exactly(runs, levels, side)
        lines.append(f"| {side} | {_rate_cell(met)} | {_lag_cell(lag)} | {_rate_cell(exact)} |")
    return lines


def report(runs: Sequence[RunLike], levels: Sequence[float]) -> str:
    sides = sides_of(runs)
    compare = "ours" in sides and "theirs" in sides
    head = "| target req/s | metric | " + " | ".join(f"{s} median [min–max]" for s in sides)
    lines = [head + (" | ours/theirs |" if compare else " |"),
             "|---:|---|" + "---:|" * (len(sides) + compare)]
    for rate in levels:
        at = [r for r in runs if r.rate == rate]
        for key, label, dec, compared in METRICS:
            cells: dict[str, tuple[str, float | None]] = {
                side: median_cell([getattr(r, key) for r in at if r.side == side], dec) for side in sides
            }
            if key == "delayed_pct" and "theirs" in cells:
                # The C++ tool prints its share only above 1 %; say how many did.
                ok = [r for r in at if r.side == "theirs" and r.rc == 0]
                warned = sum(r.delayed_pct is not None for r in ok)
                cells["theirs"] = (f"{cells['theirs'][0]} ({warned} of {len(ok)} warned)", cells["theirs"][1])
            row = f"| {rate:,.0f} | {label} | " + " | ".join(cells[s][0] for s in sides) + " |"
            if compare:
                row += f" {ratio(cells['ours'][1], cells['theirs'][1]) if compared else '—'} |"
            lines.append(row)
    met = {side: met_within(runs, levels, side) for side in sides}
    lines += ["", "Highest target rate met within 1 % (median server-counted rate): "
              + "; ".join(f"{side} {_rate_cell(m)}" for side, m in met.items()) + ".", ""]
    lines += summary(runs, levels)
    counts = []
    for rate in levels:
        for side in sides:
            mine = [r for r in runs if r.rate == rate and r.side == side]
            bad = sum(r.rc != 0 for r in mine)
            counts.append(f"{side} {rate:,.0f}: {len(mine) - bad} of {len(mine)}")
    lines += ["", "Runs that succeeded (exit 0): " + "; ".join(counts) + "."]
    failed = [r for r in runs if r.rc != 0 or r.failed_requests or r.notes]
    if failed:
        lines.append(
            "Failed runs (their own figures are left out; server-counted rate, CPU and start-up are kept): "
            + ", ".join(
                f"{r.side} {r.rate:,.0f} round {r.round} (exit {r.rc}"
                + "".join(f", {n}" for n in r.notes)
                + (f", {r.failed_requests} requests failed at the server" if r.failed_requests else "")
                + ")"
                for r in failed
            )
            + "."
        )
    return "\n".join(lines)
