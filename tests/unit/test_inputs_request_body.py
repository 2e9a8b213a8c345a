"""The data flags (--input-data, --string-*, --*-tensor-format,
--request-parameter), the request bodies they make, and optional inputs from
the model config; a bad batch is refused before any request is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer import cli
from perfanalyzer.errors import OptionError
from perfanalyzer.flag_values import split_input_data
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.runner import profile
from perfanalyzer.services.triton_http import TritonHttpService
from perfanalyzer.settings import Settings

SPEC = ModelSpec(
    "m", "", "python", 8,
    (TensorSpec("X", "INT64", (2,)), TensorSpec("T", "BYTES", (1,)), TensorSpec("F", "BOOL", (1,)),
     TensorSpec("OPT", "FP32", (1,), optional=True)),
    (TensorSpec("Y", "FP32", (2,)),),
)
TENSORS = {"X": np.array([[1, 2]], dtype=np.int64), "T": np.array([[b"hi"]], dtype=object),
           "F": np.array([[True]])}


@pytest.fixture
def service() -> Iterator[TritonHttpService]:
    svc = TritonHttpService("127.0.0.1:1")
    yield svc
    svc.close()


def header_of(body: bytes, lines: list[str]) -> tuple[dict, dict]:
    headers = dict(line.split(": ", 1) for line in lines)
    n = int(headers.get("Inference-Header-Content-Length", len(body)))
    return headers, json.loads(body[:n])


# ---------------------------------------------------------------- request bodies


def test_json_input_format_is_a_pure_json_body(service):
    body, lines = service.encode_request(SPEC, TENSORS, input_format="json")
    headers, header = header_of(body, lines)
    assert headers["Content-Type"] == "application/json"
    assert "Inference-Header-Content-Length" not in headers
    assert json.loads(body) == header
    assert header["inputs"] == [
        {"name": "X", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]},
        {"name": "T", "shape": [1, 1], "datatype": "BYTES", "data": ["hi"]},
        {"name": "F", "shape": [1, 1], "datatype": "BOOL", "data": [True]},
    ]   # OPT is optional and absent: left out
    assert header["outputs"] == [{"name": "Y", "parameters": {"binary_data": True}}]


def test_json_output_format_and_request_parameters(service):
    params = {"max_tokens": 256, "mode": "fast", "stream": False}
    body, lines = service.encode_request(SPEC, TENSORS, output_format="json", parameters=params)
    headers, header = header_of(body, lines)
    assert headers["Content-Type"] == "application/octet-stream"
    assert header["outputs"] == [{"name": "Y", "parameters": {"binary_data": False}}]
    assert header["parameters"] == params
    assert [i["parameters"]["binary_data_size"] for i in header["inputs"]] == [16, 6, 1]
    n = int(headers["Inference-Header-Content-Length"])
    assert body[n:] == np.array([1, 2], "<i8").tobytes() + b"\x02\x00\x00\x00hi" + b"\x01"


@pytest.mark.parametrize("spec, tensors, kw, message", [
    (ModelSpec("m", "", "", 0, (TensorSpec("H", "FP16", (1,)),), ()), {"H": np.zeros(1, np.float16)},
     {"input_format": "json"}, "--input-tensor-format json: input 'H' is FP16, which Triton accepts only as binary"),
    (ModelSpec("m", "", "", 0, (TensorSpec("B", "BF16", (1,)),), ()), {"B": np.zeros(1, np.uint16)},
     {"input_format": "json"}, "--input-tensor-format json: input 'B' is BF16"),
    (ModelSpec("m", "", "", 0, (), (TensorSpec("H", "FP16", (1,)),)), {},
     {"output_format": "json"}, "--output-tensor-format json: output 'H' is FP16, which Triton returns only as binary"),
    (ModelSpec("m", "", "", 0, (TensorSpec("S", "BYTES", (1,)),), ()), {"S": np.array([b"\xff"], dtype=object)},
     {"input_format": "json"}, "--input-tensor-format json: input 'S': a BYTES element is not UTF-8 text"),
    (ModelSpec("m", "", "", 0, (TensorSpec("F", "FP32", (1,)),), ()), {"F": np.array([np.nan], np.float32)},
     {"input_format": "json"}, "--input-tensor-format json: input 'F': NaN or infinity"),
])
def test_what_a_json_body_cannot_carry(service, spec, tensors, kw, message):
    with pytest.raises(OptionError) as e:
        service.encode_request(spec, tensors, **kw)
    assert str(e.value).startswith(message) and e.value.exit_code == 3


# ---------------------------------------------------------------- flags


def test_data_flags_parse_into_settings(tmp_path: Path):
    f = tmp_path / "d.json"
    f.write_text("{}")
    s = cli.parse_args(["-m", "m", "--input-data", str(f), "--input-data", str(f),
                        "--string-length", "7", "--string-data", "abc", "--input-tensor-format", "JSON",
                        "--output-tensor-format", "json", "--request-parameter", "max_tokens:256:int",
                        "--request-parameter", "url:http://x:9:string", "--request-parameter", "on:TRUE:Bool"])
    assert s.input_data == "random" and s.input_data_paths == (str(f), str(f))
    assert s.string_length == 7 and s.string_data == "abc"
    assert s.input_tensor_format == "json" and s.output_tensor_format == "json"
    assert s.request_parameters == (("max_tokens", "256", "int"), ("url", "http://x:9", "string"),
                                    ("on", "TRUE", "bool"))
    assert s.request_parameter_map == {"max_tokens": 256, "url": "http://x:9", "on": True}
    d = cli.parse_args(["-m", "m"])
    assert (d.input_data, d.input_data_paths, d.string_length, d.string_data) == ("random", (), 128, "")
    assert d.input_tensor_format == d.output_tensor_format == "binary" and d.request_parameter_map == {}


def test_an_existing_path_wins_over_the_words(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert split_input_data(["zero", "random"]) == ("zero", ())
    (tmp_path / "zero").mkdir()
    assert split_input_data(["zero"]) == ("random", ("zero",))


@pytest.mark.parametrize("argv, message", [
    (["--input-data", "nope.json"], "Failed to parse --input-data. Unsupported type provided: 'nope.json'. The "
     "available options are 'zero', 'random', path to a directory, or a json file. (no such file or directory)"),
    (["--string-length", "0"], "Failed to parse --string-length. The value must be > 0 (got 0)"),
    (["--input-tensor-format", "xml"], "Failed to parse --input-tensor-format. Unsupported type provided: 'xml'. The "
     "available options are 'binary' or 'json'."),
    (["--output-tensor-format", "b"], "Failed to parse --output-tensor-format. Unsupported type provided: 'b'. The "
     "available options are 'binary' or 'json'."),
    (["--request-parameter", "a:1"], "Failed to parse --request-parameter. The value does not match "
     "<name:value:type>. (got 'a:1'; type int, string, bool)"),
    (["--request-parameter", ":1:int"], "Failed to parse --request-parameter. The value does not match "
     "<name:value:type>. (got ':1:int'; type int, string, bool)"),
    (["--request-parameter", "n:x:int"], "--request-parameter n: 'x' is not an int"),
    (["--request-parameter", "n:yes:bool"], "--request-parameter n: 'yes' is not a bool (true or false)"),
    (["--request-parameter", "n:1:float"], "--request-parameter n: unsupported type 'float' (supported: int, string, "
     "bool)"),
])
def test_bad_data_flags_exit_3_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["-m", "m", *argv]) == 3
    out, err = capsys.readouterr()
    assert out == "" and err == f"error: {message}\n"


def test_directory_cannot_be_mixed_with_files(tmp_path: Path):
    f = tmp_path / "d.json"
    f.write_text("{}")
    with pytest.raises(OptionError, match="a directory of input files can not be combined with other --input-data"):
        Settings(model_name="m", input_data_paths=(str(tmp_path), str(f))).validate()
    with pytest.raises(OptionError, match="Failed to parse --input-data. Unsupported type provided: 'ones'"):
        Settings(model_name="m", input_data="ones").validate()


# ---------------------------------------------------------------- against a stand-in server

CONFIG = {"max_batch_size": 4, "input": [{"name": "X", "optional": False}, {"name": "OPT", "optional": True}]}
META = {"platform": "python", "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 1]},
                                         {"name": "OPT", "datatype": "FP32", "shape": [-1, 1]}],
        "outputs": [{"name": "Y", "datatype": "FP32", "shape": [-1, 1]}]}


class ControlPlane(BaseHTTPRequestHandler):
    """Answers Triton's health, metadata and config GETs; counts inference POSTs."""

    posts = 0

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = {"/v2/models/m": META, "/v2/models/m/config": CONFIG}.get(self.path, {})
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        type(self).posts += 1
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def stand_in() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), ControlPlane)
    ControlPlane.posts = 0
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_optional_comes_from_the_model_config(stand_in):
    svc = TritonHttpService(stand_in)
    try:
        spec = svc.model_spec("m")
    finally:
        svc.close()
    assert [(t.name, t.dims, t.optional) for t in spec.inputs] == [("X", (1,), False), ("OPT", (1,), True)]


def test_mixed_optional_batch_is_refused_before_any_request(stand_in, tmp_path: Path):
    f = tmp_path / "d.json"
    f.write_text(json.dumps({"data": [{"X": [1.0], "OPT": [2.0]}, {"X": [3.0]}]}))
    settings = Settings(model_name="m", url=stand_in, batch_size=2, input_data_paths=(str(f),)).validate()
    with pytest.raises(OptionError, match="You cannot use different set of optional inputs"):
        profile(settings)
    assert ControlPlane.posts == 0
