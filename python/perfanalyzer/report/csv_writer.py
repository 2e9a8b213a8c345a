"""perf_analyzer's -f CSV: one row per level, sorted by throughput."""

from __future__ import annotations

from collections.abc import Sequence

from perfanalyzer.output_files import write_text as write_atomic  # noqa: F401  (the callers' name)
from perfanalyzer.report.figures import LevelFigures, fmt_rate
from perfanalyzer.report.metrics_text import CSV_COLUMNS, csv_cells

BASE_PERCENTILES = (50, 90, 95, 99)


def header(percentile: int, uses_cache: bool, mode: str = "concurrency", streaming: bool = False) -> list[str]:
    cols = ["Concurrency" if mode == "concurrency" else "Request Rate", "Inferences/Second"]
    if streaming:
        cols.append("Response Throughput")
    cols += ["Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Input", "Server Compute Infer",
            "Server Compute Output"]
    if uses_cache:
        cols += ["Server Cache Hit", "Server Cache Miss"]
    cols.append("Client Recv")
    cols += [f"p{p} latency" for p in percentiles(percentile)]
    return cols


def percentiles(percentile: int) -> list[int]:
    return sorted(set(BASE_PERCENTILES) | ({percentile} if percentile != -1 else set()))


def row(f: LevelFigures, percentile: int, uses_cache: bool, streaming: bool = False) -> list[str]:
    s = f.server or {}
    cells = [f.value_text, fmt_rate(f.throughput)]
    if streaming:
        cells.append(fmt_rate(f.stream.response_throughput if f.stream else 0.0))
    cells += [str(f.send_us), str(f.network_us),
             str(s.get("queue", 0)), str(s.get("compute_input", 0)), str(s.get("compute_infer", 0)),
             str(s.get("compute_output", 0))]
    if uses_cache:
        cells += [str(s.get("cache_hit", 0)), str(s.get("cache_miss", 0))]
    cells.append(str(f.recv_us))
    cells += [str(f.percentiles_us[p]) for p in percentiles(percentile)]
    return cells


def verbose_header(percentile: int, metrics: bool) -> list[str]:
    """--verbose-csv's columns after the percentiles (perf_analyzer's order)."""
    cols = ["Avg latency"] if percentile == -1 else []
    cols += ["request/response", "response wait"]
    return cols + (list(CSV_COLUMNS) if metrics else [])


def verbose_row(f: LevelFigures, percentile: int, metrics: bool) -> list[str]:
    cells = [str(f.avg_us)] if percentile == -1 else []
    cells += [str(f.send_us + f.recv_us), str(f.response_wait_us)]
    return cells + (csv_cells(f.metrics) if metrics else [])


def render(levels: Sequence[LevelFigures], percentile: int, verbose: bool = False, metrics: bool = False) -> str:
    uses_cache = any((f.server or {}).get("uses_cache") for f in levels)
    mode = levels[0].mode if levels else "concurrency"
    streaming = any(f.stream is not None for f in levels)
    head = header(percentile, uses_cache, mode, streaming) + (verbose_header(percentile, metrics) if verbose else [])
    lines = [",".join(head)]
    for f in sorted(levels, key=lambda f: f.throughput):
        cells = row(f, percentile, uses_cache, streaming) + (verbose_row(f, percentile, metrics) if verbose else [])
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"
