"""validation_data -> the expected output bytes of each request body, for the
compiled core to compare every response against (no Python per request).

Request i carries the same steps as batching.request_tensors gives it, so its
expected outputs are those steps' validation_data, stacked the same way."""

from __future__ import annotations

import math

import numpy as np

from perfanalyzer import _core
from perfanalyzer.data_loader import DataSet
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import tensor_bytes
from perfanalyzer.model import ModelSpec


def request_steps(spec: ModelSpec, data: DataSet, batch_size: int, stream: int = 0) -> list[list[int]]:
    """The data steps of every distinct request, in the order batching sends them."""
    count = len(data.streams[stream])
    n = batch_size if spec.max_batch_size > 0 else 1
    cycle = count // math.gcd(count, n)
    return [[(i * n + j) % count for j in range(n)] for i in range(cycle)]


def expected_outputs(spec: ModelSpec, data: DataSet, steps: list[int], stream: int = 0) -> dict[str, np.ndarray]:
    """The outputs one request of `steps` must return; an output is checked
    only when every step of the request gives it."""
    rows = data.expected[stream] if stream < len(data.expected) else ()
    out: dict[str, np.ndarray] = {}
    for t in spec.outputs:
        arrays = [rows[k][t.name] for k in steps if k < len(rows) and t.name in rows[k]]
        if not arrays or len(arrays) != len(steps):
            continue
        out[t.name] = np.stack(arrays) if spec.max_batch_size > 0 else arrays[0]
    return out


def build_validator(spec: ModelSpec, data: DataSet, batch_size: int, output_format: str,
                    bodies: list[tuple[int, list[int]]] | None = None) -> _core.Validator | None:
    """A Validator for the request bodies, each given as (stream, its steps),
    by default stream 0 batched as batching sends it; None when the data has
    no validation_data."""
    if not data.has_expected:
        return None
    if output_format != "binary":
        raise OptionError(f"{data.origin}: validation_data needs --output-tensor-format binary "
                          "(responses are compared byte for byte)")
    if bodies is None:
        bodies = [(0, steps) for steps in request_steps(spec, data, batch_size)]
    datatypes = {t.name: t.datatype for t in spec.outputs}
    validator = _core.Validator(len(bodies))
    for i, (stream, steps) in enumerate(bodies):
        validator.set_steps(i, steps, stream)
        for name, array in expected_outputs(spec, data, steps, stream).items():
            validator.add_output(i, name, datatypes[name], tensor_bytes(datatypes[name], array), len(steps))
    return validator
