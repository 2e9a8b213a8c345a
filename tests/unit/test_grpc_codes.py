"""Failed gRPC requests counted by status code: WindowStats, merge, the recorder swap, the run's message."""

from __future__ import annotations

import threading

from perfanalyzer import _core
from perfanalyzer.profiler import describe_errors

NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE = 5, 3, 14
STREAM_ERROR = len(_core.GRPC_CODE_NAMES) - 1


def test_names_follow_grpc_status_codes() -> None:
    assert _core.GRPC_CODE_NAMES[NOT_FOUND] == "NOT_FOUND" == _core.grpc_status_name(NOT_FOUND)
    for code in range(STREAM_ERROR):
        assert _core.GRPC_CODE_NAMES[code] == _core.grpc_status_name(code)
    assert _core.GRPC_CODE_NAMES[STREAM_ERROR] == "STREAM_ERROR"


def test_codes_are_counted_next_to_the_error_kind() -> None:
    w = _core.WindowStats()
    assert w.grpc_codes == {}
    for _ in range(3):
        w.record_error("http_4xx", NOT_FOUND)
    w.record_error("transport", UNAVAILABLE)
    w.record_error("other", STREAM_ERROR)
    w.record_error("transport")  # no status: counted as an error, under no code
    assert w.grpc_codes == {"NOT_FOUND": 3, "UNAVAILABLE": 1, "STREAM_ERROR": 1}
    assert w.errors == {"http_4xx": 3, "transport": 2, "other": 1}
    assert w.error_count == 6


def test_out_of_range_codes_are_not_counted() -> None:
    w = _core.WindowStats()
    w.record_error("other", STREAM_ERROR + 1)
    w.record_error("other", -7)
    assert w.grpc_codes == {} and w.error_count == 2


def test_merge_and_copy_add_codes() -> None:
    a, b = _core.WindowStats(), _core.WindowStats()
    a.record_error("http_4xx", NOT_FOUND)
    b.record_error("http_4xx", NOT_FOUND)
    b.record_error("http_4xx", INVALID_ARGUMENT)
    a.merge(b)
    assert a.grpc_codes == {"NOT_FOUND": 2, "INVALID_ARGUMENT": 1}
    assert a.copy().grpc_codes == a.grpc_codes
    assert b.grpc_codes == {"NOT_FOUND": 1, "INVALID_ARGUMENT": 1}


def test_swap_moves_codes_with_the_window_and_clears_them() -> None:
    r = _core.Recorder()
    r.record_errors(4, "http_4xx", NOT_FOUND)
    _, w = r.swap()
    assert w.grpc_codes == {"NOT_FOUND": 4} and w.errors == {"http_4xx": 4}
    _, w = r.swap()
    assert w.grpc_codes == {} and w.error_count == 0


def test_swapping_while_recording_keeps_codes_with_their_errors() -> None:
    """A code lands in the same window as its error, whatever the swap timing."""
    n = 300_000
    r = _core.Recorder()
    writers = [threading.Thread(target=r.record_errors, args=(n, "http_4xx", NOT_FOUND)),
               threading.Thread(target=r.record_errors, args=(n, "transport", UNAVAILABLE))]
    for t in writers:
        t.start()
    total = _core.WindowStats()
    while any(t.is_alive() for t in writers):
        _, w = r.swap()
        codes = w.grpc_codes
        assert codes.get("NOT_FOUND", 0) == w.errors.get("http_4xx", 0)
        assert codes.get("UNAVAILABLE", 0) == w.errors.get("transport", 0)
        total.merge(w)
    for t in writers:
        t.join()
    _, w = r.swap()
    total.merge(w)
    assert total.grpc_codes == {"NOT_FOUND": n, "UNAVAILABLE": n}


def test_message_names_codes_most_frequent_first() -> None:
    w = _core.WindowStats()
    w.record_error("transport", UNAVAILABLE)
    for _ in range(3):
        w.record_error("http_4xx", NOT_FOUND)
    assert describe_errors(w) == "3 NOT_FOUND, 1 UNAVAILABLE"


def test_message_counts_stream_errors_and_failures_without_status() -> None:
    w = _core.WindowStats()
    w.record_error("other", STREAM_ERROR)
    w.record_error("other", STREAM_ERROR)
    w.record_error("transport")
    assert describe_errors(w) == "2 in-stream errors, 1 without a gRPC status"


def test_message_without_codes_keeps_error_kinds() -> None:
    """HTTP (no gRPC codes): unchanged."""
    w = _core.WindowStats()
    w.record_error("http_5xx")
    w.record_error("http_5xx")
    assert describe_errors(w) == "2 http_5xx"
