"""Read the figures of one level out of perf_analyzer's output.

Shared by both sides of the benchmark: our CLI promises perf_analyzer's console
text and CSV, so one parser serves both, and a mismatch in format shows up as a
missing figure in the report rather than as a silently different number.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

_LEVEL = re.compile(r"^Request concurrency: (\d+)\s*$", re.MULTILINE)
_RATE_LEVEL = re.compile(r"^Request Rate: ([0-9.]+) inference requests per seconds\s*$", re.MULTILINE)
# Anchored at line start: the Server section has "Avg request latency" and the
# HTTP line "Avg HTTP time", neither of which must match.
_THROUGHPUT = re.compile(r"^\s*Throughput: ([0-9.]+) infer/sec", re.MULTILINE)
_AVG = re.compile(r"^\s*Avg latency: (\d+) usec", re.MULTILINE)
_P99 = re.compile(r"^\s*p99 latency: (\d+) usec", re.MULTILINE)

# Request-rate mode. perf_analyzer 2.40 prints its send rate and, inside the
# Client section, a warning when over 1 % of sends were late at all (any
# lateness counts there); ours prints its own lag line, and after the level a
# warning counting only sends more than 1 ms late, which names the send rate
# (older builds of ours did not).
_SEND_RATE = re.compile(r"^\s*Avg send request rate: ([0-9.]+) infer/sec", re.MULTILINE)
_DELAYED_WARNING = re.compile(
    r"^\s*(?:\[WARNING\] Perf Analyzer was not able|WARNING: Perf Analyzer is unable) to keep up with the "
    r"desired request rate\. ([0-9.]+)% of the requests were delayed"
    r"(?: \(achieved send rate: ([0-9.]+) requests/sec\))?",
    re.MULTILINE,
)
_LAG = re.compile(
    r"^\s*Schedule lag: p50 (\d+) usec, p99 (\d+) usec; (\d+) of (\d+) requests sent more than 1 ms late",
    re.MULTILINE,
)


def _block(text: str, header: re.Pattern[str], level: float) -> str | None:
    """Text from the header of `level` up to the next level's header.

    Levels are compared as numbers: the C++ tool prints a rate as "1000",
    a CSV may hold "1000.00".
    """
    marks = list(header.finditer(text))
    for i, mark in enumerate(marks):
        if float(mark.group(1)) != float(level):
            continue
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        return text[mark.end() : end]
    return None


def _client_figures(block: str) -> dict[str, float]:
    found: dict[str, float] = {}
    # The summary after the last block ("Inferences/Second vs. ...") has no
    # lines these patterns match, so it needs no special cut.
    for key, pattern in (
        ("throughput", _THROUGHPUT),
        ("avg_latency_us", _AVG),
        ("p99_latency_us", _P99),
    ):
        m = pattern.search(block)
        if m:
            found[key] = float(m.group(1))
    return found


def parse_console(text: str, concurrency: int) -> dict[str, float]:
    """Figures of the "Request concurrency: C" block; keys are those found.

    A level that failed to stabilise has a header but no figures, so it gives
    an empty dict instead of borrowing the next level's numbers.
    """
    block = _block(text, _LEVEL, concurrency)
    return {} if block is None else _client_figures(block)


def parse_rate_console(text: str, rate: float) -> dict[str, float]:
    """Figures of the "Request Rate: R inference requests per seconds" block.

    Besides the client figures of parse_console: `send_rate` (the C++ tool's
    send-rate line, or ours' warning), `delayed_warning_pct` (the percentage in either tool's "unable to keep
    up" warning, absent when none was printed), and from our lag line
    `lag_p50_us`, `lag_p99_us`, `delayed` and `scheduled`.
    """
    block = _block(text, _RATE_LEVEL, rate)
    if block is None:
        return {}
    found = _client_figures(block)
    m = _SEND_RATE.search(block)
    if m:
        found["send_rate"] = float(m.group(1))
    m = _DELAYED_WARNING.search(block)
    if m:
        found["delayed_warning_pct"] = float(m.group(1))
        if m.group(2):
            found["send_rate"] = float(m.group(2))
    m = _LAG.search(block)
    if m:
        for key, value in zip(("lag_p50_us", "lag_p99_us", "delayed", "scheduled"), m.groups(), strict=True):
            found[key] = float(value)
    return found


def parse_csv(path: Path, level: float, column: str = "Concurrency") -> dict[str, float]:
    """Throughput and p99 of the row for `level` in a -f CSV file.

    `column` names the level: "Concurrency", or "Request Rate" in rate mode.
    Columns are looked up by header name, so extra columns (--verbose-csv)
    or a different order do not matter.
    """
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                if float(row.get(column) or "") != float(level):
                    continue
            except ValueError:
                continue
            found: dict[str, float] = {}
            for key, name in (("throughput", "Inferences/Second"), ("p99_latency_us", "p99 latency")):
                value = (row.get(name) or "").strip()
                if value:
                    found[key] = float(value)
            return found
    return {}
