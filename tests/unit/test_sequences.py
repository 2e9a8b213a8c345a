"""Sequences without a server: the compiled Sequencer's state machine, the
fixed-width fields of an encoded body, and the sequence flags."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.cli import parse_args
from perfanalyzer.data_loader import DataSet
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.sequences import check_settings, make_sequencer, open_loop_settings, request_steps
from perfanalyzer.services.triton_http import TritonHttpService
from perfanalyzer.settings import Settings


def test_closed_loop_slot_plays_whole_streams_round_robin_under_one_id() -> None:
    q = _core.Sequencer([3, 2], id_start=5)
    got = [q.next(0) for _ in range(7)]
    #         (sequence, body, id, step, start, end)
    assert got == [(0, 0, 5, 0, True, False), (0, 1, 5, 1, False, False), (0, 2, 5, 2, False, True),
                   (0, 3, 6, 0, True, False), (0, 4, 6, 1, False, True),
                   (0, 0, 7, 0, True, False), (0, 1, 7, 1, False, False)]
    assert q.started == 3


def answered(q: _core.Sequencer, slot: int) -> tuple:
    r = q.next(slot)
    q.done(r[0])
    return r


def test_each_slot_has_its_own_sequence_and_ids_wrap_in_the_range() -> None:
    q = _core.Sequencer([2], id_start=10, id_range=3)
    ids = [answered(q, slot)[2] for _ in range(2) for slot in range(3)]
    assert ids == [10, 11, 12, 10, 11, 12]      # one sequence per slot, steps interleaved
    assert [answered(q, 0)[2] for _ in range(2)] == [10, 10]   # the 4th sequence reuses id 10 (range 3)


def test_an_id_whose_end_is_unanswered_is_not_reused() -> None:
    q = _core.Sequencer([1], id_start=1, id_range=2, length=1)
    assert answered(q, 0)[2] == 1
    end = q.next(1)                             # id 2: its only request, START and END, in flight
    assert end[2:] == (2, 0, True, True)
    assert answered(q, 0)[2] == 1
    assert answered(q, 0)[2] == 1               # id 2's turn, skipped: the server may still hold it
    q.done(end[0])
    assert answered(q, 0)[2] == 2


def test_lengths_vary_within_the_variation_and_data_repeats() -> None:
    q = _core.Sequencer([3], length=10, variation=0.2, seed=7)
    lengths, run, bodies = [], 0, set()
    for _ in range(5000):
        _, body, _, step, start, end = q.next(0)
        bodies.add(body)
        assert step == run and start == (run == 0)
        run += 1
        if end:
            lengths.append(run)
            run = 0
    assert min(lengths) >= 8 and max(lengths) <= 12
    assert len(set(lengths)) == 5          # 8..12 all occur
    assert bodies == {0, 1, 2}


def test_open_loop_round_robin_and_serial_sequences_wait() -> None:
    q = _core.Sequencer([1], length=3, variation=0, n_sequences=2, serial=True)
    a, b = q.next(), q.next()
    assert (a[0], a[2], b[0], b[2]) == (0, 1, 1, 2)
    assert q.next() is None                # both busy
    q.done(0)
    assert q.next()[:4] == (0, 0, 1, 1)    # sequence 0's second step, same id
    free = _core.Sequencer([1], length=3, variation=0, n_sequences=2)
    assert [free.next()[2] for _ in range(4)] == [1, 2, 1, 2]   # not serial: no waiting


def test_a_sequencer_drives_one_engine() -> None:
    q = _core.Sequencer([1])
    body = b'{"parameters":{"sequence_id":' + b" " * 19 + b'0,"sequence_start":false,"sequence_end":false}}'
    e = _core.HttpEngine("http://127.0.0.1:9/", [(body, [])], sequencer=q)
    with pytest.raises(ValueError, match="already used"):
        _core.HttpEngine("http://127.0.0.1:9/", [(body, [])], sequencer=q)
    with pytest.raises(ValueError, match="used by an engine"):
        q.next()
    e.close()
    with pytest.raises(RuntimeError, match="no sequence_id/sequence_start/sequence_end"):
        _core.HttpEngine("http://127.0.0.1:9/", [(b"{}", [])], sequencer=_core.Sequencer([1]))
    with pytest.raises(RuntimeError, match="body 0 has no sequence_id/sequence_start/sequence_end"):
        _core.HttpEngine("http://127.0.0.1:9/", [(b"{}", [])], sequencer=_core.Sequencer([1]), client="curl")
    _core.HttpEngine("http://127.0.0.1:9/", [(body, [])], sequencer=_core.Sequencer([1]), client="curl").close()


SPEC = ModelSpec("seq", "", "", 4, (TensorSpec("INPUT", "INT32", (1,)),), (TensorSpec("OUTPUT", "INT32", (1,)),),
                 sequence=True)


def test_encoded_body_has_fixed_width_fields_and_stays_valid_json() -> None:
    svc = TritonHttpService("127.0.0.1:9")
    try:
        body, lines = svc.encode_request(SPEC, {"INPUT": np.ones((1, 1), np.int32)}, sequence=True,
                                         parameters={"tag": "x"})
    finally:
        svc.close()
    n = int(dict(line.split(": ", 1) for line in lines)["Inference-Header-Content-Length"])
    header = json.loads(body[:n])
    assert header["parameters"] == {"tag": "x", "sequence_id": 0, "sequence_start": False, "sequence_end": False}
    assert b'"sequence_id":' + b" " * 19 + b'0,' in body
    # What the engine writes in place keeps the JSON valid.
    patched = body[:n].replace(b" " * 19 + b"0", b" " * 17 + b"123").replace(
        b'"sequence_start":false', b'"sequence_start":true ')
    assert json.loads(patched)["parameters"]["sequence_id"] == 123
    assert json.loads(patched)["parameters"]["sequence_start"] is True


def data(*lengths: int, from_json: bool = True) -> DataSet:
    return DataSet(tuple(tuple({"INPUT": np.full(1, k, np.int32)} for k in range(n)) for n in lengths),
                   from_json=from_json)


def test_bodies_are_every_streams_steps_back_to_back() -> None:
    assert request_steps(SPEC, data(2, 3), 2) == [(0, [0, 0]), (0, [1, 1]), (1, [0, 0]), (1, [1, 1]), (1, [2, 2])]


def test_sequencer_settings_follow_perf_analyzer() -> None:
    s = Settings(model_name="seq").validate()
    q = make_sequencer(s, data(2, 1))                   # JSON streams, no --sequence-length: whole streams
    assert [q.next(0)[4:] for _ in range(3)] == [(True, False), (False, True), (True, True)]
    q = make_sequencer(s, data(1, from_json=False))     # generated data: 20 +/- 20 %
    n = 1
    while not q.next(0)[5]:
        n += 1
    assert 16 <= n <= 24
    rate = Settings(model_name="seq", load_modes=("request_rate",), serial_sequences=True, num_of_sequences=3)
    assert open_loop_settings(rate.validate()).max_inflight == 3
    assert open_loop_settings(Settings(model_name="seq").validate()).max_inflight == 0


def test_sequence_flags_parse_and_check() -> None:
    s = parse_args(["-m", "m", "--sequence-length", "7", "--sequence-length-variation", "0", "--sequence-id-range",
                    "100:110", "--num-of-sequences", "2", "--serial-sequences", "--concurrency-range", "1:10"])
    assert (s.sequence_length, s.sequence_length_variation, s.sequence_id_start, s.sequence_id_range,
            s.num_of_sequences, s.serial_sequences) == (7, 0.0, 100, 10, 2, True)
    assert parse_args(["-m", "m", "--sequence-id-range", "5"]).sequence_id_range == 2**32 - 1


@pytest.mark.parametrize("args, words", [
    (["--sequence-id-range", "1:4", "--concurrency-range", "1:4"],
     "sequence id range specified is smaller than the maximum possible concurrency, sequence id collision may occur"),
    (["--sequence-id-range", "1:3", "--request-rate-range", "10", "--num-of-sequences", "4"],
     "smaller than --num-of-sequences (4)"),
    (["--sequence-id-range", "5:5"], "The 'end' value must be greater than 'start' value."),
    (["--sequence-id-range", "a:b"], "Failed to parse --sequence-id-range. Invalid value provided: a:b"),
    (["--sequence-id-range", "0:9"], "want start:end with 1 <= start < end"),
    (["--sequence-length-variation", "120"], "percentage in 0..100"),
    (["--num-of-sequences", "0"], "Failed to parse --num-of-sequences. The value must be > 0"),
])
def test_bad_sequence_flags(args: list[str], words: str) -> None:
    with pytest.raises(OptionError, match=None) as info:
        parse_args(["-m", "m", *args])
    assert words in str(info.value)


def test_sequence_models_need_batch_size_1() -> None:
    check_settings(Settings(model_name="seq", http_client="curl").validate())   # any HTTP client
    with pytest.raises(OptionError, match="-b 2: model 'seq' is a sequence model"):
        check_settings(Settings(model_name="seq", batch_size=2).validate())
    check_settings(Settings(model_name="seq").validate())


def test_streams_taken_round_robin_by_new_sequences() -> None:
    q = _core.Sequencer([1, 1, 1], length=1)
    assert Counter(q.next(s)[1] for s in range(6)) == {0: 2, 1: 2, 2: 2}


@pytest.mark.parametrize("name", ["sequence_id", "sequence_start", "sequence_end"])
def test_request_parameters_cannot_set_the_sequence_fields(name: str) -> None:
    """The engine sets these per request: a user value would be overwritten
    (HTTP) or break the patching (gRPC)."""
    s = parse_args(["-m", "seq", "--request-parameter", f"{name}:1:int"])
    with pytest.raises(OptionError) as info:
        check_settings(s)
    assert str(info.value) == f"--request-parameter {name}: set per request for sequence model 'seq'"
    check_settings(parse_args(["-m", "seq", "--request-parameter", "priority:1:int"]))  # others pass through


def test_open_ended_concurrency_sweep_is_refused_with_a_given_id_range() -> None:
    """An open-ended sweep has no largest concurrency that a given id range
    could cover; the default range (2^32 - 1 ids) outnumbers any sweep."""
    s = parse_args(["-m", "seq", "--concurrency-range", "1:0", "--latency-threshold", "50",
                    "--sequence-id-range", "5:6"])
    with pytest.raises(OptionError) as info:
        check_settings(s)
    assert str(info.value) == ("--concurrency-range 1:0: an open-ended sweep can exceed --sequence-id-range "
                               "on sequence model 'seq', sequence id collision may occur; give the sweep an end")
    check_settings(parse_args(["-m", "seq", "--concurrency-range", "1:4", "--sequence-id-range", "5:9"]))
    check_settings(parse_args(["-m", "seq", "--request-rate-range", "10:0", "-l", "50"]))  # rate sweeps: by sequences
    check_settings(parse_args(["-m", "seq", "--concurrency-range", "1:0", "--latency-threshold", "50"]))
