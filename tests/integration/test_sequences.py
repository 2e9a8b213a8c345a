"""Sequence models against the real server: the sequence_accumulate model logs
every request it executes (correlation ID, start, end, input), and the log is
replayed here: every sequence starts with START, ends with END, keeps one ID,
and its steps arrive in order with the lengths asked for."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from triton_launcher import TritonServer, TritonServerError

from .helpers import cli
from .test_input_data import write_json

# One window of an exact request count: always "stable", however noisy the machine.
LOOSE = ("--request-count", "150")
MODEL = "sequence_accumulate"


@dataclass
class Server:
    url: str
    log: Path
    grpc_url: str = ""

    def reset_log(self) -> None:
        self.log.write_text("")  # the model appends (O_APPEND): it continues at the new end

    def requests(self) -> list[tuple[int, bool, bool, int]]:
        rows = [line.split() for line in self.log.read_text().splitlines() if line.strip()]
        return [(int(c), s == "1", e == "1", int(v)) for c, s, e, v in rows]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_repository: Path) -> Iterator[Server]:
    """A server of its own: the model's log path travels in its environment."""
    root = tmp_path_factory.mktemp("seq")
    shutil.copytree(model_repository / MODEL, root / "models" / MODEL)
    log = root / "requests.log"
    old = os.environ.get("SEQUENCE_ACCUMULATE_LOG")
    os.environ["SEQUENCE_ACCUMULATE_LOG"] = str(log)
    srv = TritonServer(root / "models")
    try:
        srv.start()
    except TritonServerError as exc:
        pytest.fail(f"could not start the Triton server: {exc}", pytrace=False)
    finally:
        if old is None:
            del os.environ["SEQUENCE_ACCUMULATE_LOG"]
        else:
            os.environ["SEQUENCE_ACCUMULATE_LOG"] = old
    try:
        yield Server(srv.http_url, log, srv.grpc_url)
    finally:
        srv.stop()


@dataclass
class Sequence:
    id: int
    inputs: list[int] = field(default_factory=list)
    ended: bool = False


def replay(requests: list[tuple[int, bool, bool, int]]) -> tuple[list[Sequence], int]:
    """The sequences the server saw, and the most that were open at once.
    Fails on any step outside a sequence or a start while one is open."""
    open_: dict[int, Sequence] = {}
    done: list[Sequence] = []
    most = 0
    for i, (cid, start, end, value) in enumerate(requests):
        if start:
            assert cid not in open_, f"request {i}: sequence {cid} restarted before its end"
            open_[cid] = Sequence(cid)
        assert cid in open_, f"request {i}: a step of {cid} outside any sequence"
        seq = open_[cid]
        seq.inputs.append(value)
        most = max(most, len(open_))
        if end:
            seq.ended = True
            done.append(open_.pop(cid))
    return done + list(open_.values()), most


def finished(seqs: list[Sequence], open_at_end: int) -> list[Sequence]:
    """The sequences that ended on their own. A run's end closes the ones
    still open (one more request each, flagged END): their ENDs are the last
    `open_at_end` (at most that many were open at once), and they may be short."""
    ended = [s for s in seqs if s.ended]
    return ended[:max(0, len(ended) - open_at_end)]


def check_closed_loop_lengths_and_ids(seqs: list, most: int) -> None:
    """Three slots, --sequence-length 5 with 40 % variation, ids from 100."""
    ended = finished(seqs, 3)
    assert len(ended) >= 10
    assert most <= 3                                         # one sequence per slot
    assert {len(s.inputs) for s in ended} <= {3, 4, 5, 6, 7}  # 5 +/- 40 %
    assert len({len(s.inputs) for s in ended}) >= 3          # and they do vary
    ids = [s.id for s in seqs]
    assert len(ids) == len(set(ids)) and min(ids) >= 100     # a fresh id per sequence, from the range


def test_closed_loop_sequences_keep_their_id_order_and_lengths(server: Server) -> None:
    server.reset_log()
    run = cli("-m", MODEL, "-u", server.url, "--concurrency-range", "3", "--sequence-length", "5",
              "--sequence-length-variation", "40", "--sequence-id-range", "100:1000000", *LOOSE)
    assert run.code == 0, run.stderr
    seqs, most = replay(server.requests())
    check_closed_loop_lengths_and_ids(seqs, most)
    assert all(len(set(s.inputs)) == 1 for s in seqs)        # random data: one step, replayed


def test_json_streams_replay_in_order_and_validate(server: Server, tmp_path: Path) -> None:
    streams = [[1, 2, 3], [10, 20], [7]]
    doc = {
        "data": [[{"INPUT": [v]} for v in s] for s in streams],
        # The model's running sum and step count: only right if every step came in order under one ID.
        "validation_data": [[{"OUTPUT": [sum(s[:k + 1])], "STEP": [k + 1]} for k in range(len(s))] for s in streams],
    }
    server.reset_log()
    run = cli("-m", MODEL, "-u", server.url, "--input-data", write_json(tmp_path / "s.json", doc),
              "--concurrency-range", "2", *LOOSE)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith(" Successfully read data for 3 stream/streams.")
    seqs, _ = replay(server.requests())
    ended = [s.inputs for s in finished(seqs, 2)]
    assert len(ended) >= 9
    assert all(s in streams for s in ended)                 # whole streams, in order
    firsts = sorted(seqs, key=lambda s: s.id)[:6]
    assert [s.inputs[0] for s in firsts] == [1, 10, 7, 1, 10, 7]   # new sequences take streams round robin


def test_a_wrong_expected_step_fails_validation(server: Server, tmp_path: Path) -> None:
    doc = {"data": [[{"INPUT": [1]}, {"INPUT": [2]}]],
           "validation_data": [[{"STEP": [1]}, {"STEP": [3]}]]}
    run = cli("-m", MODEL, "-u", server.url, "--input-data", write_json(tmp_path / "s.json", doc), *LOOSE)
    assert run.code == 99, run.stderr
    assert "Output doesn't match expected output: step 1, output 'STEP', element 0: expected 3, got 2" in run.stderr


def test_ids_stay_in_the_range(server: Server) -> None:
    server.reset_log()
    run = cli("-m", MODEL, "-u", server.url, "--concurrency-range", "2", "--sequence-length", "2",
              "--sequence-length-variation", "0", "--sequence-id-range", "5000:5002", *LOOSE)
    assert run.code == 0, run.stderr
    seqs, _ = replay(server.requests())
    assert {s.id for s in seqs} == {5000, 5001}
    assert all(len(s.inputs) == 2 for s in finished(seqs, 2))


def test_request_rate_serial_sequences(server: Server) -> None:
    server.reset_log()
    run = cli("-m", MODEL, "-u", server.url, "--request-rate-range", "200", "--num-of-sequences", "3",
              "--serial-sequences", "--sequence-length", "4", "--sequence-length-variation", "0",
              "--sequence-id-range", "1:1000000", *LOOSE)
    assert run.code == 0, run.stderr
    seqs, most = replay(server.requests())
    assert most <= 3
    assert sum(s.ended for s in seqs) >= 20
    assert all(len(s.inputs) == 4 for s in finished(seqs, 3))


def test_id_range_smaller_than_concurrency_is_exit_3(server: Server) -> None:
    run = cli("-m", MODEL, "-u", server.url, "--concurrency-range", "1:4", "--sequence-id-range", "1:3", *LOOSE)
    assert run.code == 3
    assert run.stderr.strip() == ("error: --sequence-id-range: sequence id range specified is smaller than the "
                                  "maximum possible concurrency, sequence id collision may occur.")


def test_batch_size_over_1_is_exit_3_and_sends_nothing(server: Server) -> None:
    server.reset_log()
    run = cli("-m", MODEL, "-u", server.url, "-b", "2", *LOOSE)
    assert run.code == 3
    assert run.stderr.strip() == (f"error: -b 2: model '{MODEL}' is a sequence model, and Triton's sequence "
                                  "batcher takes requests of batch size 1 only")
    assert server.requests() == []


def test_open_ended_concurrency_sweep_is_exit_3_and_sends_nothing(server: Server) -> None:
    """With a one-id range and several threads this used to end in a traceback."""
    server.reset_log()
    run = cli("-m", MODEL, "-u", server.url, "--concurrency-range", "1:0", "--latency-threshold", "50",
              "--sequence-id-range", "5:6", "--max-threads", "4", *LOOSE)
    assert run.code == 3
    assert run.stderr.strip() == (f"error: --concurrency-range 1:0: an open-ended sweep can exceed "
                                  f"--sequence-id-range on sequence model '{MODEL}', sequence id collision may "
                                  "occur; give the sweep an end")
    assert server.requests() == []
