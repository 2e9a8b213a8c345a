"""The periodic-concurrency ramp in the compiled engine, on the in-process
HTTP server of test_engine (both clients). Waits poll with a deadline; no
assertion is about timing."""

from __future__ import annotations

import numpy as np
from perfanalyzer import _core
from test_engine import BODY, HEADERS, client, server, url, wait_for  # noqa: F401  (fixtures)


def test_ramp_raises_by_step_until_end_then_stops(server, client):  # noqa: F811
    engine = _core.HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)], client=client)
    try:
        engine.keep_records()
        engine.start()
        engine.set_periodic(1, 5, 2, 6)
        wait_for(lambda: engine.ramp_done and engine.in_flight == 0, "the ramp to end")
        done, failed = engine.completed, engine.failed
        engine.stop(drain_ms=5000)
        records = engine.records()
    finally:
        engine.close()
    assert failed == 0
    assert server.max_active <= 5
    assert len(records) == done == server.requests
    # Slot 0 alone until its 6th answer; then slots 1-2; then 3-4. Every slot
    # of the last step had its period, and nothing started after the end.
    order = np.argsort(records["end_ns"])
    sixth_end = records["end_ns"][order[5]]
    assert int((records["start_ns"] < sixth_end).sum()) == 6
    assert done >= 6 + 2 * 6 + 2 * 6


def test_ramp_rejects_a_bad_range(server, client):  # noqa: F811
    engine = _core.HttpEngine(url(server, "/v2/models/m/infer"), [(BODY, HEADERS)], client=client)
    try:
        for args in ((0, 4, 1, 1), (5, 4, 1, 1), (1, 4, 0, 1), (1, 4, 1, 0)):
            try:
                engine.set_periodic(*args)
            except ValueError:
                continue
            raise AssertionError(f"set_periodic{args} was accepted")
    finally:
        engine.close()


def test_failing_requests_end_the_ramp_with_their_message(server, client, tmp_path):  # noqa: F811
    from perfanalyzer.cli import parse_args
    from perfanalyzer.periodic import run_ramp

    s = parse_args(["-m", "m", "--periodic-concurrency-range", "1:4:1", "--request-period", "5",
                    "--profile-export-file", str(tmp_path / "ramp.json")])
    engine = _core.HttpEngine(url(server, "/v2/models/m/fail"), [(BODY, HEADERS)], client=client)
    try:
        engine.start()
        result = run_ramp(s, engine, _core.now_ns, log=lambda line: None)
        engine.stop(drain_ms=5000)
    finally:
        engine.close()
    assert result.status == "errors" and result.completed == 0 and result.failed >= 1
    assert 'HTTP 500: {"error":"boom"}' in result.message
