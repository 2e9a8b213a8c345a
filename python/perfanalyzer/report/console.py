"""perf_analyzer's console layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfanalyzer.report.figures import LevelFigures, OpenLoopFigures, fmt_rate
from perfanalyzer.report.metrics_text import metrics_lines
from perfanalyzer.settings import Settings

SERVICE_KIND_LABELS = {"triton": "Triton", "triton_c_api": "Triton C-API", "torchserve": "TorchServe",
                       "tfserving": "TensorFlow Serving"}


def settings_block(s: Settings, protocol_label: str = "HTTP") -> str:
    lines = ["*** Measurement Settings ***", f"  Batch size: {s.batch_size}",
             f"  Service Kind: {SERVICE_KIND_LABELS.get(s.service_kind, 'Triton')}"]
    if s.measurement_mode == "count_windows":
        lines.append('  Using "count_windows" mode for stabilization')
        lines.append(f"  Minimum number of samples in each window: {s.measurement_request_count}")
    else:
        lines.append('  Using "time_windows" mode for stabilization')
        lines.append(f"  Measurement window: {s.measurement_interval_ms} msec")
    if s.load_mode == "concurrency":
        r = s.concurrency_range
        if r.end != 1:  # perf_analyzer's condition, kept for a byte-identical header
            lines.append(f"  Latency limit: {s.latency_threshold_ms} msec")
            if r.end:
                lines.append(f"  Concurrency limit: {max(r.start, r.end)} concurrent requests")
    elif s.load_mode == "request_rate":
        rr = s.request_rate_range
        if rr.end != 1.0:
            lines.append(f"  Latency limit: {s.latency_threshold_ms} msec")
            if rr.end:
                lines.append(f"  Request Rate limit: {max(rr.start, rr.end):g} requests per seconds")
        kind = "poisson" if s.request_distribution == "poisson" else "uniform"
        lines.append(f"  Using {kind} distribution on request generation")
        if s.request_distribution == "poisson":
            lines.append(f"  Seed: {s.seed}")
    elif s.load_mode == "request_intervals":
        lines.append(f"  Using request intervals from {s.request_intervals_file}")
    if s.max_inflight and s.load_mode in ("request_rate", "request_intervals"):
        lines.append(f"  At most {s.max_inflight} requests in flight")
    lines.append(f"  Using {'asynchronous' if s.async_mode else 'synchronous'} calls for inference")
    lines.append(f"  Stabilizing using {s.stabilizing_label}")
    return "\n".join(lines) + "\n"


def level_header(value: float, mode: str = "concurrency") -> str:
    if mode == "concurrency":
        return f"Request concurrency: {int(value)}"
    return f"Request Rate: {value:g} inference requests per seconds"


def level_block(f: LevelFigures, percentile: int, protocol_label: str = "HTTP", verbose: bool = False,
                header: bool = True) -> str:
    """One level's report; the header is left out when it was printed as the level started."""
    lines = [level_header(f.value, f.mode)] if header else []
    if not f.stable:
        lines.append("  UNSTABLE: the last 3 windows did not agree within -s; these figures are their merge")
    lines += ["  Client: ", f"    Request count: {f.request_count}"]
    if f.open_loop is not None:
        # perf_analyzer's rate-mode block: send rate, its warning, 2-decimal throughput.
        lines.append(f"    Avg send request rate: {f.open_loop.send_rate:.2f} infer/sec")
        warning = delayed_warning(f.open_loop)
        if warning:
            lines.append(f"    {warning}")
        lines.append(f"    Throughput: {f.throughput:.2f} infer/sec")
    else:
        lines.append(f"    Throughput: {fmt_rate(f.throughput)} infer/sec")
    if f.stream is not None:
        lines.append(f"    Response Throughput: {fmt_rate(f.stream.response_throughput)} infer/sec")
    if percentile == -1:
        lines.append(f"    Avg latency: {f.avg_us} usec (standard deviation {f.std_us} usec)")
    if verbose:
        lines.append(f"    Avg client overhead: {f.client_overhead_pct:.2f}%")
    for p, v in f.percentiles_us.items():
        lines.append(f"    p{p} latency: {v} usec")
    if f.open_loop is not None:
        lines += open_loop_lines(f.open_loop)
    if f.stream is not None:  # ours: perf_analyzer reports only latency to the last response
        pct = ", ".join(f"p{p} {v} usec" for p, v in f.stream.first_response_percentiles_us.items())
        lines.append(f"    First response latency: {pct}")
    if protocol_label == "gRPC":
        # gRPC has no send/recv split: marshal = call handed to gRPC core, unmarshal = response released.
        lines.append(
            f"    Avg gRPC time: {f.http_us} usec ((un)marshal request/response {f.send_us + f.recv_us} usec + "
            f"response wait {f.response_wait_us} usec)"
        )
    elif verbose:
        lines.append(
            f"    Avg {protocol_label} time: {f.http_us} usec (send {f.send_us} usec + response wait "
            f"{f.response_wait_us} usec + receive {f.recv_us} usec)"
        )
    else:
        lines.append(
            f"    Avg {protocol_label} time: {f.http_us} usec (send/recv {f.send_us + f.recv_us} usec + "
            f"response wait {f.response_wait_us} usec)"
        )
    if f.server is not None:
        lines += ["  Server: ", *server_lines(f.server, 1)]
    if f.metrics is not None:
        lines += metrics_lines(f.metrics)
    return "\n".join(lines) + "\n"


def server_lines(s: dict[str, Any], iteration: int) -> list[str]:
    """perf_analyzer's server block; composing models (ensemble steps, BLS
    calls) follow, each indented one level deeper (`iteration`)."""
    ident = " " * (2 * iteration)
    if not s["success_count"]:
        return [f"{ident}  Request count: 0"]
    lines = [
        f"{ident}  Inference count: {s['inference_count']}",
        f"{ident}  Execution count: {s['execution_count']}",
    ]
    if s["uses_cache"]:
        lines += [f"{ident}  Cache hit count: {s['cache_hit_count']}",
                  f"{ident}  Cache miss count: {s['cache_miss_count']}"]
    lines.append(f"{ident}  Successful request count: {s['success_count']}")
    if "composing" not in s and s["uses_cache"]:
        return lines + cache_latency_lines(s, ident)
    if "composing" not in s:
        lines.append(
            f"{ident}  Avg request latency: {s['avg_request']} usec (overhead {s['overhead']} usec + queue "
            f"{s['queue']} usec + compute input {s['compute_input']} usec + compute infer "
            f"{s['compute_infer']} usec + compute output {s['compute_output']} usec)")
        return lines
    lines += [
        f"{ident}  Avg request latency: {s['avg_request']} usec (overhead {s['composed_overhead']} usec + queue "
        f"{s['composed_queue']} usec + compute {s['composed_compute']} usec)",
        "",
        f"{ident}Composing models: ",
    ]
    for i, c in enumerate(s["composing"]):
        if i:
            lines.append("")
        lines.append(f"{ident}{c['name']}, version: {c['version']}")
        lines += server_lines(c, iteration + 1)
    return lines


def open_loop_lines(o: OpenLoopFigures) -> list[str]:
    """Ours, beyond perf_analyzer: latency from the scheduled send time
    (coordinated-omission corrected) and how late the client sent."""
    pct = ", ".join(f"p{p} {v} usec" for p, v in o.response_percentiles_us.items())
    lines = [
        f"    Response latency from schedule: {pct}",
        f"    Schedule lag: p50 {o.lag_p50_us} usec, p99 {o.lag_p99_us} usec; "
        f"{o.delayed} of {o.scheduled} requests sent more than 1 ms late",
    ]
    if o.postponed:
        lines.append(f"    Postponed by --max-inflight: {o.postponed} requests")
    return lines


def delayed_warning(o: OpenLoopFigures) -> str | None:
    """perf_analyzer's warning when more than 1 % of requests were delayed:
    sent more than 1 ms after their scheduled time, perf_analyzer's own
    tolerance (the lag line above it gives the exact count)."""
    if o.delayed_pct <= 1.0:
        return None
    return (f"[WARNING] Perf Analyzer was not able to keep up with the desired request rate. "
            f"{o.delayed_pct:.2f}% of the requests were delayed. ")


def summary(levels: Sequence[LevelFigures], percentile: int) -> str:
    label = "Average" if percentile == -1 else f"p{percentile}"
    lines = [f"Inferences/Second vs. Client {label} Batch Latency"]
    for f in levels:
        mark = " (UNSTABLE)" if not f.stable else ""
        if f.mode == "concurrency":
            level, tput = f"Concurrency: {f.value_text}", fmt_rate(f.throughput)
        else:
            level, tput = f"Request Rate: {f.value:.2f}", f"{f.throughput:.2f}"
        lines.append(f"{level}, throughput: {tput} infer/sec, latency {f.stabilizing_us} usec{mark}")
    return "\n".join(lines) + "\n"


def cache_latency_lines(s: dict[str, Any], ident: str) -> list[str]:
    """perf_analyzer's request latency of a model with the response cache on:
    compute is split into cache hits and misses."""
    return [
        f"{ident}  Avg request latency: {s['avg_request']} usec (overhead {s['cache_overhead']} usec + queue "
        f"{s['queue']} usec + cache hit/miss {s['cache_compute']} usec)",
        f"{ident}{ident}  Average Cache Hit Latency: {s['cache_hit']} usec",
        f"{ident}{ident}  Average Cache Miss Latency: {s['cache_miss'] + s['compute']} usec (cache lookup/insertion "
        f"{s['cache_miss']} usec + compute input {s['compute_input']} usec + compute infer {s['compute_infer']} usec"
        f" + compute output {s['compute_output']} usec)",
    ]
