"""Read the figures of one concurrency level out of perf_analyzer's output.

Shared by both sides of the benchmark: our CLI promises perf_analyzer's console
text and CSV, so one parser serves both, and a mismatch in format shows up as a
missing figure in the report rather than as a silently different number.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

_LEVEL = re.compile(r"^Request concurrency: (\d+)\s*$", re.MULTILINE)
# Anchored at line start: the Server section has "Avg request latency" and the
# HTTP line "Avg HTTP time", neither of which must match.
_THROUGHPUT = re.compile(r"^\s*Throughput: ([0-9.]+) infer/sec", re.MULTILINE)
_AVG = re.compile(r"^\s*Avg latency: (\d+) usec", re.MULTILINE)
_P99 = re.compile(r"^\s*p99 latency: (\d+) usec", re.MULTILINE)


def parse_console(text: str, concurrency: int) -> dict[str, float]:
    """Figures of the "Request concurrency: C" block; keys are those found.

    A level that failed to stabilise has a header but no figures, so it gives
    an empty dict instead of borrowing the next level's numbers.
    """
    marks = list(_LEVEL.finditer(text))
    found: dict[str, float] = {}
    for i, mark in enumerate(marks):
        if int(mark.group(1)) != concurrency:
            continue
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        block = text[mark.end() : end]
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


def parse_csv(path: Path, concurrency: int) -> dict[str, float]:
    """Throughput and p99 of the row for `concurrency` in a -f CSV file.

    Columns are looked up by header name, so extra columns (--verbose-csv)
    or a different order do not matter.
    """
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("Concurrency", "").strip() != str(concurrency):
                continue
            found: dict[str, float] = {}
            for key, column in (("throughput", "Inferences/Second"), ("p99_latency_us", "p99 latency")):
                value = (row.get(column) or "").strip()
                if value:
                    found[key] = float(value)
            return found
    return {}
