"""Data steps -> the tensors of each distinct request, with -b N batching.

Request i of a non-sequence run carries steps i*N .. i*N+N-1 (modulo the step
count) of stream 0, stacked on a new batch dimension, as perf_analyzer sends
them. Starts repeat after count / gcd(count, N) requests, so that many
pre-encoded bodies, sent round-robin, carry the same data perf_analyzer sends."""

from __future__ import annotations

import math

import numpy as np

from perfanalyzer.data_loader import DataSet, Step
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec

# perf_analyzer's words for a batch mixing steps with and without an optional input.
MIXED_OPTIONAL = ("For batch sizes larger than 1, the same set of inputs must be specified for each batch. "
                  "You cannot use different set of optional inputs for each individual batch.")


def request_tensors(spec: ModelSpec, data: DataSet, batch_size: int, stream: int = 0) -> list[dict[str, np.ndarray]]:
    """The tensors of every distinct request, in the order they are sent."""
    steps = data.streams[stream]
    n = batch_size if spec.max_batch_size > 0 else 1
    cycle = len(steps) // math.gcd(len(steps), n)
    return [
        batch(spec, steps, [(i * n + j) % len(steps) for j in range(n)], data.origin, stream)
        for i in range(cycle)
    ]


def batch(spec: ModelSpec, steps: tuple[Step, ...], indices: list[int], origin: str = "--input-data",
          stream: int = 0) -> dict[str, np.ndarray]:
    """One request from the steps at `indices`: batch dim added when the model batches."""
    where = f"{origin}: stream {stream}, steps {', '.join(map(str, indices))} (one request of -b {len(indices)})"
    out: dict[str, np.ndarray] = {}
    for t in spec.inputs:
        arrays = [steps[k][t.name] for k in indices if t.name in steps[k]]
        if not arrays:
            continue  # an optional input none of these steps gives
        if len(arrays) != len(indices):
            raise OptionError(f"{where}: input '{t.name}' is given in {len(arrays)} of them. {MIXED_OPTIONAL}")
        first = arrays[0].shape
        for k, a in zip(indices, arrays, strict=True):
            if a.shape != first:
                raise OptionError(
                    f"{where}: can not batch tensors with different shapes together (input '{t.name}' expected "
                    f"shape {_dims(first)} and received {_dims(a.shape)} at step {k})"
                )
        out[t.name] = np.stack(arrays) if spec.max_batch_size > 0 else arrays[0]
    return out


def _dims(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(map(str, shape)) + "]"
