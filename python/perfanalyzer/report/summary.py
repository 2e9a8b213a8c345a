"""--json: one document per run with every figure the run computed (the
figures of report.figures, which the console and the CSV print too), the
settings it ran with and how it ended. The Python API's ProfileResult.to_dict()
builds the same document from the same functions.

The document's shape is schemas/summary.schema.json (JSON Schema 2020-12),
shipped in the package; docs/json.md describes it."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from importlib import resources
from typing import Any, TextIO

from perfanalyzer import output_files
from perfanalyzer.errors import PerfAnalyzerError
from perfanalyzer.report.figures import TAIL_PERCENTILE, LevelFigures
from perfanalyzer.safe_text import mask_userinfo
from perfanalyzer.settings import Settings

SCHEMA_VERSION = 1
SCHEMA_FILE = "summary.schema.json"


def schema() -> dict[str, Any]:
    """The JSON Schema of the document, as shipped in the package."""
    return json.loads((resources.files("perfanalyzer") / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8"))


def percentile_key(p: float) -> str:
    """50 -> "50", 99.9 -> "99.9": JSON object keys are strings."""
    return f"{p:g}"


def level_fields(f: LevelFigures) -> dict[str, Any]:
    """One level's figures, as api.LevelReport's fields (percentile keys still numbers)."""
    o, st = f.open_loop, f.stream
    return {
        "mode": f.mode,
        "value": int(f.value) if f.mode == "concurrency" else f.value,
        "stable": f.stable,
        "windows": f.windows,
        "request_count": f.request_count,
        "throughput": f.throughput,
        "avg_latency_us": f.avg_us,
        "std_latency_us": f.std_us,
        "percentiles_us": {**f.percentiles_us, TAIL_PERCENTILE: f.p99_9_us},
        "send_us": f.send_us,
        "recv_us": f.recv_us,
        "response_wait_us": f.response_wait_us,
        "server": _copy(f.server),
        "metrics": f.metrics.to_dict() if f.metrics is not None else None,
        "stabilizing_latency_us": f.stabilizing_us,
        "network_us": f.network_us,
        "client_overhead_pct": f.client_overhead_pct if f.mode == "concurrency" else None,
        "open_loop": None if o is None else {
            "send_rate": o.send_rate,
            "response_percentiles_us": {**o.response_percentiles_us, TAIL_PERCENTILE: o.response_p99_9_us},
            "lag_p50_us": o.lag_p50_us,
            "lag_p99_us": o.lag_p99_us,
            "scheduled": o.scheduled,
            "delayed": o.delayed,
            "delayed_pct": o.delayed_pct,
            "postponed": o.postponed,
        },
        "stream": None if st is None else {
            "response_throughput": st.response_throughput,
            "first_response_percentiles_us": {**st.first_response_percentiles_us,
                                              TAIL_PERCENTILE: st.first_response_p99_9_us},
        },
    }


def _copy(server: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if server is None else json.loads(json.dumps(server))


def settings_fields(s: Settings) -> dict[str, Any]:
    """Every setting, except what could leak or bloat: the user name and
    password of URLs are masked, -H headers keep their names only, and the
    --request-intervals list is given by its length."""
    out: dict[str, Any] = {f.name: getattr(s, f.name) for f in dataclasses.fields(s)}
    out["url"] = mask_userinfo(s.url)
    out["metrics_url"] = mask_userinfo(s.metrics_url)
    out["http_headers"] = [h.split(":", 1)[0].strip() for h in s.http_headers]
    out["request_intervals_ns"] = len(s.request_intervals_ns)
    out["load_mode"] = s.load_mode
    out["server_url"] = mask_userinfo(s.server_url)
    return out


def jsonable(value: Any) -> Any:
    """Plain JSON data: dataclasses as objects, tuples as lists, numeric keys
    as strings, a non-finite float (a metric the server left out) as null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else percentile_key(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def document(settings: Settings, levels: Sequence[dict[str, Any]], status: str, message: str, exit_code: int,
             workers: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The --json document. `levels`: level_fields() of every level reported
    (an unstable one included), listed here by load value, lowest first;
    `workers`: per-worker figures of a distributed run."""
    import perfanalyzer

    return jsonable({
        "schema_version": SCHEMA_VERSION,
        "tool": "perfanalyzer",
        "version": perfanalyzer.__version__,
        "model": settings.model_name,
        "status": status,
        "message": message,
        "exit_code": exit_code,
        "settings": settings_fields(settings),
        "levels": sorted(levels, key=lambda lv: lv["value"]),
        "workers": list(workers),
    })


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def write(path: str, doc: dict[str, Any], stdout: TextIO | None = None) -> None:
    """`path` "-": `stdout` (default sys.stdout). One PerfAnalyzerError naming the file on failure."""
    text = render(doc)
    try:
        if path == "-":
            stream = stdout or sys.stdout
            stream.write(text)
            stream.flush()
        else:
            output_files.write_text(path, text)
    except OSError as e:
        where = "- (stdout)" if path == "-" else path
        raise PerfAnalyzerError(f"--json {where}: cannot write the summary: {e.strerror or e}") from None
