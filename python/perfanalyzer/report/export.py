"""--profile-export-file: every successful request of every measured window,
in perf_analyzer's profile-export JSON (timestamps in ns since the epoch).

request_inputs follows perf_analyzer's rule (BYTES as a string, INT32 and BOOL
as their first value, other types null) and is filled when every request
carried the same tensors (one distinct request body); with several bodies the
record log does not say which one a request carried, so it stays empty.
response_outputs holds one empty object per response: the compiled core does
not keep response bodies. Streaming requests list every non-empty response's
arrival (perf_analyzer does not count the empty final response either); a
request that got only the empty final response lists that one. Sequence models'
requests carry their correlation ID as sequence_id, as in perf_analyzer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from perfanalyzer import output_files
from perfanalyzer.profiler import LevelResult

EXPORT_MODES = {"concurrency": "concurrency", "request_rate": "request_rate", "request_intervals": "request_rate"}


def request_inputs(datatypes: dict[str, str], tensor_sets: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
    """What perf_analyzer writes for a request's inputs, when all requests share them."""
    if len(tensor_sets) != 1:
        return {}
    out: dict[str, Any] = {}
    for name, array in tensor_sets[0].items():
        kind = datatypes.get(name, "")
        flat = np.asarray(array).reshape(-1)
        if not flat.size:
            out[name] = ""
        elif kind in ("BYTES", "JSON"):
            first = flat[0]
            out[name] = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
        elif kind == "INT32":
            out[name] = int(flat[0])
        elif kind == "BOOL":
            out[name] = bool(flat[0])
        else:
            out[name] = None
    return out


class Responses:
    """Each record's response times, from the core's response log (request
    index, ns), grouped by request in arrival order. A record without entries
    (unary, HTTP) has one response, at its end."""

    def __init__(self, records: np.ndarray, times: np.ndarray | None = None) -> None:
        self.ends: list[int] = records["end_ns"].tolist()
        self.starts: list[int] | None = None
        if times is None or not len(times):
            return
        order = np.argsort(times["request"], kind="stable")
        self.ns: list[int] = times["ns"][order].tolist()
        self.starts = np.searchsorted(times["request"][order], np.arange(len(records) + 1), side="left").tolist()

    def of(self, index: int) -> list[int]:
        if self.starts is not None:
            lo, hi = self.starts[index], self.starts[index + 1]
            if hi > lo:
                return self.ns[lo:hi]
        return [self.ends[index]]


def _requests(records: np.ndarray, chosen: np.ndarray, mono_to_wall_ns: int, responses: Responses,
              inputs: dict[str, Any] | None = None, sequence_ids: np.ndarray | None = None) -> list[dict]:
    out = []
    starts = records["start_ns"][chosen].tolist()
    ids = sequence_ids[chosen].tolist() if sequence_ids is not None else [0] * len(starts)
    for i, start, seq_id in zip(chosen.tolist(), starts, ids, strict=True):
        times = [t + mono_to_wall_ns for t in responses.of(i)]
        request = {"timestamp": start + mono_to_wall_ns, "request_inputs": dict(inputs or {}),
                   "response_timestamps": times, "response_outputs": [{} for _ in times]}
        if seq_id:  # perf_analyzer writes it only for sequence models
            request["sequence_id"] = seq_id
        out.append(request)
    return out


def _checked_ids(records: np.ndarray, sequence_ids: np.ndarray | None) -> np.ndarray | None:
    if sequence_ids is not None and len(sequence_ids) != len(records):
        raise ValueError(f"{len(sequence_ids)} sequence ids for {len(records)} records")
    return sequence_ids


def ramp_experiment(records: np.ndarray, start_ns: int, end_ns: int, peak: int, mono_to_wall_ns: int,
                    response_times: np.ndarray | None = None, sequence_ids: np.ndarray | None = None) -> dict:
    """--periodic-concurrency-range: every request of the ramp, oldest send
    first, in one experiment. perf_analyzer writes value 1 and boundaries
    [0, 2^64-1]; we write the peak concurrency and the ramp's real start and end."""
    chosen = np.argsort(records["start_ns"], kind="stable")
    return {"experiment": {"mode": "concurrency", "value": peak},
            "requests": _requests(records, chosen, mono_to_wall_ns, Responses(records, response_times), None,
                                  _checked_ids(records, sequence_ids)),
            "window_boundaries": [start_ns + mono_to_wall_ns, end_ns + mono_to_wall_ns]}


def experiments(levels: Sequence[LevelResult], records: np.ndarray, mono_to_wall_ns: int,
                inputs: dict[str, Any] | None = None, response_times: np.ndarray | None = None,
                sequence_ids: np.ndarray | None = None) -> list[dict]:
    """`response_times`: the core's response log (Engine.response_times()), for streaming;
    `sequence_ids`: each record's correlation ID (Engine.sequence_ids()), for sequence models."""
    responses = Responses(records, response_times)
    sequence_ids = _checked_ids(records, sequence_ids)
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
        requests = _requests(records, order[lo:hi], mono_to_wall_ns, responses, inputs, sequence_ids)
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
          endpoint: str, version: str, inputs: dict[str, Any] | None = None, ramp: dict | None = None,
          service_kind: str = "triton", response_times: np.ndarray | None = None,
          sequence_ids: np.ndarray | None = None) -> None:
    """`ramp`: a ramp_experiment, written instead of the levels' experiments."""
    exps = [ramp] if ramp is not None else experiments(levels, records, mono_to_wall_ns, inputs, response_times,
                                                       sequence_ids)
    doc = {"experiments": exps, "version": version, "service_kind": service_kind, "endpoint": endpoint}
    output_files.write_text(path, json.dumps(doc, separators=(",", ":")))
