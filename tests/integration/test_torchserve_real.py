"""--service-kind torchserve against a real TorchServe (its Java frontend and
Python worker, from the TorchServe venv) serving a handler that needs no
weights: it echoes each body and records it. The record tells what the server
actually served, to compare with what perfanalyzer counted and sent.
test_torchserve.py keeps the loopback peer for what TorchServe cannot be made
to do on demand (exact paths and headers seen on the wire)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import cli
from .torchserve_server import TorchServe, TorchServeError

MODEL = "echo"


@pytest.fixture(scope="module")
def torchserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """One server for the module: starting the worker (it imports torch) is the slow part."""
    server = TorchServe(tmp_path_factory.mktemp("torchserve"), MODEL)
    failure = ""
    try:
        server.start()
    except TorchServeError as exc:
        failure = str(exc)
    if failure:
        server.stop()
        # an error, not a skip: a TorchServe that does not start must not pass for green
        pytest.fail(f"could not start TorchServe: {failure}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    (tmp_path / "kitten.jpg").write_bytes(b"\xff\xd8\xff\xe0 first image" + bytes(range(256)) * 4)
    (tmp_path / "second.bin").write_bytes(b"second body")
    doc = {"data": [{"TORCHSERVE_INPUT": [str(tmp_path / "kitten.jpg")]}, {"TORCHSERVE_INPUT": ["second.bin"]}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc))
    return path


def _client_counts(stdout: str) -> list[int]:
    return [int(part.split("\n")[0]) for part in stdout.split("    Request count: ")[1:]]


def test_served_count_and_bodies_match(torchserve: TorchServe, data_file: Path) -> None:
    before = len(torchserve.received())
    logged_before = torchserve.access_log_count(f"POST /predictions/{MODEL}", 200)
    run = cli("-m", MODEL, "--service-kind", "torchserve", "-u", torchserve.url, "--input-data", str(data_file),
              "--concurrency-range", "1:2", "--request-count", "30")
    assert run.code == 0, f"{run.stderr}\n--- TorchServe log ---\n{torchserve.log_tail()}"
    assert "Service Kind: TorchServe" in run.stdout
    assert _client_counts(run.stdout) == [30, 30]
    served = torchserve.received()[before:]
    assert len(served) == 60  # exactly what perfanalyzer counted: nothing lost, nothing extra
    # TorchServe's own count (its access log) agrees
    assert torchserve.wait_access_log_count(f"POST /predictions/{MODEL}", 200, logged_before + 60) == \
        logged_before + 60
    first = (data_file.parent / "kitten.jpg").read_bytes()
    assert served[:4] == [first, b"second body", first, b"second body"]  # concurrency 1 sends them in turn
    assert served.count(first) == 30 and served.count(b"second body") == 30


def test_version_in_the_path(torchserve: TorchServe, data_file: Path) -> None:
    """The archive's version is 1.0; /predictions/echo/1.0 reaches the same model."""
    before = len(torchserve.received())
    run = cli("-m", MODEL, "-x", "1.0", "--service-kind", "torchserve", "-u", f"http://{torchserve.url}",
              "--input-data", str(data_file), "--request-count", "10")
    assert run.code == 0, run.stderr
    assert len(torchserve.received()) - before == 10


def test_unknown_model_is_one_line(torchserve: TorchServe, data_file: Path) -> None:
    before = len(torchserve.received())
    run = cli("-m", "resnet", "--service-kind", "torchserve", "-u", torchserve.url, "--input-data", str(data_file),
              "-p", "300")
    assert run.code == 99, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "HTTP 404" in lines[0] and "ModelNotFoundException" in lines[0], run.stderr
    # the line docs/service_kinds.md shows, but for the request counts
    assert re.fullmatch(_documented("requests failed"), lines[0]), lines[0]
    assert len(torchserve.received()) == before
    assert torchserve.wait_access_log_count("POST /predictions/resnet", 404, 1) >= 1


def test_liveness_check_passes_on_the_real_server(torchserve: TorchServe, data_file: Path) -> None:
    """GET /ping before the load: TorchServe answers {"status": "Healthy"}."""
    logged = torchserve.access_log_count("GET /ping", 200)
    run = cli("-m", MODEL, "--service-kind", "torchserve", "-u", torchserve.url, "--input-data", str(data_file),
              "--request-count", "5")
    assert run.code == 0, run.stderr
    assert torchserve.wait_access_log_count("GET /ping", 200, logged + 1) == logged + 1


def _documented(needle: str) -> str:
    """The example line of docs/service_kinds.md that contains `needle`, as a
    pattern in which each request count may be any number."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "service_kinds.md").read_text()
    line = next(x.strip() for x in doc.splitlines() if x.startswith("    ") and needle in x)
    counts = re.compile(r"^(\d+) of (\d+) requests failed \((\d+) ")
    head = counts.match(line)
    assert head, line
    return r"\d+ of \d+ requests failed \(\d+ " + re.escape(line[head.end():])
