"""Sequences over gRPC (unary and --streaming) and the closing of open
sequences at a run's end (both HTTP clients and both gRPC engines), checked on the
server's side: sequence_accumulate logs every request it executes, and the
log is replayed as in test_sequences."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.services.triton_grpc import encode_request

from . import test_sequences
from .helpers import cli
from .test_input_data import write_json
from .test_interruptions import finish, start_cli, wait_for_line
from .test_memory import run_until, stretch_growth
from .test_sequences import MODEL, Server, check_closed_loop_lengths_and_ids, finished, replay

server = test_sequences.server  # the same fixture: a server of this module's own

LOOSE = ("--request-count", "150")
GRPC = {"unary": (), "streaming": ("--streaming",)}


def grpc(server: Server, mode: str) -> tuple[str, ...]:
    return ("-i", "grpc", "-u", server.grpc_url, *GRPC[mode])


def transport(server: Server, name: str) -> tuple[str, ...]:
    if name in ("http", "curl"):
        return ("-u", server.url, "--http-client", "curl" if name == "curl" else "native")
    return grpc(server, name)


@pytest.mark.parametrize("mode, extra", [("unary", ()), ("streaming", ()),
                                         ("unary", ("--grpc-compression-algorithm", "gzip"))])
def test_closed_loop_sequences_over_grpc(server: Server, mode: str, extra: tuple[str, ...]) -> None:
    server.reset_log()
    run = cli("-m", MODEL, *grpc(server, mode), *extra, "--concurrency-range", "3", "--sequence-length", "5",
              "--sequence-length-variation", "40", "--sequence-id-range", "100:1000000", *LOOSE)
    assert run.code == 0, run.stderr
    seqs, most = replay(server.requests())
    check_closed_loop_lengths_and_ids(seqs, most)
    assert all(s.ended for s in seqs)                       # the run's end closed the open ones


@pytest.mark.parametrize("mode", GRPC)
def test_json_streams_replay_in_order_over_grpc(server: Server, tmp_path: Path, mode: str) -> None:
    streams = [[1, 2, 3], [10, 20], [7]]
    doc = {"data": [[{"INPUT": [v]} for v in s] for s in streams]}
    server.reset_log()
    run = cli("-m", MODEL, *grpc(server, mode), "--input-data", write_json(tmp_path / "s.json", doc),
              "--concurrency-range", "2", *LOOSE)
    assert run.code == 0, run.stderr
    seqs, _ = replay(server.requests())
    ended = [s.inputs for s in finished(seqs, 2)]
    assert len(ended) >= 9
    assert all(s in streams for s in ended)                 # whole streams, in order
    firsts = sorted(seqs, key=lambda s: s.id)[:6]
    assert [s.inputs[0] for s in firsts] == [1, 10, 7, 1, 10, 7]   # new sequences take streams round robin


@pytest.mark.parametrize("mode", GRPC)
def test_request_rate_serial_sequences_over_grpc(server: Server, mode: str) -> None:
    server.reset_log()
    run = cli("-m", MODEL, *grpc(server, mode), "--request-rate-range", "200", "--num-of-sequences", "3",
              "--serial-sequences", "--sequence-length", "4", "--sequence-length-variation", "0",
              "--sequence-id-range", "1:1000000", *LOOSE)
    assert run.code == 0, run.stderr
    seqs, most = replay(server.requests())
    assert most <= 3
    assert sum(s.ended for s in seqs) >= 20
    assert all(len(s.inputs) == 4 for s in finished(seqs, 3))
    assert all(s.ended for s in seqs)


@pytest.mark.parametrize("name", ["http", "curl", "unary", "streaming"])
@pytest.mark.parametrize("load, sequences", [(("--concurrency-range", "3"), 3),
                                             (("--request-rate-range", "300", "--num-of-sequences", "4"), 4)])
def test_sequences_open_at_the_end_get_one_request_flagged_end(server: Server, name: str, load: tuple[str, ...],
                                                               sequences: int) -> None:
    # Sequences far longer than the run: none ends on its own, so every END is the closing one.
    server.reset_log()
    run = cli("-m", MODEL, *transport(server, name), *load, "--sequence-length", "1000",
              "--sequence-length-variation", "0", *LOOSE)
    assert run.code == 0, run.stderr
    assert "Request count: 150" in run.stdout               # the closing requests are in no window
    requests = server.requests()
    seqs, _ = replay(requests)
    assert len(seqs) == sequences
    assert all(s.ended for s in seqs)
    assert len(requests) == 150 + sequences                 # exactly one more request per sequence
    ends = [i for i, (_, _, end, _) in enumerate(requests) if end]
    assert len(ends) == sequences


@pytest.mark.parametrize("mode", GRPC)
def test_json_streams_validate_over_grpc(server: Server, tmp_path: Path, mode: str) -> None:
    streams = [[1, 2, 3], [10, 20], [7]]
    # The model's running sum and step count: only right if every step came in order under one ID.
    doc = {"data": [[{"INPUT": [v]} for v in s] for s in streams],
           "validation_data": [[{"OUTPUT": [sum(s[:k + 1])], "STEP": [k + 1]} for k in range(len(s))]
                               for s in streams]}
    server.reset_log()
    run = cli("-m", MODEL, *grpc(server, mode), "--input-data", write_json(tmp_path / "s.json", doc),
              "--concurrency-range", "2", *LOOSE)
    assert run.code == 0, run.stderr
    assert len(finished(replay(server.requests())[0], 2)) >= 9
    doc["validation_data"][1][1]["STEP"] = [5]
    run = cli("-m", MODEL, *grpc(server, mode), "--input-data", write_json(tmp_path / "s.json", doc),
              "--concurrency-range", "2", *LOOSE)
    assert run.code == 99, run.stderr
    assert ("Output doesn't match expected output: stream 1, step 1, output 'STEP', element 0: expected 5, got 2"
            in run.stderr)


@pytest.mark.parametrize("name", ["http", "streaming"])
def test_ctrl_c_still_closes_the_open_sequences(server: Server, name: str) -> None:
    server.reset_log()
    proc = start_cli("-m", MODEL, *transport(server, name), "--concurrency-range", "2:50", "--sequence-length",
                     "100000", "-p", "300", "-s", "100", "-r", "20")
    seen: list[str] = []
    wait_for_line(proc, "Avg request latency", seen)  # a level measured: the sweep is under way
    proc.send_signal(signal.SIGINT)
    code, _, stderr = finish(proc, seen)
    assert "Traceback" not in stderr, stderr
    seqs, most = replay(server.requests())
    # One never-ending sequence per slot (a third when SIGINT lands as level 3
    # starts: its START may reach the log after the others' ENDs), each closed.
    assert len(seqs) >= 2 and most >= 2
    assert all(s.ended for s in seqs)


SEQ_SPEC = ModelSpec(MODEL, "", "python", 8, (TensorSpec("INPUT", "INT32", (1,)),),
                     (TensorSpec("OUTPUT", "INT32", (1,)),), sequence=True)


@pytest.mark.parametrize("streaming", [False, True])
def test_grpc_sequences_keep_memory_flat(server: Server, streaming: bool) -> None:
    # Patching each request's id and flags allocates nothing: judged as the
    # plain gRPC memory test does, the smaller of two stretches.
    params = {"triton_enable_empty_final_response": True} if streaming else None
    message = encode_request(SEQ_SPEC, {"INPUT": np.ones((1, 1), dtype=np.int32)}, parameters=params, sequence=True)
    engine = _core.GrpcEngine(server.grpc_url, [message], streaming=streaming,
                              sequencer=_core.Sequencer([1], length=5, variation=0))
    try:
        engine.start()
        engine.set_concurrency(4)
        run_until(engine, 2_000)
        grown = stretch_growth(engine, 10_000)
        assert engine.failed == 0
    finally:
        engine.stop(2000)
        engine.close()
    assert min(grown) < 128 * 1024, f"RSS grew by {grown} bytes in each of two stretches of 10,000 requests"


@pytest.mark.parametrize("mode", GRPC)
def test_grpc_export_names_each_requests_sequence_id(server: Server, tmp_path: Path, mode: str) -> None:
    server.reset_log()
    out = tmp_path / "export.json"
    run = cli("-m", MODEL, *grpc(server, mode), "--concurrency-range", "3", "--sequence-length", "4",
              "--sequence-length-variation", "0", "--sequence-id-range", "500:100000",
              "--profile-export-file", str(out), *LOOSE)
    assert run.code == 0, run.stderr
    (exp,) = json.loads(out.read_text())["experiments"]
    exported = Counter(r["sequence_id"] for r in exp["requests"])
    assert sum(exported.values()) == 150                    # the closing requests are not exported
    seen = Counter(cid for cid, *_ in server.requests())
    assert all(seen[i] >= n for i, n in exported.items()), (exported, seen)
    assert all(n <= 4 for n in exported.values()) and len(exported) >= 150 // 4


@pytest.mark.parametrize("name", ["http", "unary", "streaming"])
@pytest.mark.parametrize("param", ["sequence_id:7:int", "sequence_start:true:bool"])
def test_request_parameter_naming_a_sequence_field_is_exit_3(server: Server, name: str, param: str) -> None:
    """The engine sets these per request: gRPC used to end in a traceback,
    HTTP to drop the user's value silently."""
    server.reset_log()
    run = cli("-m", MODEL, *transport(server, name), "--request-parameter", param, *LOOSE)
    assert run.code == 3
    assert run.stderr.strip() == (f"error: --request-parameter {param.split(':')[0]}: set per request for "
                                  f"sequence model '{MODEL}'")
    assert server.requests() == []


def test_a_streaming_stop_ends_with_the_last_answer(server: Server) -> None:
    # Each answered stream request leaves the in-flight count, so the drain
    # ends once the closing requests are answered, long before its deadline.
    message = encode_request(SEQ_SPEC, {"INPUT": np.ones((1, 1), dtype=np.int32)},
                             parameters={"triton_enable_empty_final_response": True}, sequence=True)
    engine = _core.GrpcEngine(server.grpc_url, [message], streaming=True,
                              sequencer=_core.Sequencer([1], length=1000, variation=0))
    server.reset_log()
    try:
        engine.start()
        engine.set_concurrency(2)
        run_until(engine, 50)
        began = time.monotonic()
        engine.stop(60_000)
        took = time.monotonic() - began
    finally:
        engine.close()
    assert took < 30, f"stop(60 s drain) took {took:.1f} s with nothing left in flight"
    seqs, _ = replay(server.requests())
    assert len(seqs) == 2 and all(s.ended for s in seqs)       # the drain still closed both


def test_streaming_rate_steps_up_past_one_in_flight_under_a_cap(server: Server) -> None:
    # One slot first, then far more than the server can answer under a cap of
    # 4 in flight (what --serial-sequences sets): the engine adds slots up to
    # the cap. Answered requests counted as still in
    # flight would hold the cap reached forever, and the engine at one slot.
    message = encode_request(SEQ_SPEC, {"INPUT": np.ones((1, 1), dtype=np.int32)},
                             parameters={"triton_enable_empty_final_response": True}, sequence=True)
    engine = _core.GrpcEngine(server.grpc_url, [message], streaming=True,
                              sequencer=_core.Sequencer([1], length=4, variation=0, n_sequences=4, serial=True))
    try:
        engine.start()
        engine.set_concurrency(1)
        run_until(engine, 10)
        engine.set_rate(50_000.0, max_inflight=4)
        most = 0
        goal = engine.completed + 2000
        while engine.completed < goal and most < 4:
            assert engine.failed == 0, engine.error_messages()
            most = max(most, engine.in_flight)
    finally:
        engine.stop(5000)
        engine.close()
    assert most == 4, f"at most {most} requests in flight at 50,000 requests/s under a cap of 4"
