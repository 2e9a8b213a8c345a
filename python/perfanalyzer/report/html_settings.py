"""The HTML report's settings table: what a reader needs to reproduce or
compare a run, one (setting, value with its unit) row each."""

from __future__ import annotations

from perfanalyzer.report.console import SERVICE_KIND_LABELS
from perfanalyzer.safe_text import mask_userinfo
from perfanalyzer.settings import Settings


def _load(s: Settings) -> str:
    mode = s.load_mode
    if mode == "request_intervals":
        text = f"request intervals from {s.request_intervals_file}"
    elif mode == "periodic_concurrency":
        r = s.periodic_concurrency_range
        text = f"periodic concurrency {r.start} to {r.end}, step {r.step} every {s.request_period} responses"
    else:
        rate = mode == "request_rate"
        r = s.request_rate_range if rate else s.concurrency_range
        name, unit = ("request rate", " req/sec") if rate else ("concurrency", "")
        end = f"{r.end:g}{unit}" if r.end else "the latency limit"
        text = f"{name} {r.start:g} to {end}, step {r.step:g}" if r.end != r.start else f"{name} {r.start:g}{unit}"
        if s.binary_search:
            text += ", binary search"
        if rate:
            text += f", {s.request_distribution} arrivals"
            if s.request_distribution == "poisson" and s.seed is not None:
                text += f" (seed {s.seed})"
    if s.max_inflight and mode in ("request_rate", "request_intervals"):
        text += f", at most {s.max_inflight} in flight"
    return text


def _measurement(s: Settings) -> str:
    if s.request_count:
        return f"one window of {s.request_count} requests per level"
    if s.measurement_mode == "count_windows":
        window = f"windows of at least {s.measurement_request_count} requests"
    else:
        window = f"windows of {s.measurement_interval_ms} msec"
    return (f"{window}; stable when the last 3 agree within {s.stability_percentage:g}% "
            f"(at most {s.max_trials} windows per level)")


def settings_rows(s: Settings) -> list[tuple[str, str]]:
    model = s.model_name + (f" (version {s.model_version})" if s.model_version else "")
    if s.service_kind == "triton_c_api":
        server = f"in process, model repository {s.model_repository}"
    else:
        server = mask_userinfo(s.server_url)
    kind = SERVICE_KIND_LABELS.get(s.service_kind, s.service_kind)
    if s.service_kind == "triton":
        kind += " over gRPC" if s.protocol == "grpc" else " over HTTP"
        if s.streaming:
            kind += " (streaming)"
    data = ", ".join(s.input_data_paths) if s.input_data_paths else f"{s.input_data} (generated)"
    rows = [
        ("Model", model),
        ("Server", server),
        ("Service kind", kind),
        ("Load", _load(s)),
        ("Batch size", str(s.batch_size)),
        ("Input data", data),
        ("Measurement", _measurement(s)),
        ("Stabilizing on", s.stabilizing_label),
        ("Latency limit", f"{s.latency_threshold_ms} msec" if s.latency_threshold_ms else "none"),
    ]
    if s.warmup_request_count:
        rows.append(("Warm-up", f"{s.warmup_request_count} requests, not measured"))
    if s.request_timeout_ms:
        rows.append(("Request timeout", f"{s.request_timeout_ms} msec"))
    if s.max_threads:
        rows.append(("Engine threads", str(s.max_threads)))
    if s.ray_address:
        rows.append(("Client processes", f"{s.ray_workers or 2} on Ray ({s.ray_address})"))
    if s.shared_memory != "none":
        rows.append(("Shared memory", s.shared_memory))
    if s.collect_metrics:
        rows.append(("Server metrics", f"every {s.metrics_interval_ms} msec from {mask_userinfo(s.metrics_endpoint)}"))
    return rows
