"""Sequences over several engine threads: one sequencer per thread, each with
a disjoint, interleaved share of the id range and a share of the sequences;
and the sequence ids of the profile export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer import _core, sequences
from perfanalyzer.data_loader import DataSet
from perfanalyzer.profiler import LevelResult
from perfanalyzer.report import export
from perfanalyzer.settings import Range, Settings

BODY = b'{"parameters":{"sequence_id":' + b" " * 19 + b'0,"sequence_start":false,"sequence_end":false}}'
DATA = DataSet(({"INPUT": np.ones(1, np.int32)},),)


def ids_of(q: _core.Sequencer, slots: int, rounds: int) -> set[int]:
    """Every id a closed-loop sequencer hands its slots, each step answered."""
    seen = set()
    for _ in range(rounds):
        for slot in range(slots):
            seq, _, sid, *_ = q.next(slot)
            q.done(seq)
            seen.add(sid)
    return seen


@pytest.mark.parametrize("start, size, threads", [(1, 10, 3), (100, 7, 7), (5, 13, 4), (3, 5, 1)])
def test_threads_interleave_the_id_range_without_overlap(start: int, size: int, threads: int) -> None:
    """Thread k of g uses start + k, start + k + g, ...: together the threads
    use every id of the range once, and the ids stay as small as one
    counter's (perf_analyzer's threads share one)."""
    s = Settings(model_name="seq", sequence_id_start=start, sequence_id_range=size, sequence_length=1).validate()
    owned = []
    for k in range(threads):
        n = sequences.share(size, k, threads)
        q = sequences.make_sequencer(s, DATA, k, threads)
        ids = [q.next(0)[2] for _ in range(2 * n)]                # a new sequence per request: round the share twice
        assert ids == [start + k + threads * j for j in range(n)] * 2
        owned.append(set(ids))
    assert set().union(*owned) == set(range(start, start + size))      # the range, whole ...
    assert sum(len(o) for o in owned) == size                          # ... and no id on two threads


@pytest.mark.parametrize("start, size, threads", [(5, 2**32 - 1, 4), (1, 2**64 - 2, 3), (2, 2**64 - 2, 3)])
def test_large_ranges_start_small_on_every_thread(start: int, size: int, threads: int) -> None:
    """The default range over 4 threads: thread 3 starts at start + 3, not at
    about 2^30 (where a TYPE_INT32 CORRID would overflow with more threads);
    and the last id of every thread's share stays in the range."""
    s = Settings(model_name="seq", sequence_id_start=start, sequence_id_range=size).validate()
    for k in range(threads):
        assert sequences.make_sequencer(s, DATA, k, threads).next(0)[2] == start + k
        assert start + k + threads * (sequences.share(size, k, threads) - 1) <= start + size - 1


def test_sequencer_id_stride() -> None:
    q = _core.Sequencer([1], id_start=10, id_range=3, id_stride=4, length=1)
    assert [q.next(0)[2] for _ in range(4)] == [10, 14, 18, 10]
    with pytest.raises(ValueError, match="id stride >= 1"):
        _core.Sequencer([1], id_stride=0)
    with pytest.raises(ValueError, match="exceeds 2\\^64 - 1"):
        _core.Sequencer([1], id_start=2**64 - 3, id_range=2, id_stride=3)
    assert _core.Sequencer([1], id_start=2**64 - 4, id_range=2, id_stride=3, length=1).next(0)[2] == 2**64 - 4


def test_closed_loop_ids_never_collide_between_threads() -> None:
    """--concurrency-range 5 over 3 threads with the smallest range the check
    lets through (5 ids): the slots of each thread (2, 2, 1) cycle through
    ids no other thread uses."""
    s = Settings(model_name="seq", sequence_id_start=40, sequence_id_range=5, sequence_length=2,
                 sequence_length_variation=0, concurrency_range=Range(5, 5, 1)).validate()
    qs = sequences.make_sequencers(s, DATA, 3)
    seen = [ids_of(q, sequences.share(5, k, 3), 8) for k, q in enumerate(qs)]
    assert seen == [{40, 43}, {41, 44}, {42}]


def test_rate_mode_splits_the_sequences_over_threads() -> None:
    s = Settings(model_name="seq", load_modes=("request_rate",), num_of_sequences=5, sequence_length=3,
                 sequence_length_variation=0).validate()
    qs = sequences.make_sequencers(s, DATA, 2)
    for q, n in zip(qs, (3, 2), strict=True):
        owned = {q.next()[0] for _ in range(3 * n)}   # each of its sequences, once through
        assert owned == set(range(n))                       # 3 + 2 = --num-of-sequences
    assert [q.started for q in qs] == [3, 2]


@pytest.mark.parametrize("kw, threads, want", [
    (dict(), 8, 8),                                                          # closed loop: as given
    (dict(load_modes=("request_rate",), num_of_sequences=3), 8, 3),          # no thread without a sequence
    (dict(load_modes=("request_rate",), num_of_sequences=6, max_inflight=2), 8, 2),  # idle threads past the cap
    (dict(load_modes=("request_rate",), num_of_sequences=6), 4, 4),
    (dict(concurrency_range=Range(1, 0, 1), latency_threshold_ms=50, sequence_id_start=5, sequence_id_range=1),
     4, 1),                                                                  # never a thread without an id
])
def test_engine_threads_for_sequences(kw: dict, threads: int, want: int) -> None:
    assert sequences.engine_threads(Settings(model_name="seq", **kw).validate(), threads) == want


def test_the_engine_takes_one_sequencer_per_thread() -> None:
    for client in ("native", "curl"):
        qs = [_core.Sequencer([1]), _core.Sequencer([1])]
        e = _core.HttpEngine("http://127.0.0.1:9/", [(BODY, [])], client=client, threads=2, sequencer=qs)
        assert e.threads == 2
        e.close()
    with pytest.raises(ValueError, match="2 engine threads need as many sequencers, got 1"):
        _core.HttpEngine("http://127.0.0.1:9/", [(BODY, [])], threads=2, sequencer=_core.Sequencer([1]))
    q = _core.Sequencer([1])
    with pytest.raises(ValueError, match="each engine thread needs a Sequencer of its own"):
        _core.HttpEngine("http://127.0.0.1:9/", [(BODY, [])], threads=2, sequencer=[q, q])
    q.next(0)  # refused before any was taken: still free for tests
    with pytest.raises(TypeError, match="expected a Sequencer, got int"):
        _core.HttpEngine("http://127.0.0.1:9/", [(BODY, [])], threads=1, sequencer=[3])


def test_engines_without_sequences_have_no_sequence_ids() -> None:
    e = _core.HttpEngine("http://127.0.0.1:9/", [(b"{}", [])])
    e.keep_records()
    e.start()
    e.stop(drain_ms=0)
    assert e.sequence_ids() is None
    e.close()
    e = _core.HttpEngine("http://127.0.0.1:9/", [(BODY, [])], sequencer=_core.Sequencer([1]))
    e.keep_records()
    e.start()
    e.stop(drain_ms=0)
    assert e.sequence_ids().tolist() == []                    # sequenced: an (empty) id per record
    e.close()


RECORDS = np.array([(0, 10, 20, 0), (0, 11, 25, 0), (0, 12, 30, 0)], dtype=_core.RECORD_DTYPE)


def level(boundaries: list[int]) -> LevelResult:
    return LevelResult("concurrency", 1, None, True, 1, boundaries)  # type: ignore[arg-type]


def test_export_writes_each_requests_sequence_id_only_when_there_is_one(tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    export.write(str(out), [level([0, 100])], RECORDS, 1000, "v2/models/seq/infer", "1",
                 sequence_ids=np.array([7, 0, 2**64 - 1], np.uint64))
    reqs = json.loads(out.read_text())["experiments"][0]["requests"]
    assert [r.get("sequence_id") for r in reqs] == [7, None, 2**64 - 1]
    export.write(str(tmp_path / "plain.json"), [level([0, 100])], RECORDS, 1000, "x", "1")
    assert "sequence_id" not in (tmp_path / "plain.json").read_text()
    with pytest.raises(ValueError, match="2 sequence ids for 3 records"):
        export.experiments([level([0, 100])], RECORDS, 0, sequence_ids=np.array([1, 2], np.uint64))


def test_ramp_export_carries_sequence_ids() -> None:
    exp = export.ramp_experiment(RECORDS[::-1].copy(), 0, 100, 4, 0, None, np.array([3, 2, 1], np.uint64))
    assert [r["sequence_id"] for r in exp["requests"]] == [1, 2, 3]   # oldest send first, ids follow


def test_a_range_that_covers_the_load_covers_every_threads_share() -> None:
    """Why the one --sequence-id-range check is enough with threads: each
    thread's share of the range is at least its share of the concurrency (or
    of --num-of-sequences), split by the same rule, whenever the whole is."""
    for g in range(1, 9):
        for load in range(g, 40):
            for size in range(load, 60):
                assert all(sequences.share(size, k, g) >= sequences.share(load, k, g) for k in range(g))
