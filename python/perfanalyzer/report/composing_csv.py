"""-f with an ensemble or BLS model: perf_analyzer also writes one CSV per
composing model, `<name>_v<version>.<file>`, in the ensemble CSV's layout.

perf_analyzer prefixes the whole -f string (a path with a directory becomes
`name_v1.dir/file.csv`); we put the file beside the main CSV instead."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from perfanalyzer.report.figures import LevelFigures, fmt_rate

HEADER = ["Inferences/Second", "Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Input",
          "Server Compute Infer", "Server Compute Output"]


def path_for(filename: str, name: str, version: str) -> str:
    directory, base = os.path.split(filename)
    return os.path.join(directory, f"{name}_v{version}.{base}")


def _composing(f: LevelFigures) -> list[dict[str, Any]]:
    return list((f.server or {}).get("composing") or [])


def render(levels: Sequence[LevelFigures], name: str, version: str) -> str:
    """One composing model's rows: its throughput is the ensemble's scaled by
    the ratio of their success counts; client columns are 0 as perf_analyzer."""
    levels = sorted(levels, key=lambda f: f.throughput)
    mode = levels[0].mode if levels else "concurrency"
    uses_cache = any(c.get("uses_cache") for f in levels for c in _composing(f))
    head = ["Concurrency" if mode == "concurrency" else "Request Rate", *HEADER]
    head += ["Server Cache Hit", "Server Cache Miss"] if uses_cache else []
    lines = [",".join(head + ["Client Recv"])]
    for f in levels:
        c = next((c for c in _composing(f) if (c["name"], c["version"]) == (name, version)), None)
        if c is None:
            continue
        top = (f.server or {}).get("success_count", 0)
        ratio = c["success_count"] / top if top else 0.0
        cells = [f.value_text, fmt_rate(ratio * f.throughput), "0", str(c["overhead"]), str(c["queue"]),
                 str(c["compute_input"]), str(c["compute_infer"]), str(c["compute_output"])]
        if uses_cache:
            cells += [str(c["cache_hit"]), str(c["cache_miss"])]
        lines.append(",".join(cells + ["0"]))
    return "\n".join(lines) + "\n"


def files(filename: str, levels: Sequence[LevelFigures]) -> dict[str, str]:
    """{path: CSV text} for every composing model of the stable levels (none for a plain model)."""
    models: list[tuple[str, str]] = []
    for f in levels:
        for c in _composing(f):
            if (c["name"], c["version"]) not in models:
                models.append((c["name"], c["version"]))
    return {path_for(filename, n, v): render(levels, n, v) for n, v in models}
