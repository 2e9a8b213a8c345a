"""Real input data against a real Triton: JSON files and directories, -b N
batching, JSON tensor bodies and request parameters; every kind of bad data
is one line on stderr, exit code 3, and not a single request sent."""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer.batching import request_tensors
from perfanalyzer.data_loader import load
from perfanalyzer.runner import profile
from perfanalyzer.services.triton_http import TritonHttpService
from perfanalyzer.settings import Settings

from .helpers import cli

LOOSE = ("-p", "500", "-s", "100", "-r", "20")


def write_json(path: Path, doc: object) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def identity_steps(n: int) -> list[dict]:
    return [{"INPUT0": [float(k * 100 + i) for i in range(16)]} for k in range(n)]


def post(triton, model: str, body: bytes, lines: list[str]) -> tuple[dict, bytes]:
    """Sends one encoded request; returns the response's JSON header and binary part."""
    headers = dict(line.split(": ", 1) for line in lines)
    req = urllib.request.Request(f"http://{triton.http_url}/v2/models/{model}/infer", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = resp.read()
        n = int(resp.headers.get("Inference-Header-Content-Length", len(data)))
    return json.loads(data[:n]), data[n:]


def model_counts(triton, model: str) -> tuple[int, int]:
    with urllib.request.urlopen(f"http://{triton.http_url}/v2/models/{model}/stats", timeout=30) as resp:
        stats = json.loads(resp.read())["model_stats"][0]["inference_stats"]
    return stats["success"]["count"], stats["fail"]["count"]


def encoded(triton, settings: Settings) -> list[tuple[bytes, list[str]]]:
    """The request bodies a run of these settings would send, in order."""
    svc = TritonHttpService(triton.http_url)
    try:
        spec = svc.model_spec(settings.model_name)
        data = load(settings, spec)
        return [svc.encode_request(spec, t, input_format=settings.input_tensor_format,
                                   output_format=settings.output_tensor_format,
                                   parameters=settings.request_parameter_map)
                for t in request_tensors(spec, data, settings.batch_size)]
    finally:
        svc.close()


# ---------------------------------------------------------------- real data reaches the model


def test_json_steps_batched_reach_the_model_in_order(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "d.json", {"data": identity_steps(3)})
    settings = Settings(model_name="identity", url=triton.http_url, batch_size=2, input_data_paths=(f,)).validate()
    bodies = encoded(triton, settings)
    assert len(bodies) == 3   # starts 0, 2, 1: then it repeats
    firsts = []
    for body, lines in bodies:
        header, raw = post(triton, "identity", body, lines)
        out = np.frombuffer(raw, dtype="<f4").reshape(header["outputs"][0]["shape"])
        assert out.shape == (2, 16)
        firsts.append(out[:, 0].tolist())
    assert firsts == [[0, 100], [200, 0], [100, 200]]


def test_json_tensor_format_both_ways_with_request_parameters(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "d.json", {"data": [{"INPUT0": [1.5] * 8 + [2.0] * 8, "INPUT1": [0.5] * 16}]})
    settings = Settings(model_name="add_sub", url=triton.http_url, input_data_paths=(f,),
                        input_tensor_format="json", output_tensor_format="json",
                        request_parameters=(("note", "hello", "string"), ("n", "3", "int"))).validate()
    ((body, lines),) = encoded(triton, settings)
    assert json.loads(body)["parameters"] == {"note": "hello", "n": 3}
    header, raw = post(triton, "add_sub", body, lines)
    assert raw == b""
    outs = {o["name"]: o["data"] for o in header["outputs"]}
    assert outs["OUTPUT0"] == [2.0] * 8 + [2.5] * 8 and outs["OUTPUT1"] == [1.0] * 8 + [1.5] * 8


def test_profile_with_json_data_and_validation_data(triton, tmp_path: Path) -> None:
    a, b = [float(i) for i in range(16)], [1.0] * 16
    f = write_json(tmp_path / "d.json", {
        "data": [{"INPUT0": a, "INPUT1": b}, {"INPUT0": b, "INPUT1": a}],
        "validation_data": [{"OUTPUT0": [x + 1 for x in a]}, {"OUTPUT1": [1 - x for x in a]}],
    })
    before = model_counts(triton, "add_sub")
    result = profile(Settings(model_name="add_sub", url=triton.http_url, input_data_paths=(f,),
                              measurement_interval_ms=500, stability_percentage=100, max_trials=20).validate())
    assert result.exit_code == 0, result.sweep.message
    success, fail = model_counts(triton, "add_sub")
    assert fail == before[1] and success - before[0] >= result.sweep.levels[0].merged.request_count


def test_cli_prints_the_read_line_and_profiles(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "d.json", {"data": identity_steps(3)})
    run = cli("-m", "identity", "-u", triton.http_url, "--input-data", f, "-b", "4", *LOOSE)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith(" Successfully read data for 1 stream/streams with 3 step/steps.\n"
                                 "*** Measurement Settings ***")
    assert "Batch size: 4" in run.stdout and "Throughput:" in run.stdout


def test_json_shapes_for_a_variable_input_need_no_shape_flag(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "d.json", {"data": [
        {"INPUT0": {"content": [1, 2, 3], "shape": [3]}},
        {"INPUT0": {"content": {"b64": base64.b64encode(np.ones(5, "<f4").tobytes()).decode()}, "shape": [5]}},
    ]})
    run = cli("-m", "identity_dynamic", "-u", triton.http_url, "--input-data", f, *LOOSE)
    assert run.code == 0, run.stderr
    settings = Settings(model_name="identity_dynamic", url=triton.http_url, input_data_paths=(f,)).validate()
    shapes = [post(triton, "identity_dynamic", *b)[0]["outputs"][0]["shape"] for b in encoded(triton, settings)]
    assert shapes == [[1, 3], [1, 5]]


def test_directory_data(triton, tmp_path: Path) -> None:
    (tmp_path / "INPUT0").write_bytes(np.arange(16, dtype="<f4").tobytes())
    run = cli("-m", "identity", "-u", triton.http_url, "--input-data", str(tmp_path), "-b", "2", *LOOSE)
    assert run.code == 0, run.stderr
    assert "Successfully read data" not in run.stdout   # perf_analyzer prints it for JSON only
    settings = Settings(model_name="identity", url=triton.http_url, input_data_paths=(str(tmp_path),),
                        batch_size=2).validate()
    ((body, lines),) = encoded(triton, settings)
    header, raw = post(triton, "identity", body, lines)
    assert np.frombuffer(raw, "<f4").reshape(2, 16)[1].tolist() == list(range(16))


def test_zero_data_and_json_bodies_through_the_cli(triton) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--input-data", "zero", "--input-tensor-format", "json",
              "--output-tensor-format", "json", "--request-parameter", "tag:x:string", *LOOSE)
    assert run.code == 0, run.stderr
    assert "Throughput:" in run.stdout


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"


READ = " Successfully read data for 1 stream/streams with {} step/steps."


@pytest.mark.parametrize("model, data, extra, read_line", [
    ("identity", "identity.json", ["-b", "3"], READ.format(4)),
    ("add_sub", "add_sub.json", [], READ.format(2)),
    ("identity_dynamic", "identity_dynamic.json", [], READ.format(2)),
    ("identity", "identity_dir", ["-b", "2"], None),
])
def test_shipped_examples_run(triton, model: str, data: str, extra: list[str], read_line: str | None) -> None:
    run = cli("-m", model, "-u", triton.http_url, "--input-data", str(EXAMPLES / data), *extra, *LOOSE)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines()[0] == (read_line or "*** Measurement Settings ***")


# ---------------------------------------------------------------- bad data: exit 3, one line, nothing sent

GOOD_STEP = {"INPUT0": [1.0] * 16}


def bad_cases(tmp_path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """name -> (extra CLI args, words the one error line must hold)."""
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"data": [\n  {"INPUT0": [1, 2,]}\n]}')
    empty_dir = tmp_path / "empty_dir"
    empty_dir.mkdir()
    cases = {
        "malformed": ([str(malformed)], [str(malformed), "malformed JSON at line 2, column 20"]),
        "unknown_input": ({"data": [{**GOOD_STEP, "INPUT9": [1.0]}]}, ["step 0", "no input named 'INPUT9'"]),
        "missing_input": ({"data": [GOOD_STEP, {}]}, ["step 1", "missing input 'INPUT0'"]),
        "element_count": ({"data": [GOOD_STEP, GOOD_STEP, {"INPUT0": [1.0] * 15}]},
                          ["step 2, input 'INPUT0'", "expected 16 elements for shape [16], got 15"]),
        "bad_b64": ({"data": [{"INPUT0": {"b64": "@@@"}}]}, ["step 0, input 'INPUT0'", "not valid base64"]),
        "negative_shape": ({"data": [{"INPUT0": {"content": [1.0] * 16, "shape": [-16]}}]},
                           ["input 'INPUT0'", '"shape" [-16] has a negative dimension']),
        "non_integer_shape": ({"data": [{"INPUT0": {"content": [1.0] * 16, "shape": [16.0]}}]},
                              ["input 'INPUT0'", '"shape" must be a list of integers']),
        "validation_not_aligned": ({"data": [GOOD_STEP, GOOD_STEP], "validation_data": [{"OUTPUT0": [1.0] * 16}]},
                                   ["The 'validation_data' field doesn't align with 'data' field in the json file",
                                    "2 steps in data, 1"]),
        "string_for_numeric": ({"data": [{"INPUT0": ["a"] * 16}]},
                               ["input 'INPUT0'", "element 0 is the string 'a'; a FP32 input takes numbers"]),
        "directory_missing_file": ([str(empty_dir)], [str(empty_dir), "no file for input 'INPUT0'"]),
        "different_shapes_in_batch": ([], []),  # filled below: needs the dynamic model
    }
    out = {}
    for name, (doc, words) in cases.items():
        if name == "different_shapes_in_batch":
            continue
        args = doc if isinstance(doc, list) else [write_json(tmp_path / f"{name}.json", doc)]
        out[name] = (["-m", "identity", "--input-data", *args], words)
    dyn = write_json(tmp_path / "dyn.json", {"data": [{"INPUT0": {"content": [1.0], "shape": [1]}},
                                                      {"INPUT0": {"content": [1.0, 2.0], "shape": [2]}}]})
    out["different_shapes_in_batch"] = (["-m", "identity_dynamic", "--input-data", dyn, "-b", "2"],
                                        ["can not batch tensors with different shapes together", "INPUT0"])
    return out


BAD = ["malformed", "unknown_input", "missing_input", "element_count", "bad_b64", "negative_shape",
       "non_integer_shape", "validation_not_aligned", "string_for_numeric", "directory_missing_file",
       "different_shapes_in_batch"]


@pytest.mark.parametrize("case", BAD)
def test_bad_data_exits_3_with_one_line_and_sends_nothing(triton, tmp_path: Path, case: str) -> None:
    args, words = bad_cases(tmp_path)[case]
    model = args[1]
    before = model_counts(triton, model)
    run = cli(*args, "-u", triton.http_url, *LOOSE)
    assert run.code == 3, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[0].startswith("error: --input-data ")
    for w in words:
        assert w in lines[0], lines[0]
    assert run.stdout == ""
    assert model_counts(triton, model) == before
