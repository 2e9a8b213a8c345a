"""--collect-metrics in the reports: perf_analyzer's console block and its
`uuid:value;` CSV cells, plus Triton's CPU metrics (ours)."""

from __future__ import annotations

from perfanalyzer.metrics import LevelMetrics

CSV_COLUMNS = ("Avg GPU Utilization", "Avg GPU Power Usage", "Max GPU Memory Usage", "Total GPU Memory")


def _g(x: float) -> str:
    """C++ ostream's default formatting, as perf_analyzer prints doubles."""
    return f"{x:g}"


def metrics_lines(m: LevelMetrics) -> list[str]:
    lines = ["", "  Server Prometheus Metrics: ", "    Avg GPU Utilization:"]
    lines += [f"      {u} : {_g(v * 100)}%" for u, v in m.gpu_utilization.items()]
    lines.append("    Avg GPU Power Usage:")
    lines += [f"      {u} : {_g(v)} watts" for u, v in m.gpu_power_usage.items()]
    lines.append("    Max GPU Memory Usage:")
    lines += [f"      {u} : {v} bytes" for u, v in m.gpu_memory_used_bytes.items()]
    lines.append("    Total GPU Memory:")
    lines += [f"      {u} : {v} bytes" for u, v in m.gpu_memory_total_bytes.items()]
    if m.cpu_utilization is not None:
        lines.append(f"    Avg CPU Utilization: {_g(m.cpu_utilization * 100)}%")
    if m.cpu_memory_used_bytes is not None:
        lines.append(f"    Max CPU Memory Usage: {m.cpu_memory_used_bytes} bytes")
    return lines


def csv_cells(m: LevelMetrics | None) -> list[str]:
    """The four GPU cells, each `uuid:value;` per GPU (empty without samples)."""
    if m is None:
        return ["", "", "", ""]
    return [
        "".join(f"{u}:{_g(v)};" for u, v in m.gpu_utilization.items()),
        "".join(f"{u}:{_g(v)};" for u, v in m.gpu_power_usage.items()),
        "".join(f"{u}:{v};" for u, v in m.gpu_memory_used_bytes.items()),
        "".join(f"{u}:{v};" for u, v in m.gpu_memory_total_bytes.items()),
    ]
