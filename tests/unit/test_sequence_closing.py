"""The sequencer's closing mode, as an engine drives it when a run ends: no
sequence starts any more, and each one still open gets exactly one more
request, flagged END, once none of its requests is in flight."""

from __future__ import annotations

import pytest
from perfanalyzer import _core


def answered(q: _core.Sequencer, slot: int = -1) -> tuple:
    r = q.next(slot)
    q.done(r[0])
    return r


def test_closed_loop_each_slot_ends_its_own_sequence_once() -> None:
    q = _core.Sequencer([5], id_start=10, length=5, variation=0)
    for slot in range(3):
        answered(q, slot)
    answered(q, 0)
    in_flight = q.next(1)                  # slot 1's step 1, not answered yet
    assert q.open == 3
    q.close()
    assert q.close_ready(0) and not q.close_ready(1) and q.close_ready(2)
    assert not q.close_ready(3)            # a slot that never carried a sequence
    assert q.next(3) is None and q.started == 3
    #                  (sequence, body, id, step, start, end)
    assert q.next(0) == (0, 2, 10, 2, False, True)   # the next step's data, flagged END
    assert q.next(0) is None               # once only
    assert q.next(1) is None               # its request is still in flight
    q.done(in_flight[0])
    assert q.next(1) == (1, 2, 11, 2, False, True)
    assert q.next(2)[2:] == (12, 1, False, True)
    assert q.open == 0 and q.started == 3


def test_a_sequence_that_just_ended_gets_nothing_more() -> None:
    q = _core.Sequencer([1], length=2, variation=0)
    answered(q, 0)
    answered(q, 0)                         # its END: the slot's next request would start a new one
    q.close()
    assert q.open == 0 and q.next(0) is None


def test_open_loop_closes_every_sequence_on_any_slot_after_its_requests() -> None:
    q = _core.Sequencer([3], length=50, variation=0, n_sequences=3)
    a, b, c = q.next(), q.next(), q.next()
    d = q.next()                           # not serial: sequence 0 has two requests in flight
    assert d[0] == a[0] == 0
    q.done(b[0])
    q.done(c[0])
    q.close()
    assert q.open == 3
    ends = [q.next(), q.next()]
    assert sorted(r[0] for r in ends) == [1, 2] and all(r[5] for r in ends)
    assert q.next() is None and not q.close_ready()
    q.done(a[0])
    assert q.next() is None                # one of its requests is still in flight
    q.done(d[0])
    assert q.close_ready()
    last = q.next()
    assert last[0] == 0 and last[2] == a[2] and last[3] == 2 and last[5]
    assert q.next() is None and q.open == 0


def test_the_sequencer_of_an_engine_is_closed_by_the_engine_only() -> None:
    q = _core.Sequencer([1])
    body = b'{"parameters":{"sequence_id":' + b" " * 19 + b'0,"sequence_start":false,"sequence_end":false}}'
    engine = _core.HttpEngine("http://127.0.0.1:9/", [(body, [])], sequencer=q)
    try:
        with pytest.raises(ValueError, match="used by an engine"):
            q.close()
    finally:
        engine.close()
