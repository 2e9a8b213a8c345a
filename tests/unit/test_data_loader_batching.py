"""-b N over data steps: which steps each request carries, the cycle of
distinct requests, and the batches perf_analyzer refuses."""

from __future__ import annotations

import numpy as np
import pytest
from perfanalyzer.batching import MIXED_OPTIONAL, request_tensors
from perfanalyzer.data_loader import DataSet
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec, TensorSpec

SPEC = ModelSpec("m", "1", "python", 8,
                 (TensorSpec("X", "INT32", (-1,)), TensorSpec("OPT", "FP32", (1,), optional=True)), ())


def steps(*values: int, opt: tuple[int, ...] = ()) -> DataSet:
    out = []
    for k, v in enumerate(values):
        s = {"X": np.array([v, v], dtype=np.int32)}
        if k in opt:
            s["OPT"] = np.array([float(v)], dtype=np.float32)
        out.append(s)
    return DataSet((tuple(out),), origin="--input-data d.json")


def firsts(requests: list[dict[str, np.ndarray]]) -> list[list[int]]:
    return [r["X"][:, 0].tolist() for r in requests]


@pytest.mark.parametrize("n_steps, batch, expected", [
    (3, 1, [[0], [1], [2]]),
    (3, 2, [[0, 1], [2, 0], [1, 2]]),          # wraps around; starts repeat after 3 requests
    (4, 2, [[0, 1], [2, 3]]),                  # 4 / gcd(4, 2) = 2 distinct requests
    (2, 3, [[0, 1, 0], [1, 0, 1]]),
    (1, 4, [[0, 0, 0, 0]]),                    # generated data: one step repeated
])
def test_request_i_carries_steps_i_times_n_onwards(n_steps, batch, expected):
    requests = request_tensors(SPEC, steps(*range(n_steps)), batch)
    assert firsts(requests) == expected
    assert all(r["X"].shape == (batch, 2) and r["X"].dtype == np.int32 for r in requests)


def test_non_batching_model_sends_each_step_as_is():
    spec = ModelSpec("m", "1", "python", 0, SPEC.inputs, ())
    requests = request_tensors(spec, steps(5, 6), 1)
    assert [r["X"].tolist() for r in requests] == [[5, 5], [6, 6]]


def test_only_stream_0_feeds_a_non_sequence_run():
    data = DataSet((steps(1, 2).streams[0], steps(9).streams[0]))
    assert firsts(request_tensors(SPEC, data, 1)) == [[1], [2]]


def test_optional_input_all_or_nothing_within_a_batch():
    both = request_tensors(SPEC, steps(0, 1, opt=(0, 1)), 2)
    assert both[0]["OPT"].tolist() == [[0.0], [1.0]]
    none = request_tensors(SPEC, steps(0, 1), 2)
    assert "OPT" not in none[0]
    per_request = request_tensors(SPEC, steps(0, 1, 2, 3, opt=(0, 1)), 2)
    assert "OPT" in per_request[0] and "OPT" not in per_request[1]
    with pytest.raises(OptionError) as e:
        request_tensors(SPEC, steps(0, 1, 2, opt=(0,)), 2)
    assert str(e.value) == ("--input-data d.json: stream 0, steps 0, 1 (one request of -b 2): input 'OPT' is "
                            f"given in 1 of them. {MIXED_OPTIONAL}")
    assert e.value.exit_code == 3


def test_different_shapes_cannot_share_a_batch():
    data = DataSet(((
        {"X": np.zeros(2, dtype=np.int32)}, {"X": np.zeros(3, dtype=np.int32)},
    ),), origin="--input-data d.json")
    assert [r["X"].shape for r in request_tensors(SPEC, data, 1)] == [(1, 2), (1, 3)]
    with pytest.raises(OptionError) as e:
        request_tensors(SPEC, data, 2)
    assert ("can not batch tensors with different shapes together (input 'X' expected shape [2] and received [3] "
            "at step 1)") in str(e.value)
