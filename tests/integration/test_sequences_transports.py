"""Sequences over the curl client (plain HTTP and HTTPS through the TLS
proxy) and over several engine threads, and the sequence ids of the profile
export, all checked against what the sequence_accumulate model logged."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from .helpers import cli, cli_on_cpus
from .test_capi import server_dir  # noqa: F401  (the fixture, for the C API)
from .test_input_data import write_json
from .test_sequences import LOOSE, MODEL, Server, finished, replay, server  # noqa: F401  (server: the fixture)
from .tls_proxy import TlsProxy, TlsRigError

SCHEMA = Path(__file__).parent / "data" / "profile_export.schema.json"
STREAMS = [[1, 2, 3], [10, 20], [7], [4, 5, 6, 7]]


def streams_json(tmp_path: Path) -> str:
    """Streams whose validation data is the model's running sum and step
    count: right only if each sequence's steps came in order under one ID."""
    doc = {"data": [[{"INPUT": [v]} for v in s] for s in STREAMS],
           "validation_data": [[{"OUTPUT": [sum(s[:k + 1])], "STEP": [k + 1]} for k in range(len(s))]
                               for s in STREAMS]}
    return write_json(tmp_path / "streams.json", doc)


def check_whole_streams(srv: Server, least: int, open_at_end: int) -> list[int]:
    """Every sequence the server saw is a stream played in order under one
    id, no id was reused while open; the ids of the ended sequences. The
    last `open_at_end` were closed when the run ended: a stream's start."""
    seqs, _ = replay(srv.requests())
    assert all(s.ended for s in seqs)
    ended = [s for s in seqs if s.ended]
    assert len(ended) >= least
    assert all(s.inputs in STREAMS for s in finished(seqs, open_at_end))
    assert all(s.inputs == STREAMS[[t[0] for t in STREAMS].index(s.inputs[0])][:len(s.inputs)] for s in seqs)
    return [s.id for s in ended]


@pytest.fixture(scope="module")
def proxy(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsProxy]:  # noqa: F811
    p = TlsProxy(server.url, tmp_path_factory.mktemp("tls"))
    try:
        p.start()
    except TlsRigError as exc:
        pytest.fail(f"could not start the TLS proxy: {exc}", pytrace=False)
    try:
        yield p
    finally:
        p.stop()


def test_curl_client_sends_sequences_in_order(server: Server, tmp_path: Path) -> None:  # noqa: F811
    server.reset_log()
    run = cli("-m", MODEL, "-u", server.url, "--http-client", "curl", "--input-data", streams_json(tmp_path),
              "--concurrency-range", "3", *LOOSE)
    assert run.code == 0, run.stderr
    ids = check_whole_streams(server, 20, 3)
    assert len(ids) == len(set(ids))


def test_https_sends_sequences_in_order(server: Server, proxy: TlsProxy, tmp_path: Path) -> None:  # noqa: F811
    server.reset_log()
    run = cli("-m", MODEL, "-u", proxy.url("good"), "--ssl-https-ca-certificates-file", proxy.pki.ca,
              "--input-data", streams_json(tmp_path), "--concurrency-range", "2", *LOOSE)
    assert run.code == 0, run.stderr
    check_whole_streams(server, 20, 2)


def transport(srv: Server, name: str, request: pytest.FixtureRequest) -> tuple[tuple[str, ...], dict[str, str]]:
    """The flags (and environment) of a run on that transport against the logging server's model."""
    if name in ("native", "curl"):
        return ("-u", srv.url, "--http-client", name), {}
    if name in ("grpc", "grpc_stream"):
        return ("-i", "grpc", "-u", srv.grpc_url, *(("--streaming",) if name == "grpc_stream" else ())), {}
    # In-process: the model is loaded from the server's repository, and logs to the same file.
    return (("--service-kind", "triton_c_api", "--model-repository", str(srv.log.parent / "models"),
             "--triton-server-directory", request.getfixturevalue("server_dir")),
            {"SEQUENCE_ACCUMULATE_LOG": str(srv.log)})


@pytest.mark.parametrize("name", ["native", "curl", "grpc", "grpc_stream", "capi"])
def test_threads_keep_sequences_apart(server: Server, tmp_path: Path, request: pytest.FixtureRequest,  # noqa: F811
                                      name: str) -> None:
    """Thread k of 3 owns the ids 1000 + k, 1000 + k + 3, ...: all three are
    used, no id twice, and every sequence stays whole and ended (validation
    would fail otherwise)."""
    server.reset_log()
    args, env = transport(server, name, request)
    run = cli_on_cpus(8, "-m", MODEL, *args, "--max-threads", "3", "--input-data", streams_json(tmp_path),
                      "--concurrency-range", "4", "--sequence-id-range", "1000:2000", "--request-count", "300",
                      env=env)
    assert run.code == 0, run.stderr
    ids = check_whole_streams(server, 40, 4)
    assert len(ids) == len(set(ids))
    by_thread = [sorted(i for i in ids if (i - 1000) % 3 == k) for k in range(3)]
    # Each thread's ids in turn from the start of the range, as small as one counter's.
    assert all(by_thread)
    assert all(b == list(range(1000 + k, 1000 + k + 3 * len(b), 3)) for k, b in enumerate(by_thread))


@pytest.mark.parametrize("name", ["native", "curl", "grpc", "grpc_stream", "capi"])
def test_rate_mode_threads_split_the_sequences(server: Server, request: pytest.FixtureRequest,  # noqa: F811
                                               name: str) -> None:
    server.reset_log()
    args, env = transport(server, name, request)
    run = cli_on_cpus(8, "-m", MODEL, *args, "--max-threads", "3", "--request-rate-range", "300",
                      "--num-of-sequences", "4", "--serial-sequences", "--sequence-length", "3",
                      "--sequence-length-variation", "0", "--sequence-id-range", "1:101", "--request-count", "240",
                      env=env)
    assert run.code == 0, run.stderr
    seqs, most = replay(server.requests())
    assert most <= 4
    assert all(s.ended for s in seqs)
    ended = finished(seqs, 4)
    assert len(ended) >= 40 and all(len(s.inputs) == 3 for s in ended)
    ids = [s.id for s in seqs]
    # Each thread cycles its own third of the ids, interleaved: thread k's are 1 + k + 3j.
    assert {(i - 1) % 3 for i in ids} == {0, 1, 2}
    # The request budget is exact across the threads.
    (count,) = [int(n) for n in re.findall(r"^    Request count: (\d+)$", run.stdout, re.M)]
    assert count == 240


@pytest.mark.parametrize("threads", ["1", "2"])
def test_export_sequence_ids_are_the_servers(server: Server, tmp_path: Path, threads: str) -> None:  # noqa: F811
    server.reset_log()
    out = tmp_path / "export.json"
    run = cli("-m", MODEL, "-u", server.url, "--max-threads", threads, "--concurrency-range", "3",
              "--sequence-length", "4", "--sequence-length-variation", "0", "--sequence-id-range", "500:100000",
              "--profile-export-file", str(out), *LOOSE)
    assert run.code == 0, run.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    (exp,) = doc["experiments"]
    exported = Counter(r["sequence_id"] for r in exp["requests"])   # every request has one
    assert sum(exported.values()) == 150
    seen = Counter(cid for cid, *_ in server.requests())
    # Each exported id is one the server executed, at most as often as it did
    # (warm-up and requests outside the window are not exported).
    assert all(seen[i] >= n for i, n in exported.items()), (exported, seen)
    assert all(n <= 4 for n in exported.values())                    # one id per sequence of 4 steps
    assert len(exported) >= 150 // 4


def test_non_sequence_export_has_no_sequence_ids(triton, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    run = cli("-m", "identity", "-u", triton.http_url, "--request-count", "50", "--profile-export-file", str(out))
    assert run.code == 0, run.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert all("sequence_id" not in r for e in doc["experiments"] for r in e["requests"])
