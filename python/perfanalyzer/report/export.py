"""--profile-export-file: every successful request of every measured window,
in perf_analyzer's profile-export JSON (timestamps in ns since the epoch).

This is the minimal form: request_inputs and response_outputs are empty
objects; the timing fields are complete."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

from perfanalyzer.errors import OptionError
from perfanalyzer.profiler import LevelResult
from perfanalyzer.report.csv_writer import write_atomic

EXPORT_MODES = {"concurrency": "concurrency", "request_rate": "request_rate", "request_intervals": "request_rate"}


def check_path(path: str) -> None:
    """perf_analyzer refuses to overwrite an export; so do we, before any load."""
    if os.path.exists(path):
        raise OptionError(f"--profile-export-file {path}: the file already exists")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OptionError(f"--profile-export-file {path}: directory {directory} does not exist")


def experiments(levels: Sequence[LevelResult], records: np.ndarray, mono_to_wall_ns: int) -> list[dict]:
    out = []
    ends = records["end_ns"].astype(np.int64)
    order = np.argsort(ends, kind="stable")
    ends_sorted = ends[order]
    for level in levels:
        if len(level.boundaries_ns) < 2:
            continue
        first, last = level.boundaries_ns[0], level.boundaries_ns[-1]
        # A request belongs to the window in which it completed (bounds inclusive of the end).
        lo = np.searchsorted(ends_sorted, first, side="right")
        hi = np.searchsorted(ends_sorted, last, side="right")
        chosen = records[order[lo:hi]]
        requests = [
            {"timestamp": int(r["start_ns"]) + mono_to_wall_ns, "request_inputs": {},
             "response_timestamps": [int(r["end_ns"]) + mono_to_wall_ns], "response_outputs": [{}]}
            for r in chosen
        ]
        value: float | int = level.value
        if level.mode == "concurrency":
            value = int(level.value)
        out.append({
            "experiment": {"mode": EXPORT_MODES[level.mode], "value": value},
            "requests": requests,
            "window_boundaries": [b + mono_to_wall_ns for b in level.boundaries_ns],
        })
    return out


def write(path: str, levels: Sequence[LevelResult], records: np.ndarray, mono_to_wall_ns: int,
          endpoint: str, version: str, service_kind: str = "triton") -> None:
    doc = {"experiments": experiments(levels, records, mono_to_wall_ns), "version": version,
           "service_kind": service_kind, "endpoint": endpoint}
    write_atomic(path, json.dumps(doc, separators=(",", ":")))
