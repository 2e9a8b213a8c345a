"""The LoadSpec a Triton HTTP service prepares, against a stand-in control
plane on 127.0.0.1 (a real socket answering Triton's metadata and config):
plain and sequence models, the threads and sequencers, what sequences change
in the settings, validation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from perfanalyzer.cli import parse_args
from perfanalyzer.engine_threads import engine_threads
from perfanalyzer.services.base import LoadSpec
from perfanalyzer.services.factory import open_service

META = {"platform": "python", "inputs": [{"name": "X", "datatype": "INT32", "shape": [1]}],
        "outputs": [{"name": "Y", "datatype": "INT32", "shape": [1]}]}
DOCUMENTS = {
    "/v2/models/plain": META, "/v2/models/plain/config": {"max_batch_size": 0},
    "/v2/models/seq": META, "/v2/models/seq/config": {"max_batch_size": 0, "sequence_batching": {}},
}


class ControlPlane(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = DOCUMENTS.get(self.path, {})
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def url() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), ControlPlane)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def load_spec(argv: list[str]) -> LoadSpec:
    settings = parse_args(argv)
    service = open_service(settings, lambda text: None)
    try:
        service.check_ready()
        return service.load_spec(settings)
    finally:
        service.close()


def test_a_plain_model(url: str) -> None:
    argv = ["-m", "plain", "-u", url, "--concurrency-range", "1:4", "--max-threads", "2", "--input-data", "zero"]
    load = load_spec(argv)
    assert load.settings == parse_args(argv)
    assert (load.sequencer, load.validator, load.data_message) == (None, None, "")
    assert load.threads == engine_threads(parse_args(argv))
    [(body, headers)] = load.bodies  # type: ignore[misc]
    assert "Content-Type: application/octet-stream" in headers
    header_length = next(int(h.split(": ")[1]) for h in headers if h.startswith("Inference-Header-Content-Length"))
    assert json.loads(body[:header_length])["inputs"][0]["name"] == "X"
    assert load.export_inputs == {"X": 0}  # INT32: its first value, as perf_analyzer's export


def test_a_sequence_model_gets_a_sequencer_per_thread_and_caps_in_flight(url: str) -> None:
    argv = ["-m", "seq", "-u", url, "--request-rate-range", "100", "--serial-sequences",
            "--num-of-sequences", "3", "--max-threads", "2"]
    load = load_spec(argv)
    assert parse_args(argv).max_inflight != 3
    assert load.settings.max_inflight == 3  # serial sequences: no more in flight than sequences
    assert isinstance(load.sequencer, list) and len(load.sequencer) == load.threads >= 1
    body, _ = load.bodies[0]  # type: ignore[misc]
    assert b'"sequence_id":' in body and b'"sequence_start":false' in body


def test_validation_data_gives_a_validator(url: str, tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"X": [1]}, {"X": [2]}],
                                "validation_data": [{"Y": [1]}, {"Y": [2]}]}))
    load = load_spec(["-m", "plain", "-u", url, "--input-data", str(data)])
    assert load.validator is not None
    assert len(load.bodies) == 2
    assert load.data_message.startswith(" Successfully read data for 1 stream/streams with 2 step/steps")
