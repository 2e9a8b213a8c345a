"""The response-time log behind streaming exports, and how the export reads it."""

import numpy as np
from perfanalyzer import _core
from perfanalyzer.report import export

CHUNK = 16384  # PA_RESPONSES_PER_CHUNK


def test_log_keeps_every_entry_in_order_across_chunks() -> None:
    log = _core.ResponseLog()
    n = 2 * CHUNK + 7
    for i in range(n):
        log.append(i // 4, 1000 + i)
    assert len(log) == n
    out = log.array()
    assert out.dtype == _core.RESPONSE_DTYPE
    assert out["request"].tolist() == [i // 4 for i in range(n)]
    assert out["ns"].tolist() == [1000 + i for i in range(n)]


def test_copy_offsets_request_indices() -> None:
    log = _core.ResponseLog()
    log.append(0, 5)
    log.append(2, 6)
    assert log.array(request_offset=10)["request"].tolist() == [10, 12]


def test_empty_log() -> None:
    assert len(_core.ResponseLog().array()) == 0


def _records(starts: list[int], ends: list[int]) -> np.ndarray:
    r = np.zeros(len(starts), dtype=_core.RECORD_DTYPE)
    r["start_ns"], r["end_ns"] = starts, ends
    return r


def test_export_lists_every_response_of_a_streaming_request() -> None:
    records = _records([10, 20, 30], [19, 29, 39])
    times = np.array([(0, 12), (0, 15), (0, 19), (1, 29), (2, 31), (2, 39)], dtype=_core.RESPONSE_DTYPE)
    responses = export.Responses(records, times)
    assert responses.of(0) == [12, 15, 19]
    assert responses.of(1) == [29]
    assert responses.of(2) == [31, 39]
    requests = export._requests(records, np.array([2, 0]), 1000, responses)
    assert requests[0]["response_timestamps"] == [1031, 1039]
    assert requests[1]["response_timestamps"] == [1012, 1015, 1019]
    assert requests[1]["response_outputs"] == [{}, {}, {}]


def test_export_without_response_log_has_one_response_per_request() -> None:
    records = _records([10, 20], [19, 29])
    for times in (None, np.empty(0, dtype=_core.RESPONSE_DTYPE)):
        responses = export.Responses(records, times)
        assert [responses.of(0), responses.of(1)] == [[19], [29]]
